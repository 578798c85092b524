#!/usr/bin/python3
"""The PyTorch side of bench/compare: the workloads of normlab-bench, same
names, same configurations, same timing rule, same output format:

    <name> <median milliseconds> ms

Run with Debian's python3-torch (/usr/bin/python3):

    /usr/bin/python3 bench/torch_ref.py [name-regex] [--threads 2] [--min-time 1.0]
    /usr/bin/python3 bench/torch_ref.py --memory gpt   # peak resident memory of a few steps
    /usr/bin/python3 bench/torch_ref.py --sweep        # the scaling sweeps' points (sweep_*)

Timing (as bench/harness.cpp): warm-up runs (at least 3 and 0.3 s) are not
timed; then timed runs until at least --min-runs runs and --min-time seconds
(at most 2000); the median is printed.

The normalized LSTMs (charlm_step_*) have two twins, the hand-written cell in
eager mode and under TorchScript; each is timed and printed as
"<name>/eager <ms> ms" and "<name>/torchscript <ms> ms", then the faster as
"<name> <ms> ms", the workload's time (--variant times one alone; with
--memory, only the first, eager unless --variant says otherwise).
"""
import argparse
import re
import resource
import statistics
import sys
import time

try:
    import torch
except ImportError:
    sys.exit(f"torch_ref.py: {sys.executable} has no PyTorch; on Debian: apt-get install python3-torch python3-numpy")
import torch.nn as nn
import torch.nn.functional as F


# ---- the workloads: each setup() returns a function doing one run -------------------

def forward_backward(layer, in_shape, out_shape):
    x = torch.randn(*in_shape, requires_grad=True)
    dy = torch.randn(*out_shape)

    def run():
        layer.zero_grad(set_to_none=True)
        x.grad = None
        layer(x).backward(dy)
    return run


def norm_forward_backward(norm, shape=(8192, 512)):
    return forward_backward(norm, shape, shape)


def layernorm_forward():
    norm = nn.LayerNorm(512)
    x = torch.randn(8192, 512)

    def run():
        with torch.no_grad():
            norm(x)
    return run


def training_step(model, optimizer, loss_fn):
    def run():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        optimizer.step()
    return run


def mlp(norm, batch):
    def setup():
        layers = []
        sizes = [784, 256, 256, 10]
        for i in range(3):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i == 2:
                break
            if norm == "ln":
                layers.append(nn.LayerNorm(sizes[i + 1]))
            elif norm == "bn":
                layers.append(nn.BatchNorm1d(sizes[i + 1]))
            layers.append(nn.ReLU())
        model = nn.Sequential(*layers)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        x = torch.randn(batch, 784)
        y = torch.randint(0, 10, (batch,))
        return training_step(model, optimizer, lambda: F.cross_entropy(model(x), y))
    return setup


class LanguageModel(nn.Module):
    def __init__(self, hidden=256):
        super().__init__()
        self.embed = nn.Embedding(96, 64)
        self.lstm = nn.LSTM(64, hidden)
        self.head = nn.Linear(hidden, 96)

    def forward(self, tokens):  # (T, B) -> (T·B, 96)
        h, _ = self.lstm(self.embed(tokens))
        return self.head(h).reshape(-1, 96)


def lstm_lm(hidden=256):
    model = LanguageModel(hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    tokens = torch.randint(0, 96, (64, 32))
    targets = torch.randint(0, 96, (64 * 32,))
    return training_step(model, optimizer, lambda: F.cross_entropy(model(tokens), targets))


# The normalized LSTMs of layers/lstm.h. PyTorch has no normalized LSTM, so
# the twin is the cell written by hand, as PyTorch users do (the model:
# PyTorch's benchmarks/fastrnns/custom_lstms.py, LayerNormLSTMCell), with the
# input projection of all steps hoisted into one GEMM as normlab does (and for
# the LN cell its LayerNorm too: LN is per row). Gates [i | f | g | o];
# c = σ(f)·c + σ(i)·tanh(g), h = σ(o)·tanh(norm(c)). Weights U(−1/√H, 1/√H)
# as nn.LSTM's; parameters, their shapes and initial values as normlab's.

class LayerNormLSTM(nn.Module):
    """LN-LSTM (Ba, Kiros & Hinton 2016): a = LN_ih(W_ih·x_t) + LN_hh(W_hh·h),
    each LayerNorm over the 4H pre-activations with its own affine (their
    biases are the gate biases; no separate bias), h = σ(o)·tanh(LN_c(c))."""

    def __init__(self, input_size: int, hidden_size: int, eps: float = 1e-5):
        super().__init__()
        k = hidden_size ** -0.5
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size).uniform_(-k, k))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size).uniform_(-k, k))
        self.ln_ih = nn.LayerNorm(4 * hidden_size, eps=eps)
        self.ln_hh = nn.LayerNorm(4 * hidden_size, eps=eps)
        self.ln_c = nn.LayerNorm(hidden_size, eps=eps)

    def forward(self, x):  # (T, N, I) -> (T, N, H)
        # all steps: one GEMM, one LayerNorm; unbind, not x_proj[t] (select's backward would
        # write a zero-filled (T, N, 4H) gradient per step)
        x_steps = self.ln_ih(F.linear(x, self.weight_ih)).unbind(0)
        h = torch.zeros(x.size(1), self.hidden_size, dtype=x.dtype)
        c = torch.zeros(x.size(1), self.hidden_size, dtype=x.dtype)
        outputs = []
        for t in range(len(x_steps)):
            gates = x_steps[t] + self.ln_hh(torch.mm(h, self.weight_hh.t()))
            i, f, g, o = gates.chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(self.ln_c(c))
            outputs.append(h)
        return torch.stack(outputs)


class BatchNormLSTM(nn.Module):
    """BN-LSTM (Cooijmans et al. 2016): a = BN_t(W_ih·x_t) + BN_t(W_hh·h) + b,
    h = σ(o)·tanh(BN_t(c)). As the paper and normlab: each BatchNorm keeps
    statistics per time step t < max_steps (running ones in buffers of
    (max_steps, C)), while its gain (init 0.1) is shared across steps; BN_ih
    and BN_hh have no bias (the single gate bias b, init 0, plays that role),
    BN_c has one (init 0)."""

    def __init__(self, input_size: int, hidden_size: int, max_steps: int = 256, eps: float = 1e-5,
                 momentum: float = 0.1):
        super().__init__()
        k = hidden_size ** -0.5
        G, H = 4 * hidden_size, hidden_size
        self.hidden_size, self.max_steps, self.eps, self.momentum = hidden_size, max_steps, eps, momentum
        self.weight_ih = nn.Parameter(torch.empty(G, input_size).uniform_(-k, k))
        self.weight_hh = nn.Parameter(torch.empty(G, H).uniform_(-k, k))
        self.bias = nn.Parameter(torch.zeros(G))
        self.bn_ih_weight = nn.Parameter(torch.full((G,), 0.1))
        self.bn_hh_weight = nn.Parameter(torch.full((G,), 0.1))
        self.bn_c_weight = nn.Parameter(torch.full((H,), 0.1))
        self.bn_c_bias = nn.Parameter(torch.zeros(H))
        for name, C in (("ih", G), ("hh", G), ("c", H)):
            self.register_buffer(f"bn_{name}_running_mean", torch.zeros(max_steps, C))
            self.register_buffer(f"bn_{name}_running_var", torch.ones(max_steps, C))

    def forward(self, x):  # (T, N, I) -> (T, N, H)
        x_steps = F.linear(x, self.weight_ih).unbind(0)  # all steps: one GEMM (unbind: as in the LN cell)
        h = torch.zeros(x.size(1), self.hidden_size, dtype=x.dtype)
        c = torch.zeros(x.size(1), self.hidden_size, dtype=x.dtype)
        outputs = []
        for t in range(len(x_steps)):
            s = min(t, self.max_steps - 1)  # step t's statistics (the last slot beyond max_steps)
            gates = (F.batch_norm(x_steps[t], self.bn_ih_running_mean[s], self.bn_ih_running_var[s],
                                  self.bn_ih_weight, None, self.training, self.momentum, self.eps) +
                     F.batch_norm(torch.mm(h, self.weight_hh.t()), self.bn_hh_running_mean[s],
                                  self.bn_hh_running_var[s], self.bn_hh_weight, None, self.training, self.momentum,
                                  self.eps) + self.bias)
            i, f, g, o = gates.chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            c_normalized = F.batch_norm(c, self.bn_c_running_mean[s], self.bn_c_running_var[s], self.bn_c_weight,
                                        self.bn_c_bias, self.training, self.momentum, self.eps)
            h = torch.sigmoid(o) * torch.tanh(c_normalized)
            outputs.append(h)
        return torch.stack(outputs)


class CharLM(nn.Module):
    """LanguageModel with a hand-written normalized LSTM (scripted or not)."""

    def __init__(self, lstm):
        super().__init__()
        self.embed = nn.Embedding(96, 64)
        self.lstm = lstm
        self.head = nn.Linear(256, 96)

    def forward(self, tokens):  # (T, B) -> (T·B, 96)
        return self.head(self.lstm(self.embed(tokens))).reshape(-1, 96)


def charlm(cell):
    """Two twins, {variant: setup}: the cell loop in eager mode, and under
    TorchScript (torch.jit.script of the LSTM layer, the loop included)."""
    def setup(script):
        def build():
            lstm = (LayerNormLSTM if cell == "ln" else BatchNormLSTM)(64, 256)
            model = CharLM(torch.jit.script(lstm) if script else lstm)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            tokens = torch.randint(0, 96, (64, 32))
            targets = torch.randint(0, 96, (64 * 32,))
            return training_step(model, optimizer, lambda: F.cross_entropy(model(tokens), targets))
        return build
    return {"eager": setup(False), "torchscript": setup(True)}


class GPT(nn.Module):
    def __init__(self, vocab=96, d=128, heads=4, layers=4, ff=512, seq=64):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab, d)
        self.pos_emb = nn.Embedding(seq, d)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, activation="gelu", batch_first=True,
                                       norm_first=True) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)
        self.register_buffer("positions", torch.arange(seq))
        # additive causal mask: 0 on and below the diagonal, -inf above
        self.register_buffer("mask", torch.triu(torch.full((seq, seq), float("-inf")), diagonal=1))
        self.vocab = vocab

    def forward(self, tokens):  # (B, T) -> (B·T, vocab)
        x = self.tok_emb(tokens) + self.pos_emb(self.positions)
        for block in self.blocks:
            x = block(x, src_mask=self.mask)
        return self.head(self.ln_f(x)).reshape(-1, self.vocab)


def gpt(d=128, heads=4, ff=512, seq=64, batch=32):
    model = GPT(d=d, heads=heads, ff=ff, seq=seq)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    tokens = torch.randint(0, 96, (batch, seq))
    targets = torch.randint(0, 96, (batch * seq,))
    return training_step(model, optimizer, lambda: F.cross_entropy(model(tokens), targets))


def gpt_linears(d=128, layers=4, ff=512, rows=2048, vocab=96):
    """gpt_linears_d128_L4_t64_b32: the GPT step's linear layers' products alone,
    as nn.Linear and its backward run them: y = bias + x·Wᵀ (addmm), dx = dy·W,
    dW = dyᵀ·x, into preallocated outputs."""
    shapes = [(d, 3 * d), (d, d), (d, ff), (ff, d)] * layers + [(d, vocab)]
    linears = [dict(x=torch.randn(rows, i), w=torch.randn(o, i), b=torch.randn(o), y=torch.empty(rows, o),
                    dy=torch.randn(rows, o), dx=torch.empty(rows, i), dw=torch.empty(o, i)) for i, o in shapes]

    def run():
        with torch.no_grad():
            for l in linears:
                torch.addmm(l["b"], l["x"], l["w"].t(), out=l["y"])
            for l in reversed(linears):
                torch.mm(l["dy"], l["w"], out=l["dx"])
                torch.mm(l["dy"].t(), l["x"], out=l["dw"])
    return run


def gpt_attention(d=128, heads=4, layers=4, seq=64, batch=32):
    """gpt_attention_d128_L4_t64_b32: the GPT step's causal self-attention cores
    alone, as nn.MultiheadAttention's math runs them in PyTorch 1.13: per
    layer, the packed qkv split into heads, softmax(q·kᵀ/√dh + causal mask)·v,
    the heads merged; forward and backward."""
    qkv = [torch.randn(batch, seq, 3 * d, requires_grad=True) for _ in range(layers)]
    dout = [torch.randn(batch, seq, d) for _ in range(layers)]
    mask = torch.triu(torch.full((seq, seq), float("-inf")), diagonal=1)
    dh = d // heads

    def run():
        for x, g in zip(qkv, dout):
            x.grad = None
            q, k, v = (t.reshape(batch, seq, heads, dh).transpose(1, 2) for t in x.split(d, dim=2))
            weights = torch.softmax(q @ k.transpose(-2, -1) / dh ** 0.5 + mask, dim=-1)
            (weights @ v).transpose(1, 2).reshape(batch, seq, d).backward(g)
    return run


def lstm_products(steps=64, batch=32, embed=64, hidden=256, vocab=96):
    """lstm_products_h256_t64_b32: the plain LSTM step's matrix products alone,
    as PyTorch's LSTM and nn.Linear run them: the input projection and the head
    (addmm, then dx = dy·W and dW = dyᵀ·x), the per-step h·W_hhᵀ and dp·W_hh
    (mm), and dW_hh = Σ dpᵀ·h (one mm over all steps), into preallocated outputs."""
    rows, gates = steps * batch, 4 * hidden
    projection, head = [dict(x=torch.randn(rows, i), w=torch.randn(o, i), b=torch.randn(o), y=torch.empty(rows, o),
                             dy=torch.randn(rows, o), dx=torch.empty(rows, i), dw=torch.empty(o, i))
                        for i, o in ((embed, gates), (hidden, vocab))]
    h, p = torch.randn(steps + 1, batch, hidden), torch.empty(steps, batch, gates)
    dp, dh = torch.randn(steps, batch, gates), torch.empty(batch, hidden)
    w_hh, dw_hh = torch.randn(gates, hidden), torch.empty(gates, hidden)

    def linear_backward(l):
        torch.mm(l["dy"], l["w"], out=l["dx"])
        torch.mm(l["dy"].t(), l["x"], out=l["dw"])

    def run():
        with torch.no_grad():
            torch.addmm(projection["b"], projection["x"], projection["w"].t(), out=projection["y"])
            for t in range(steps):
                torch.mm(h[t], w_hh.t(), out=p[t])
            torch.addmm(head["b"], head["x"], head["w"].t(), out=head["y"])
            linear_backward(head)
            for t in reversed(range(steps)):
                torch.mm(dp[t], w_hh, out=dh)
            torch.mm(dp.reshape(rows, gates).t(), h[:steps].reshape(rows, hidden), out=dw_hh)
            linear_backward(projection)
    return run


class CNN(nn.Sequential):
    """models::CNN with the default CNNConfig: per block of C channels
    Conv2d(prev, C, 3, padding=1, bias only without a norm) -> norm -> ReLU ->
    MaxPool2d(2) (not after the last block), then AdaptiveAvgPool2d(1) ->
    Flatten -> Linear(128, 10); numbered as models/cnn.cpp numbers them."""

    def __init__(self, norm, channels=(32, 64, 128), in_channels=1, classes=10, groups=8):
        layers = []
        prev = in_channels
        for b, c in enumerate(channels):
            layers.append(nn.Conv2d(prev, c, 3, padding=1, bias=(norm == "none")))
            if norm == "bn":
                layers.append(nn.BatchNorm2d(c))
            elif norm == "gn":
                layers.append(nn.GroupNorm(groups, c))
            layers.append(nn.ReLU())
            if b + 1 < len(channels):
                layers.append(nn.MaxPool2d(2))
            prev = c
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(prev, classes)]
        super().__init__(*layers)


def cnn(norm, batch):
    def setup():
        model = CNN(norm)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        x = torch.randn(batch, 1, 28, 28)
        y = torch.randint(0, 10, (batch,))
        return training_step(model, optimizer, lambda: F.cross_entropy(model(x), y))
    return setup


def lstm_cell(steps=64, batch=32, hidden=256):
    """The LSTM cell's arithmetic of one lstm_lm step alone: from the gate
    pre-activations (T, N, 4H) through the cell to h, and back."""
    pre = torch.randn(steps, batch, 4 * hidden, requires_grad=True)
    dy = torch.randn(steps, batch, hidden)

    def run():
        pre.grad = None
        c, outputs = torch.zeros(batch, hidden), []
        for t in range(steps):
            i, f, g, o = pre[t].chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            outputs.append(torch.sigmoid(o) * torch.tanh(c))
        torch.stack(outputs).backward(dy)
    return run


def tiny_op_chain():
    a = torch.randn(64, requires_grad=True)
    b = torch.randn(64)

    def run():
        a.grad = None
        y = a
        for _ in range(1000):
            y = y + b
        y.sum().backward()
    return run


WORKLOADS = [
    ("layernorm_fwd_bwd_8192x512", lambda: norm_forward_backward(nn.LayerNorm(512))),
    ("layernorm_fwd_8192x512", layernorm_forward),
    ("batchnorm_fwd_bwd_8192x512", lambda: norm_forward_backward(nn.BatchNorm1d(512))),
    ("batchnorm2d_fwd_bwd_n32_c64_h28", lambda: norm_forward_backward(nn.BatchNorm2d(64), (32, 64, 28, 28))),
    ("groupnorm_fwd_bwd_n32_c64_h28", lambda: norm_forward_backward(nn.GroupNorm(8, 64), (32, 64, 28, 28))),
    ("gelu_fwd_bwd_8192x512", lambda: forward_backward(nn.GELU(), (8192, 512), (8192, 512))),
] + [(f"mlp_step_{norm}_b{batch}", mlp(norm, batch)) for batch in (128, 4) for norm in ("none", "ln", "bn")] + [
    ("lstm_lm_step_h256_t64_b32", lambda: lstm_lm()),
    ("lstm_products_h256_t64_b32", lstm_products),
    ("lstm_cell_h256_t64_b32", lstm_cell),
    ("charlm_step_lnlstm_h256_t64_b32", charlm("ln")),
    ("charlm_step_bnlstm_h256_t64_b32", charlm("bn")),
    ("gpt_step_d128_L4_t64_b32", lambda: gpt()),
    ("gpt_linears_d128_L4_t64_b32", gpt_linears),
    ("gpt_attention_d128_L4_t64_b32", gpt_attention),
    ("tiny_op_chain_1000", tiny_op_chain),
    ("conv2d_fwd_bwd_n32_c64_h28_k3",
     lambda: forward_backward(nn.Conv2d(64, 64, 3, padding=1), (32, 64, 28, 28), (32, 64, 28, 28))),
] + [(f"cnn_step_{norm}_b128", cnn(norm, 128)) for norm in ("none", "bn", "gn")] + [
    ("cnn_step_bn_b4", cnn("bn", 4)),
]


# The scaling sweeps (normlab-bench --sweep; bench/workloads/{norms,gpt,lstm}.cpp
# say why these points): LayerNorm from L1 to far beyond L3; the GPT step along
# T at d 128 and along d at T 64 (heads of 32, FF 4d, 2048 tokens); the plain
# LSTM step along hidden.
def gpt_point(seq, d):
    return (f"sweep_gpt_step_t{seq}_d{d}", lambda: gpt(d=d, heads=d // 32, ff=4 * d, seq=seq, batch=2048 // seq))


SWEEP_WORKLOADS = [
    (f"sweep_layernorm_fwd_bwd_{rows}x{features}",
     lambda rows=rows, features=features: norm_forward_backward(nn.LayerNorm(features), (rows, features)))
    for rows, features in ((64, 64), (256, 128), (1024, 256), (2048, 512), (8192, 512), (8192, 1024), (16384, 1024))
] + [gpt_point(seq, 128) for seq in (64, 128, 256, 512)] + [gpt_point(64, d) for d in (64, 256, 512)] + [
    (f"sweep_lstm_step_h{hidden}", lambda hidden=hidden: lstm_lm(hidden)) for hidden in (64, 128, 256, 512, 1024)
]


# ---- timing -------------------------------------------------------------------------

def time_median_ms(run, min_seconds, min_runs, warmup_seconds=0.3, warmup_runs=3, max_runs=2000):
    start = time.perf_counter()
    i = 0
    while i < warmup_runs or time.perf_counter() - start < warmup_seconds:
        run()
        i += 1
    samples = []
    start = time.perf_counter()
    while len(samples) < max_runs and (len(samples) < min_runs or time.perf_counter() - start < min_seconds):
        t = time.perf_counter()
        run()
        samples.append((time.perf_counter() - t) * 1e3)
    return statistics.median(samples)


def current_rss_mb():
    with open("/proc/self/statm") as f:
        resident = int(f.read().split()[1])
    return resident * resource.getpagesize() / 2**20


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("filter", nargs="?", default="", help="only workloads whose name matches this regex")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-time", type=float, default=1.0)
    parser.add_argument("--min-runs", type=int, default=10)
    parser.add_argument("--memory", action="store_true", help="peak resident memory over --steps runs")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--sweep", action="store_true",
                        help="the points of the scaling sweeps (names sweep_*) instead of the fixed workloads")
    parser.add_argument("--variant", choices=["eager", "torchscript"],
                        help="workloads with several twins (the normalized LSTMs): only this one")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    matched = 0
    for name, setup in SWEEP_WORKLOADS if args.sweep else WORKLOADS:
        if not re.search(args.filter, name):
            continue
        matched += 1
        # a workload with several twins ({variant: setup}) is timed in each; the faster is its time
        variants = setup if isinstance(setup, dict) else {None: setup}
        if args.variant:
            variants = {k: v for k, v in variants.items() if k in (None, args.variant)}
        best = None
        for variant, variant_setup in variants.items():
            torch.manual_seed(0)
            run = variant_setup()
            label = name if variant is None else f"{name}/{variant}"
            if args.memory:
                before = current_rss_mb()
                for _ in range(args.steps):
                    run()
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(f"{label} peak_rss_mb {peak:.1f} before_first_step_mb {before:.1f} steps {args.steps}",
                      flush=True)
                break  # the peak is the process's: one twin per process (--variant picks which)
            ms = time_median_ms(run, args.min_time, args.min_runs)
            if variant is not None:
                print(f"{label} {ms:.4f} ms", flush=True)
            best = ms if best is None else min(best, ms)
        if not args.memory and best is not None:
            print(f"{name} {best:.4f} ms", flush=True)
    if matched == 0:
        print(f"torch_ref.py: no workload matches \"{args.filter}\"", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
