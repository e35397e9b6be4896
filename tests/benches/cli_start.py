#!/usr/bin/env python3
"""How fast the command line starts: wall time and peak memory of `aftercall today`,
`aftercall capture …` and `aftercall --version`, each run RUNS times on a data
folder with a few captures, and the shared libraries the binary loads.

Usage: python3 tests/benches/cli_start.py PATH/TO/aftercall [RUNS]
Prints the median and the 90th percentile of each; build in release first
(`cargo build --release -p aftercall-app`).
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time


def run_once(argv, env):
    """Wall milliseconds and peak resident MiB of one run (children included)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, _, usage = os.wait4(proc.pid, 0)
    wall = (time.perf_counter() - start) * 1000
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if usage.ru_maxrss == 0 or err.strip():
        raise SystemExit(f"{' '.join(argv)} failed: {err}")
    return wall, usage.ru_maxrss / 1024


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    exe = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    with tempfile.TemporaryDirectory() as data:
        env = dict(os.environ, AFTERCALL_DATA_DIR=data)
        for i in range(20):
            subprocess.run(
                [exe, "capture", "--with", f"Person {i}", "--kind", "value",
                 "--talked", "pricing", "--follow-up", "in 3 days"],
                env=env, check=True, stdout=subprocess.DEVNULL,
            )
        cases = {
            "today": [exe, "today"],
            "capture": [exe, "capture", "--with", "Ana Müller", "--kind", "casual",
                        "--talked", "a quick hello"],
            "--version": [exe, "--version"],
        }
        print(f"{exe}, {runs} runs each, median / p90")
        for name, argv in cases.items():
            walls, rss = zip(*(run_once(argv, env) for _ in range(runs)))
            walls = sorted(walls)
            p90 = walls[min(len(walls) - 1, int(len(walls) * 0.9))]
            print(f"  {name:10} {statistics.median(walls):7.1f} ms / {p90:7.1f} ms   "
                  f"peak {statistics.median(rss):6.1f} MiB")
        libs = subprocess.run(["ldd", exe], capture_output=True, text=True).stdout
        print(f"  shared libraries loaded: {len([l for l in libs.splitlines() if l.strip()])}")


if __name__ == "__main__":
    main()
