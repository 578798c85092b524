"""Running normlab-bench and bench/torch_ref.py and reading what they print,
for bench/compare and bench/sweep.py."""
import subprocess
import sys


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"compare: {' '.join(cmd)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def timings(cmd):
    """{name: ms} from lines '<name> <ms> ms' (torch_ref.py's twins of one workload
    also print '<name>/<variant> <ms> ms')."""
    out = {}
    for line in run(cmd).splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "ms":
            out[parts[0]] = float(parts[1])
    return out


def fields(line):
    """'name k1 v1 k2 v2 ...' -> (name, {k: v})."""
    parts = line.split()
    return parts[0], {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def limits(bench, flag, threads):
    """{name: value} from normlab-bench --machine or --bandwidth ('name value' lines)."""
    lines = run([bench, flag, "--threads", str(threads)]).splitlines()
    return {k: float(v) for k, v in (line.split() for line in lines)}


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def list_work(bench, pattern, sweep=False):
    """{name: (bytes, flops)} of normlab-bench's workloads matching pattern, in its order
    (--list prints "name bytes=B flops=F # description")."""
    work = {}
    for line in run([bench, "--list"] + (["--sweep"] if sweep else []) + [pattern]).splitlines():
        parts = line.split("#")[0].split()
        kv = dict(p.split("=") for p in parts[1:])
        work[parts[0]] = (float(kv["bytes"]), float(kv["flops"]))
    return work


def print_table(header, rows, markdown):
    """rows of strings under header, as Markdown or as aligned columns."""
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
        for r in [header] + rows:
            print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
