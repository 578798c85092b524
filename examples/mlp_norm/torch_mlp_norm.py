#!/usr/bin/python3
"""mlp_norm in PyTorch: the same experiment as build/bin/mlp_norm, to check
normlab's accuracies against PyTorch's and to time the sweep in both.

Same data (the IDX .gz files read with gzip + numpy, x/255 standardized with
the training pixels' scalar mean and std), same model (Linear 784-256-256-10,
norm before each ReLU, PyTorch's default init — which normlab's Linear copies),
same loss, optimizer, batch size, learning rate, drop_last batching and
evaluation. The batch order is a numpy permutation per epoch, so it differs
from normlab's: runs agree in distribution (accuracy within seed noise), not
bit for bit. Flags and the JSON lines on stdout are mlp_norm's.

With --init-from DIR (written by `mlp_norm --save-init DIR` with the same
--norm, --seed, --epochs and --limit) the run starts from normlab's initial
weights and takes normlab's batch order: the two trainings are then the same
computation up to float32 rounding, and their losses can be compared step by step.

    /usr/bin/python3 examples/mlp_norm/torch_mlp_norm.py --norm layer --limit 6000
    /usr/bin/python3 examples/mlp_norm/torch_mlp_norm.py --sweep --seeds 3 --threads 2
    build/bin/mlp_norm --norm batch --save-init /tmp/init && \
        /usr/bin/python3 examples/mlp_norm/torch_mlp_norm.py --norm batch --init-from /tmp/init
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SWEEP = [("none", 128, 0.05), ("batch", 128, 0.05), ("layer", 128, 0.05), ("renorm", 128, 0.05),
         ("none", 4, 0.0125), ("batch", 4, 0.0125), ("layer", 4, 0.0125), ("renorm", 4, 0.0125)]


def read_idx(path):
    """An unsigned-byte IDX file (plain or gzip) as a numpy array, checked."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        sys.exit(f"{path}: not an unsigned-byte IDX file")
    k = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(k)]
    if len(raw) != 4 + 4 * k + math.prod(dims):
        sys.exit(f"{path}: the header declares dims {dims} but the data has {len(raw) - 4 - 4 * k} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * k).reshape(dims)


def find(directory, split, kind):
    rank = "idx3" if kind == "images" else "idx1"
    for sep in "-.":
        for suffix in (".gz", ""):
            path = os.path.join(directory, f"{split}-{kind}{sep}{rank}-ubyte{suffix}")
            if os.path.isfile(path):
                return path
    sys.exit(f"no {split} {kind} file in {directory}")


def load(directory, limit):
    """(train_x, train_y, test_x, test_y, num_classes), as mlp_norm's load_mnist."""
    split = {s: (read_idx(find(directory, s, "images")), read_idx(find(directory, s, "labels")))
             for s in ("train", "t10k")}
    num_classes = int(max(split["train"][1].max(), split["t10k"][1].max())) + 1
    n_train = limit if limit > 0 else len(split["train"][1])
    n_test = (limit + 5) // 6 if limit > 0 else len(split["t10k"][1])
    train_images = split["train"][0][:n_train].reshape(n_train, -1).astype(np.float64) / 255
    mean, std = train_images.mean(), train_images.std()  # one scalar each, population std

    def standardize(images, n):
        return torch.from_numpy(((images[:n].reshape(len(images[:n]), -1) / 255 - mean) / std).astype(np.float32))
    return (standardize(split["train"][0], n_train), torch.from_numpy(split["train"][1][:n_train].astype(np.int64)),
            standardize(split["t10k"][0], n_test), torch.from_numpy(split["t10k"][1][:n_test].astype(np.int64)),
            num_classes)


def make_mlp(norm, inputs, hidden, classes):
    layers, width = [], inputs
    for _ in range(2):
        layers.append(nn.Linear(width, hidden))
        if norm == "batch":
            layers.append(nn.BatchNorm1d(hidden))
        elif norm == "layer":
            layers.append(nn.LayerNorm(hidden))
        elif norm == "rms":
            layers.append(RMSNorm(hidden))
        elif norm == "renorm":
            layers.append(BatchRenorm(hidden))
        layers.append(nn.ReLU())
        width = hidden
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


class RMSNorm(nn.Module):
    """torch 1.13 has no nn.RMSNorm: y = x / sqrt(mean(x²) + eps) · weight (eps: float32's epsilon, as normlab)."""
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + torch.finfo(x.dtype).eps) * self.weight


class BatchRenorm(nn.Module):
    """Batch Renormalization (Ioffe 2017) on (N, C, *), as normlab's layers::BatchRenorm1d/2d
    (core/ops/batch_renorm.cpp): in training, per channel,
      r = clip(σ_B / σ, 1/r_max, r_max),  d = clip((μ_B − μ) / σ, −d_max, d_max)
    from the batch's mean and biased std and the running statistics before this
    step, both constants (no gradient); y = ((x − μ_B)/σ_B · r + d) · w + b.
    That is BatchNorm in training with the weight w·r and the bias w·d + b, which
    is how it runs here (F.batch_norm, as normlab's composed reference): the
    running statistics move as BatchNorm's (momentum, unbiased variance). Eval:
    BatchNorm with the running statistics. r_max = 1, d_max = 0 is BatchNorm.
    State dict as nn.BatchNorm1d/2d's (weight, bias, running_mean, running_var,
    num_batches_tracked)."""

    def __init__(self, c, r_max=1.0, d_max=0.0, momentum=0.1, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.register_buffer("running_mean", torch.zeros(c))
        self.register_buffer("running_var", torch.ones(c))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        self.r_max, self.d_max, self.momentum, self.eps = r_max, d_max, momentum, eps

    def forward(self, x):
        if not self.training:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        with torch.no_grad():
            var, mean = torch.var_mean(x, dim=[0] + list(range(2, x.dim())), unbiased=False)
            sigma = torch.sqrt(self.running_var + self.eps)
            r = (torch.sqrt(var + self.eps) / sigma).clamp(1 / self.r_max, self.r_max)
            d = ((mean - self.running_mean) / sigma).clamp(-self.d_max, self.d_max)
            self.num_batches_tracked.add_(1)
        # F.batch_norm updates running_mean/var in place after normalizing with the batch's statistics
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight * r, self.weight * d + self.bias,
                            True, self.momentum, self.eps)

    def extra_repr(self):
        return f"{self.weight.numel()}, r_max={self.r_max}, d_max={self.d_max}"


def set_renorm_limits(model, r_max, d_max):
    for m in model.modules():
        if isinstance(m, BatchRenorm):
            m.r_max, m.d_max = r_max, d_max


def renorm_limits(step, total_steps):
    """r_max and d_max before step `step` (1-based) of total_steps: 1 and 0 for
    the first 4% of the run, then linearly to 3 at 31% and to 5 at 19%."""
    f = (step - 1) / total_steps
    return (1 + 2 * min(max((f - 0.04) / 0.27, 0.0), 1.0), 5 * min(max((f - 0.04) / 0.15, 0.0), 1.0))


def evaluate(model, x, y):
    """Test loss and accuracy in eval mode, in chunks of 1000 rows, as the C++ programs."""
    model.eval()
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for b in range(0, len(y), 1000):
            logits = model(x[b:b + 1000])
            loss_sum += F.cross_entropy(logits, y[b:b + 1000], reduction="sum").item()
            correct += (logits.argmax(1) == y[b:b + 1000]).sum().item()
    return loss_sum / len(y), correct / len(y)


def finish_run(model, test_x, test_y, losses, start):
    """What every run reports at its end: test loss and accuracy (evaluate), the
    train loss (mean of the last 10% of the step losses) and the seconds since
    start (training and evaluation)."""
    test_loss, test_acc = evaluate(model, test_x, test_y)
    seconds = time.perf_counter() - start
    tail = max(1, len(losses) // 10)
    return test_loss, test_acc, sum(losses[-tail:]) / tail, seconds


def train_run(cfg, data, norm, batch_size, lr, seed):
    train_x, train_y, test_x, test_y, classes = data
    torch.manual_seed(seed)
    model = make_mlp(norm, train_x.shape[1], cfg.hidden, classes)
    orders = None
    if cfg.init_from:  # normlab's initial weights and batch order (mlp_norm --save-init)
        state = {name: torch.from_numpy(np.load(os.path.join(cfg.init_from, name + ".npy")))
                 for name in model.state_dict()}
        model.load_state_dict(state)
        orders = np.load(os.path.join(cfg.init_from, "order.npy"))
        if orders.shape != (cfg.epochs, len(train_y)):
            sys.exit(f"{cfg.init_from}/order.npy has shape {orders.shape}, expected ({cfg.epochs}, {len(train_y)})")
    if cfg.optim == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=cfg.momentum)
    rng = np.random.default_rng(seed)
    n = len(train_y)
    steps_per_epoch = n // batch_size  # drop_last, as mlp_norm
    if steps_per_epoch == 0:
        sys.exit(f"{n} training samples make no full batch of {batch_size}")
    losses, diverged = [], False
    start = time.perf_counter()
    for epoch in range(cfg.epochs):
        order = torch.from_numpy(orders[epoch] if orders is not None else rng.permutation(n))
        for b in range(steps_per_epoch):
            idx = order[b * batch_size:(b + 1) * batch_size]
            if norm == "renorm":  # Ioffe's schedule over the run, as mlp_norm
                set_renorm_limits(model, *renorm_limits(len(losses) + 1, cfg.epochs * steps_per_epoch))
            opt.zero_grad()
            loss = F.cross_entropy(model(train_x[idx]), train_y[idx])
            loss.backward()
            opt.step()
            value = loss.item()
            losses.append(value)
            if not math.isfinite(value):
                diverged = True
                break
        if diverged:
            break
    test_loss, test_acc, train_loss, seconds = finish_run(model, test_x, test_y, losses, start)

    def finite(v):
        return v if math.isfinite(v) else None
    return {"norm": norm, "batch_size": batch_size, "epochs": cfg.epochs, "lr": lr, "optim": cfg.optim,
            "momentum": cfg.momentum, "seed": seed, "hidden": cfg.hidden, "steps": len(losses),
            "train_samples": n, "test_samples": len(test_y), "threads": torch.get_num_threads(),
            "test_acc": test_acc, "test_loss": finite(test_loss),
            "train_loss": finite(train_loss), "diverged": diverged, "seconds": seconds, "framework": "pytorch"}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--norm", default="layer", choices=["none", "batch", "layer", "rms", "renorm"])
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--optim", default="sgd", choices=["sgd", "adam"])
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sweep", action="store_true")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--init-from", default="", help="directory written by mlp_norm --save-init")
    cfg = p.parse_args()
    if cfg.init_from and cfg.sweep:
        sys.exit("--init-from is for a single run, not --sweep")
    torch.set_num_threads(cfg.threads)

    start = time.perf_counter()
    data = load(cfg.data, cfg.limit)
    print(f"{cfg.data}: {len(data[1])} training / {len(data[3])} test images ({time.perf_counter() - start:.1f} s)",
          file=sys.stderr)
    if not cfg.sweep:
        print(json.dumps(train_run(cfg, data, cfg.norm, cfg.batch_size, cfg.lr, cfg.seed)))
        return
    runs = []
    for s in range(cfg.seeds):
        for norm, batch_size, lr in SWEEP:
            runs.append(train_run(cfg, data, norm, batch_size, lr, cfg.seed + s))
            print(json.dumps(runs[-1]), flush=True)
    summary = []
    for norm, batch_size, lr in SWEEP:
        acc = [r["test_acc"] for r in runs if r["norm"] == norm and r["batch_size"] == batch_size]
        mean = sum(acc) / len(acc)
        std = math.sqrt(sum((a - mean) ** 2 for a in acc) / (len(acc) - 1)) if len(acc) > 1 else 0.0
        summary.append({"norm": norm, "batch_size": batch_size, "lr": lr, "seeds": len(acc),
                        "test_acc_mean": mean, "test_acc_std": std})
    print(json.dumps({"sweep": summary, "runs": len(runs), "seconds": time.perf_counter() - start,
                      "framework": "pytorch"}))


if __name__ == "__main__":
    main()
