"""Throughput of the code sandbox vs a bare `python` subprocess on the same 200 programs.

Programs: HumanEval and MBPP canonical solutions followed by their own assert-based tests, as
standalone scripts (100 + 100). Both sides run the identical source with Debian's /usr/bin/python3,
with the same concurrency (one worker per sandbox slot), stdout captured; the bare side has no
isolation at all. Rounds alternate (bare, bare -S, sandbox, ...) so the shared machine's load affects
all alike. The sandbox starts its interpreter with -S -B (site is skipped, the harness adds
dist-packages itself), so the bare side is also timed with those flags for an apples-to-apples
figure. Prints executions/s for each and the overhead ratios (target <= 1.5x).

    python benchmarks/bench_sandbox.py [--n 200] [--slots 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

PY = "/usr/bin/python3"


def programs(n: int) -> list[str]:
    from data.benchmarks import get

    half = n // 2
    h = get("humaneval").load(limit=half)
    m = get("mbpp").load(limit=n - half, split="all")
    progs = [r.gold["prelude"] + r.metadata["canonical_solution"] + "\n" + r.metadata["test"]
             + f"\ncheck({r.gold['entry_point']})\nprint('done')\n" for r in h]
    progs += [r.gold["setup"] + "\n" + r.metadata["reference_code"] + "\n" + "\n".join(
        _mbpp_asserts(r)) + "\nprint('done')\n" for r in m]
    return progs


def _mbpp_asserts(row) -> list[str]:
    from data.sources.base import jsonl_records
    from pipeline.datadir import data_dir

    global _MBPP
    if "_MBPP" not in globals():
        _MBPP = {r["task_id"]: r["tests"] for _, _, r in jsonl_records(data_dir() / "unified/mbpp_sanitized.jsonl")}
    return _MBPP[row.metadata["task_id"]]


def run_bare(progs: list[str], workers: int, tmp: str, flags: tuple[str, ...] = ()) -> tuple[float, list[bool]]:
    paths = []
    for i, p in enumerate(progs):
        path = os.path.join(tmp, f"p{i}.py")
        with open(path, "w") as f:
            f.write(p)
        paths.append(path)

    def one(path):
        r = subprocess.run([PY, *flags, path], capture_output=True, timeout=60, cwd=tmp)
        return r.returncode == 0 and r.stdout.endswith(b"done\n")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        ok = list(ex.map(one, paths))
    return time.perf_counter() - t0, ok


def run_sandbox(sb, progs: list[str]) -> tuple[float, list[bool]]:
    from rewards.sandbox import Limits

    t0 = time.perf_counter()
    res = sb.run_many([({"mode": "program", "code": p}, None, Limits(wall_s=60)) for p in progs])
    dt = time.perf_counter() - t0
    return dt, [r.status == "exited" and r.returncode == 0 and r.stdout.endswith(b"done\n") for r in res]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--slots", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    from rewards.sandbox import Sandbox

    sb = Sandbox(slots=args.slots)
    progs = programs(args.n)
    print(f"{len(progs)} programs, sandbox mode {sb.mode.name}, {args.slots} concurrent workers each side, "
          f"{os.cpu_count()} CPUs, load avg {os.getloadavg()[0]:.1f}")
    times: dict[str, list[float]] = {"bare": [], "bare_S": [], "sandbox": []}
    with tempfile.TemporaryDirectory() as tmp:
        run_bare(progs[:10], args.slots, tmp)  # warm the page cache for both sides
        run_sandbox(sb, progs[:10])
        for _ in range(args.rounds):
            t, ok_b = run_bare(progs, args.slots, tmp)
            times["bare"].append(t)
            t, ok_bs = run_bare(progs, args.slots, tmp, ("-S", "-B"))
            times["bare_S"].append(t)
            t, ok_s = run_sandbox(sb, progs)
            times["sandbox"].append(t)
    med = {k: statistics.median(v) for k, v in times.items()}
    n = len(progs)
    for key, label, ok in (("bare", "bare `python3 prog.py`", ok_b), ("bare_S", "bare `python3 -S -B prog.py`", ok_bs),
                           ("sandbox", f"sandbox ({sb.mode.name})", ok_s)):
        print(f"{label:34s} {n / med[key]:7.1f} exec/s  ({1000 * med[key] / n * args.slots:6.1f} ms/run; "
              f"{sum(ok)}/{n} ok; rounds {['%.2f s' % x for x in times[key]]})")
    print(f"overhead vs bare python: {med['sandbox'] / med['bare']:.2f}x (target <= 1.5x); "
          f"vs bare python with the sandbox's interpreter flags (-S -B): {med['sandbox'] / med['bare_S']:.2f}x")


if __name__ == "__main__":
    main()
