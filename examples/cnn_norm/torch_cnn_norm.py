#!/usr/bin/python3
"""cnn_norm in PyTorch: the same experiment as build/bin/cnn_norm, to check
normlab's accuracies against PyTorch's and to time the runs and sweeps in both.

Same data (Fashion-MNIST read by torch_mlp_norm.py's read_idx/find/load: x/255
standardized with the training pixels' scalar mean and std, as images
(n, 1, 28, 28)), same model (models::CNN: Conv2d 3x3 -> norm -> ReLU ->
MaxPool2d for 32, 64, 128 channels, no pool after the last, then
AdaptiveAvgPool2d(1) -> Flatten -> Linear(128, 10); the norm none, batch,
group, instance, layer, batch_renorm or weight; PyTorch's default init, which
normlab's layers copy), same loss (cross-entropy), optimizer (SGD with
momentum), learning rate (--lr, or --base-lr x batch / 32), drop_last batches,
--noniid batches of two classes, Batch Renormalization's r_max/d_max schedule,
and evaluation. The batch order comes from numpy's default_rng(seed), so it
differs from normlab's: runs agree in distribution (accuracy within seed
noise), not bit for bit. Flags and the JSON lines on stdout are cnn_norm's.

With --init-from DIR (normlab's initial state dict as <key>.npy, PyTorch's
names, and order.npy, the training-set indices of every step, int64
(steps, batch size) — as written by cnn_norm with the same --norm, --seed,
--batch-size, --epochs, --limit and --noniid) the run starts from normlab's
weights and takes normlab's batches: the two trainings are then the same
computation up to float32 rounding, and their losses can be compared step by
step (--out writes steps.csv).

    /usr/bin/python3 examples/cnn_norm/torch_cnn_norm.py --norm group --limit 6000
    /usr/bin/python3 examples/cnn_norm/torch_cnn_norm.py --norm batch_renorm --batch-size 8 --noniid
    /usr/bin/python3 examples/cnn_norm/torch_cnn_norm.py --sweep --seeds 3 --threads 2
    /usr/bin/python3 examples/cnn_norm/torch_cnn_norm.py --sweep --noniid --sweep-norms batch,group --sweep-batches 8,128
    build/bin/cnn_norm --norm weight --limit 2000 --save-init /tmp/init && \\
        /usr/bin/python3 examples/cnn_norm/torch_cnn_norm.py --norm weight --limit 2000 --init-from /tmp/init --out /tmp/torch
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mlp_norm"))
from torch_mlp_norm import BatchRenorm, finish_run, load, renorm_limits, set_renorm_limits  # noqa: E402  (defines only)

NORMS = ["none", "batch", "group", "instance", "layer", "batch_renorm", "weight"]
SWEEP_NORMS = "none,batch,group,layer,instance,batch_renorm,weight"
SWEEP_BATCHES = "128,32,16,8,4,2"
NONIID_SWEEP_NORMS = "batch,batch_renorm,group,layer"
NONIID_SWEEP_BATCHES = "128,32,8"
CHANNELS = (32, 64, 128)


def make_norm(norm, c, size, groups):
    if norm == "batch":
        return nn.BatchNorm2d(c)
    if norm == "group":
        return nn.GroupNorm(groups, c)
    if norm == "instance":
        return nn.InstanceNorm2d(c, affine=True)
    if norm == "layer":
        return nn.LayerNorm([c, size, size])
    if norm == "batch_renorm":
        return BatchRenorm(c)
    return None  # none, weight


def make_cnn(norm, in_channels=1, image_size=28, channels=CHANNELS, classes=10, groups=8):
    """models::CNN as an nn.Sequential numbered as normlab's children (0.weight, 1.running_mean, ...)."""
    if norm == "group" and any(c % groups for c in channels):
        sys.exit(f"--groups {groups} must divide every block's channels {list(channels)}")
    layers, cin, size = [], in_channels, image_size
    for b, c in enumerate(channels):
        n = make_norm(norm, c, size, groups)
        layers.append(nn.Conv2d(cin, c, 3, padding=1, bias=n is None))  # a norm's shift replaces the bias
        if n is not None:
            layers.append(n)
        layers.append(nn.ReLU())
        if b + 1 < len(channels):
            layers.append(nn.MaxPool2d(2))
            size //= 2
        cin = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes)]
    if norm == "weight":  # w = g · v / ‖v‖, one g per output (dim 0): weight_g, weight_v
        layers = [nn.utils.weight_norm(m) if isinstance(m, (nn.Conv2d, nn.Linear)) else m for m in layers]
    return nn.Sequential(*layers)


def noniid_epoch(labels, classes, batch_size, rng):
    """One epoch of batches of two classes each: the classes randomly permuted
    and paired, each pair's classes (each shuffled) cut into batch_size/2 from
    each (as many batches as the smaller class allows), then all batches shuffled."""
    half = batch_size // 2
    perm = rng.permutation(classes)
    batches = []
    for a, b in zip(perm[0::2], perm[1::2]):  # an odd class out (odd number of classes) sits the epoch out
        ia = rng.permutation(np.flatnonzero(labels == a))
        ib = rng.permutation(np.flatnonzero(labels == b))
        for j in range(min(len(ia), len(ib)) // half):
            batches.append(np.concatenate([ia[j * half:(j + 1) * half], ib[j * half:(j + 1) * half]]))
    if not batches:
        return np.zeros((0, batch_size), dtype=np.int64)
    return np.stack(batches)[rng.permutation(len(batches))]


def make_order(cfg, labels, classes, batch_size, seed):
    """(order, epochs): the training-set indices of every step, (steps, batch_size),
    and each step's epoch (0-based)."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    orders, epochs = [], []
    for epoch in range(cfg.epochs):
        if cfg.noniid:
            o = noniid_epoch(labels, classes, batch_size, rng)
        else:
            steps = n // batch_size  # drop_last
            o = rng.permutation(n)[:steps * batch_size].reshape(steps, batch_size)
        orders.append(o)
        epochs += [epoch] * len(o)
    order = np.concatenate(orders).astype(np.int64)
    if len(order) == 0:
        sys.exit(f"{n} training samples make no full batch of {batch_size}"
                 + (" (--noniid: batch_size/2 from each class of a pair)" if cfg.noniid else ""))
    return order, np.array(epochs, dtype=np.int64)


def load_init(model, directory, batch_size, n):
    """Loads DIR/<key>.npy into the model (keys without a file are skipped, and
    named on stderr unless num_batches_tracked) and returns DIR/order.npy."""
    state, missing = {}, []
    for key, t in model.state_dict().items():
        path = os.path.join(directory, key + ".npy")
        if not os.path.isfile(path):
            if not key.endswith("num_batches_tracked"):
                missing.append(key)
            continue
        a = np.load(path)
        if a.size != t.numel():
            sys.exit(f"{path}: shape {a.shape}, but {key} has shape {tuple(t.shape)}")
        state[key] = torch.from_numpy(np.ascontiguousarray(a)).reshape(t.shape).to(t.dtype)
    if not state:
        sys.exit(f"{directory}: no <key>.npy file for any key of this model ({', '.join(model.state_dict())}) — another --norm?")
    if missing:
        print(f"warning: {directory} has no file for {', '.join(missing)}: kept PyTorch's initial values",
              file=sys.stderr)
    unknown = sorted(f for f in os.listdir(directory)
                     if f.endswith(".npy") and f != "order.npy" and f[:-4] not in model.state_dict())
    if unknown:
        print(f"warning: {directory} has files for no key of this model: {', '.join(unknown)}", file=sys.stderr)
    model.load_state_dict(state, strict=False)
    path = os.path.join(directory, "order.npy")
    if not os.path.isfile(path):
        sys.exit(f"{path}: missing (the training-set indices of every step)")
    order = np.load(path).astype(np.int64)
    if order.ndim != 2 or order.shape[1] != batch_size or len(order) == 0:
        sys.exit(f"{path} has shape {order.shape}, expected (steps, {batch_size})")
    if order.min() < 0 or order.max() >= n:
        sys.exit(f"{path}: indices outside [0, {n}) — another --limit?")
    return order


def learning_rate(cfg, batch_size):
    return cfg.lr if cfg.lr is not None else cfg.base_lr * batch_size / 32  # the linear scaling rule


def train_run(cfg, data, norm, batch_size, lr, seed, out=""):
    train_x, train_y, test_x, test_y, classes = data
    torch.manual_seed(seed)
    model = make_cnn(norm, train_x.shape[1], train_x.shape[2], CHANNELS, classes, cfg.groups)
    if cfg.init_from:  # normlab's initial weights and batch order
        order = load_init(model, cfg.init_from, batch_size, len(train_y))
        if not cfg.noniid and len(order) != cfg.epochs * (len(train_y) // batch_size):
            sys.exit(f"{cfg.init_from}/order.npy has {len(order)} steps, expected --epochs {cfg.epochs} x "
                     f"{len(train_y) // batch_size} (--limit, --batch-size or --noniid differ?)")
        epochs = np.arange(len(order)) * cfg.epochs // len(order)  # exact when the epochs have equal steps
    else:
        order, epochs = make_order(cfg, train_y.numpy(), classes, batch_size, seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=cfg.momentum)
    total = len(order)
    order = torch.from_numpy(order)
    losses, rows, diverged = [], [], False
    start = time.perf_counter()
    model.train()
    for s in range(1, total + 1):
        if norm == "batch_renorm":
            set_renorm_limits(model, *renorm_limits(s, total))
        idx = order[s - 1]
        opt.zero_grad()
        loss = F.cross_entropy(model(train_x[idx]), train_y[idx])
        loss.backward()
        opt.step()
        value = loss.item()
        losses.append(value)
        rows.append(f"{s},{epochs[s - 1]},{value:.6g}")
        if not math.isfinite(value):
            diverged = True
            break
    test_loss, test_acc, train_loss, seconds = finish_run(model, test_x, test_y, losses, start)

    def finite(v):
        return v if not diverged and math.isfinite(v) else None
    result = {"norm": norm, "batch_size": batch_size, "epochs": cfg.epochs, "lr": lr, "momentum": cfg.momentum,
              "seed": seed, "noniid": cfg.noniid, "steps": len(losses), "train_samples": len(train_y),
              "test_samples": len(test_y), "threads": torch.get_num_threads(), "test_acc": test_acc,
              "test_loss": finite(test_loss), "train_loss": finite(train_loss), "diverged": diverged,
              "seconds": seconds}
    if out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "steps.csv"), "w") as f:
            f.write("step,epoch,loss\n" + "".join(r + "\n" for r in rows))
        with open(os.path.join(out, "result.json"), "w") as f:
            f.write(json.dumps(result) + "\n")
    return result


def mean_std(values):
    if not values:
        return None, None
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return mean, std


def sweep_lists(cfg):
    """The sweep's norms and batch sizes (--sweep-norms, --sweep-batches or the defaults), checked."""
    norms = [s.strip() for s in (cfg.sweep_norms or (NONIID_SWEEP_NORMS if cfg.noniid else SWEEP_NORMS)).split(",")]
    batches = (cfg.sweep_batches or (NONIID_SWEEP_BATCHES if cfg.noniid else SWEEP_BATCHES)).split(",")
    for norm in norms:
        if norm not in NORMS:
            sys.exit(f"--sweep-norms: {norm!r} is none of {', '.join(NORMS)}")
    for b in batches:
        if not b.strip().isdigit() or int(b) <= 0 or (cfg.noniid and int(b) % 2):
            sys.exit(f"--sweep-batches: {b!r} is not a positive{' even' if cfg.noniid else ''} batch size")
    if cfg.lr is not None:  # as cnn_norm, which refuses it too
        sys.exit("--sweep takes each run's lr by the rule --base-lr x batch / 32: drop --lr")
    return norms, [int(b) for b in batches]


def sweep(cfg, data):
    norms, batches = sweep_lists(cfg)
    start = time.perf_counter()
    runs = []
    for seed in range(cfg.seed, cfg.seed + cfg.seeds):
        for norm in norms:
            for b in batches:
                out = os.path.join(cfg.out, f"{norm}_b{b}_seed{seed}") if cfg.out else ""
                runs.append(train_run(cfg, data, norm, b, learning_rate(cfg, b), seed, out))
                print(json.dumps(runs[-1]), flush=True)
    summary = []
    for norm in norms:
        for b in batches:
            mine = [r for r in runs if r["norm"] == norm and r["batch_size"] == b]
            acc_mean, acc_std = mean_std([r["test_acc"] for r in mine])
            loss_mean, _ = mean_std([r["train_loss"] for r in mine if r["train_loss"] is not None])
            summary.append({"norm": norm, "batch_size": b, "lr": learning_rate(cfg, b), "seeds": len(mine),
                            "test_acc_mean": acc_mean, "test_acc_std": acc_std, "train_loss_mean": loss_mean,
                            "seconds_mean": mean_std([r["seconds"] for r in mine])[0]})
    final = {"sweep": summary, "runs": len(runs), "seconds": time.perf_counter() - start}
    if cfg.out:
        with open(os.path.join(cfg.out, "sweep.json"), "w") as f:
            f.write(json.dumps(final) + "\n")
    print(json.dumps(final), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--norm", default="batch", choices=NORMS)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--lr", type=float, default=None, help="default: --base-lr x batch size / 32")
    p.add_argument("--base-lr", type=float, default=0.02)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--groups", type=int, default=8, help="group: GroupNorm's groups")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--noniid", action="store_true", help="each batch holds samples of 2 classes only")
    p.add_argument("--sweep", action="store_true")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--sweep-norms", default="", help=f"default {SWEEP_NORMS}; --noniid: {NONIID_SWEEP_NORMS}")
    p.add_argument("--sweep-batches", default="", help=f"default {SWEEP_BATCHES}; --noniid: {NONIID_SWEEP_BATCHES}")
    p.add_argument("--init-from", default="", help="directory with cnn_norm's initial state dict and order.npy")
    p.add_argument("--out", default="", help="directory for steps.csv and result.json (default: none)")
    cfg = p.parse_args()
    if cfg.init_from and cfg.sweep:
        sys.exit("--init-from is for a single run, not --sweep")
    if cfg.epochs <= 0 or cfg.seeds <= 0:
        sys.exit("--epochs and --seeds must be positive")
    if not cfg.sweep and (cfg.batch_size <= 0 or (cfg.noniid and cfg.batch_size % 2)):
        sys.exit(f"--batch-size {cfg.batch_size}: must be positive{' and even with --noniid' if cfg.noniid else ''}")
    if cfg.sweep:
        sweep_lists(cfg)  # refuse bad lists before loading the data
    torch.set_num_threads(cfg.threads)

    start = time.perf_counter()
    train_x, train_y, test_x, test_y, classes = load(cfg.data, cfg.limit)
    side = math.isqrt(train_x.shape[1])
    if side * side != train_x.shape[1]:
        sys.exit(f"{cfg.data}: images of {train_x.shape[1]} pixels are not square")
    data = (train_x.view(-1, 1, side, side), train_y, test_x.view(-1, 1, side, side), test_y, classes)
    print(f"{cfg.data}: {len(train_y)} training / {len(test_y)} test images ({time.perf_counter() - start:.1f} s)",
          file=sys.stderr)
    if cfg.sweep:
        sweep(cfg, data)
        return
    result = train_run(cfg, data, cfg.norm, cfg.batch_size, learning_rate(cfg, cfg.batch_size), cfg.seed, cfg.out)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
