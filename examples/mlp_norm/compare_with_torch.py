#!/usr/bin/python3
"""Compares an mlp_norm sweep with torch_mlp_norm.py's on the same configs:
test accuracy mean ± std over the seeds in each, the difference of the means,
its standard error sqrt(s1²/n1 + s2²/n2) and the difference in those units
(|z| < 2: within seed noise), as a Markdown table.

    build/bin/mlp_norm --sweep --seeds 10 --out results/sweep
    /usr/bin/python3 examples/mlp_norm/torch_mlp_norm.py --sweep --seeds 10 > torch_sweep.jsonl
    /usr/bin/python3 examples/mlp_norm/compare_with_torch.py results/sweep/results.csv torch_sweep.jsonl
"""
import csv
import json
import math
import sys


def spread(values):
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return mean, std, len(values)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    ours, theirs = {}, {}
    with open(sys.argv[1]) as f:
        for row in csv.DictReader(f):
            ours.setdefault((row["norm"], int(row["batch_size"])), []).append(float(row["test_acc"]))
    with open(sys.argv[2]) as f:
        for line in f:
            if line.startswith("{"):
                run = json.loads(line)
                if "test_acc" in run:
                    theirs.setdefault((run["norm"], run["batch_size"]), []).append(run["test_acc"])
    print("| norm | batch | normlab test acc | PyTorch test acc | difference | std. error | difference / std. error |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for key in ours:
        if key not in theirs:
            continue
        m1, s1, n1 = spread(ours[key])
        m2, s2, n2 = spread(theirs[key])
        se = math.sqrt(s1 ** 2 / n1 + s2 ** 2 / n2)
        z = (m1 - m2) / se if se > 0 else float("nan")
        print(f"| {key[0]} | {key[1]} | {m1:.4f} ± {s1:.4f} (n={n1}) | {m2:.4f} ± {s2:.4f} (n={n2}) | "
              f"{m1 - m2:+.4f} | {se:.4f} | {z:+.1f} |")


if __name__ == "__main__":
    main()
