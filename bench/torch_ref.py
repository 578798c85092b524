#!/usr/bin/python3
"""The PyTorch side of bench/compare: the workloads of normlab-bench, same
names, same configurations, same timing rule, same output format:

    <name> <median milliseconds> ms

Run with Debian's python3-torch (/usr/bin/python3):

    /usr/bin/python3 bench/torch_ref.py [name-regex] [--threads 2] [--min-time 1.0]
    /usr/bin/python3 bench/torch_ref.py --memory gpt   # peak resident memory of a few steps

Timing (as bench/harness.cpp): warm-up runs (at least 3 and 0.3 s) are not
timed; then timed runs until at least --min-runs runs and --min-time seconds
(at most 2000); the median is printed.
"""
import argparse
import re
import resource
import statistics
import sys
import time

import torch
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
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(96, 64)
        self.lstm = nn.LSTM(64, 256)
        self.head = nn.Linear(256, 96)

    def forward(self, tokens):  # (T, B) -> (T·B, 96)
        h, _ = self.lstm(self.embed(tokens))
        return self.head(h).reshape(-1, 96)


def lstm_lm():
    model = LanguageModel()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    tokens = torch.randint(0, 96, (64, 32))
    targets = torch.randint(0, 96, (64 * 32,))
    return training_step(model, optimizer, lambda: F.cross_entropy(model(tokens), targets))


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


def gpt():
    model = GPT()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    tokens = torch.randint(0, 96, (32, 64))
    targets = torch.randint(0, 96, (32 * 64,))
    return training_step(model, optimizer, lambda: F.cross_entropy(model(tokens), targets))


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
] + [(f"mlp_step_{norm}_b{batch}", mlp(norm, batch)) for batch in (128, 4) for norm in ("none", "ln", "bn")] + [
    ("lstm_lm_step_h256_t64_b32", lstm_lm),
    ("gpt_step_d128_L4_t64_b32", gpt),
    ("tiny_op_chain_1000", tiny_op_chain),
    ("conv2d_fwd_bwd_n32_c64_h28_k3",
     lambda: forward_backward(nn.Conv2d(64, 64, 3, padding=1), (32, 64, 28, 28), (32, 64, 28, 28))),
] + [(f"cnn_step_{norm}_b128", cnn(norm, 128)) for norm in ("none", "bn", "gn")] + [
    ("cnn_step_bn_b4", cnn("bn", 4)),
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
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    matched = 0
    for name, setup in WORKLOADS:
        if not re.search(args.filter, name):
            continue
        matched += 1
        torch.manual_seed(0)
        run = setup()
        if args.memory:
            before = current_rss_mb()
            for _ in range(args.steps):
                run()
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{name} peak_rss_mb {peak:.1f} before_first_step_mb {before:.1f} steps {args.steps}", flush=True)
            continue
        print(f"{name} {time_median_ms(run, args.min_time, args.min_runs):.4f} ms", flush=True)
    if matched == 0:
        print(f"torch_ref.py: no workload matches \"{args.filter}\"", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
