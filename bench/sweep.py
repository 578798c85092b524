"""bench/compare --sweep: how cost grows with size, normlab and PyTorch side by side.

The points are normlab-bench --sweep's workloads (bench/workloads/norms.cpp,
gpt.cpp and lstm.cpp say what each is) and torch_ref.py --sweep's twins:

    LayerNorm forward + backward   rows x features from 64x64 (16 KB, in L1) to 16384x1024 (64 MB)
    GPT step along T               T in {64, 128, 256, 512} at d 128 (2048 tokens each)
    GPT step along d               d in {64, 128, 256, 512} at T 64
    plain LSTM step along hidden   hidden in {64, 128, 256, 512, 1024}

Each point runs in normlab, then in PyTorch, right after each other (with
--rounds R, alternating R times, medians compared), next to a fresh measure
of its limit: the STREAM triad for LayerNorm (GB/s of the bytes that must
move), sgemm for the models (GFLOP/s of the matmul FLOPs). The target at every
point: normlab no slower than PyTorch.

Written to --out (default results/bench_sweep/): sweep.csv, sweep.json and sweep.png
(gnuplot: one panel per curve, rates against size with the limit drawn, and
the cache sizes of this machine on the LayerNorm panel). --replot draws the
table and the picture again from sweep.json without measuring.
"""
import json
import os
import re
import statistics
import subprocess
import sys

from runner import limits, list_work, loadavg, print_table, timings

# (curve, title, name pattern, x from the match, x label)
CURVES = [
    ("layernorm", "LayerNorm forward + backward", r"^sweep_layernorm_fwd_bwd_(\d+)x(\d+)$",
     lambda m: int(m[1]) * int(m[2]) * 4, "bytes of x (rows x features x 4)"),
    ("gpt_T", "GPT step along T (d 128, 2048 tokens)", r"^sweep_gpt_step_t(\d+)_d128$", lambda m: int(m[1]), "T"),
    ("gpt_d", "GPT step along d (T 64, 32 sequences)", r"^sweep_gpt_step_t64_d(\d+)$", lambda m: int(m[1]), "d"),
    ("lstm", "plain LSTM step along hidden (T 64, batch 32)", r"^sweep_lstm_step_h(\d+)$", lambda m: int(m[1]),
     "hidden"),
]


def cache_sizes():
    """[(label, bytes)] of this CPU's data caches, from /sys (L1d and L2 per core, L3 shared)."""
    out, base = [], "/sys/devices/system/cpu/cpu0/cache"
    for index in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        path = os.path.join(base, index)
        if not index.startswith("index"):
            continue
        read = lambda f: open(os.path.join(path, f)).read().strip()
        if read("type") == "Instruction":
            continue
        size = read("size")
        factor = {"K": 1 << 10, "M": 1 << 20}.get(size[-1], 1)
        out.append((f"L{read('level')}", int(size.rstrip("KM")) * factor))
    return out


def measure(args, bench, torch_ref, common, work):
    """{name: point} for every listed sweep workload, run as bench/compare runs its rows
    (common: the timing flags both programs get)."""
    points = {}
    for name, (nbytes, flops) in work.items():
        ours, theirs, limit = [], [], []
        exact = f"^{re.escape(name)}$"
        for _ in range(args.rounds):
            if nbytes:
                limit.append(limits(bench, "--bandwidth", args.threads)["stream_triad_gbs"])
            else:
                limit.append(limits(bench, "--sgemm", args.threads)["sgemm_gflops"])
            ours.append(timings([bench, "--sweep", exact] + common)[name])
            theirs.append(timings(torch_ref + ["--sweep", exact] + common)[name])
        a, b = statistics.median(ours), statistics.median(theirs)
        amount, unit = (nbytes, "GB/s") if nbytes else (flops, "GFLOP/s")
        point = {"normlab_ms": a, "pytorch_ms": b, "ratio": a / b, "unit": unit,
                 "normlab_rate": amount / (a * 1e-3) / 1e9, "pytorch_rate": amount / (b * 1e-3) / 1e9,
                 "limit": statistics.median(limit)}
        point["normlab_fraction"] = point["normlab_rate"] / point["limit"]
        point["pass"] = point["ratio"] <= 1.0
        points[name] = point
        print(f"  {name}: normlab {a:.3f} ms, PyTorch {b:.3f} ms, ratio {a / b:.3f}, "
              f"{point['normlab_rate']:.1f} {unit} ({point['normlab_fraction']:.0%} of {point['limit']:.1f})",
              file=sys.stderr)
    return points


def rows_by_curve(points):
    """[(curve, title, x label, [(x, name, point)])] in CURVES order; a point may be on two curves."""
    out = []
    for curve, title, pattern, x_of, x_label in CURVES:
        members = sorted((x_of(m), name, p) for name, p in points.items() if (m := re.match(pattern, name)))
        if members:
            out.append((curve, title, x_label, members))
    return out


def write_files(out_dir, curves, meta):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "sweep.csv"), "w") as f:
        f.write("curve,x,workload,normlab_ms,pytorch_ms,ratio,unit,normlab_rate,pytorch_rate,limit,"
                "normlab_fraction,pass\n")
        for curve, _, _, members in curves:
            for x, name, p in members:
                f.write(f"{curve},{x},{name},{p['normlab_ms']:.4f},{p['pytorch_ms']:.4f},{p['ratio']:.4f},"
                        f"{p['unit']},{p['normlab_rate']:.3f},{p['pytorch_rate']:.3f},{p['limit']:.3f},"
                        f"{p['normlab_fraction']:.4f},{int(p['pass'])}\n")
    with open(os.path.join(out_dir, "sweep.json"), "w") as f:
        json.dump({**meta, "curves": {c: [{"x": x, "workload": n, **p} for x, n, p in m] for c, _, _, m in curves}},
                  f, indent=2)
        f.write("\n")


def binary_size(n):
    """16384 -> '16 KB', 1048576 -> '1 MB'."""
    return f"{n >> 20} MB" if n >= 1 << 20 else f"{n >> 10} KB"


def plot(out_dir, curves, caches):
    """sweep.png: a 2x2 gnuplot multiplot of sweep.csv, one panel per curve."""
    panels = []
    for curve, title, x_label, members in curves:
        unit = members[0][2]["unit"]
        limit = statistics.median(p["limit"] for _, _, p in members)
        limit_name = "triad" if unit == "GB/s" else "sgemm"
        top = 1.3 * max([limit] + [max(p["normlab_rate"], p["pytorch_rate"]) for _, _, p in members])
        data = f"'< grep \"^{curve},\" sweep.csv'"
        lines = [f"set title \"{title}\"", f"set xlabel \"{x_label}\"", f"set ylabel \"{unit}\"",
                 "set logscale x 2", f"set yrange [0:{top:.1f}]", "unset arrow", "unset label"]
        if curve == "layernorm":  # a tick at every other point (they crowd at the top end)
            ticks = ", ".join(f"'{binary_size(x)}' {x}" for x, _, _ in members[::-2])
            lines.append(f"set xtics ({ticks})")
            for label, size in caches:
                lines.append(f"set arrow from {size},graph 0 to {size},graph 0.8 nohead dt 3 lc rgb 'gray40'")
                lines.append(f"set label '{label}' at {size},graph 0.8 offset -1,0.7 tc rgb 'gray40'")
        else:
            lines.append("set xtics autofreq")
            lines.append("set format x '%g'")
        lines.append(f"plot {data} using 2:8 with linespoints pt 7 lw 2 lc rgb '#1f77b4' title 'normlab', "
                     f"{data} using 2:9 with linespoints pt 5 lw 2 lc rgb '#d62728' title 'PyTorch', "
                     f"{limit} with lines dt 2 lw 1.5 lc rgb 'black' title '{limit_name} {limit:.0f} {unit}'")
        panels.append("\n".join(lines))
    script = "\n".join([
        "set terminal pngcairo size 1400,1000 font ',11'", "set output 'sweep.png'", "set datafile separator ','",
        "set key top left horizontal samplen 2", "set offsets graph 0.04, graph 0.04, 0, 0", "set grid", f"set multiplot layout 2,2 title 'normlab and PyTorch as the work "
        f"grows (rates; dashed: the limit measured next to each point, median)'"] + panels + ["unset multiplot"])
    with open(os.path.join(out_dir, "sweep.gp"), "w") as f:
        f.write(script + "\n")
    subprocess.run(["gnuplot", "sweep.gp"], cwd=out_dir, check=True)


def print_sweep_table(curves, markdown):
    header = ["curve", "x", "normlab ms", "PyTorch ms", "ratio", "result", "normlab", "PyTorch", "of limit", "limit"]
    rows = [[curve, str(x), f"{p['normlab_ms']:.3f}", f"{p['pytorch_ms']:.3f}", f"{p['ratio']:.3f}",
             "pass" if p["pass"] else "FAIL", f"{p['normlab_rate']:.1f} {p['unit']}",
             f"{p['pytorch_rate']:.1f} {p['unit']}", f"{p['normlab_fraction']:.0%}", f"{p['limit']:.1f} {p['unit']}"]
            for curve, _, _, members in curves for x, _, p in members]
    print_table(header, rows, markdown)


def main(args, bench, torch_ref, common):
    if args.replot:  # the table and the picture again from --out/sweep.json, nothing measured
        saved_path = os.path.join(args.out, "sweep.json")
        if not os.path.isfile(saved_path):
            sys.exit(f"compare --sweep --replot: {saved_path} not found; run bench/compare --sweep first")
        with open(saved_path) as f:
            saved = json.load(f)
        points = {p.pop("workload"): p for members in saved.pop("curves").values() for p in members}
        for p in points.values():
            p.pop("x")
        meta = saved
    else:
        work = list_work(bench, args.filter, sweep=True)
        load_start = loadavg()
        points = measure(args, bench, torch_ref, common, work)
        meta = {"threads": args.threads, "rounds": args.rounds, "load_start": load_start, "load_end": loadavg(),
                "caches": dict(cache_sizes())}
    curves = rows_by_curve(points)
    write_files(args.out, curves, meta)
    plot(args.out, curves, meta["caches"].items())  # the measured machine's, also on --replot
    print(f"threads {args.threads}; load average {meta['load_start']} (start), {meta['load_end']} (end); "
          f"caches {', '.join(f'{k} {v >> 10} KB' for k, v in meta['caches'].items())}; files in {args.out}")
    print_sweep_table(curves, args.markdown)
    failed = sum(not p["pass"] for p in points.values())
    print("every point: normlab no slower than PyTorch" if not failed else
          f"{failed} of {len(points)} points: normlab slower than PyTorch")
    return 0
