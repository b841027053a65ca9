"""Canonical solutions of HumanEval and MBPP sanitized through the sandboxed code verifier.

For every problem: the canonical solution must score 1.0 (all tests pass), and the same solution
with its entry point's return value corrupted (bool flipped, int +1, float *1.5+1, str/list/tuple extended,
None -> a string...) must not (score < 1). Prints counts, lists any problem that misbehaves, and
the throughput. Needs the local data directory (RLVR_DATA_DIR or ../shared/benchmarks).

    python benchmarks/check_code_benchmarks.py [--limit N] [--slots K]
"""

from __future__ import annotations

import argparse
import time

CORRUPT = '''

def __rlvr_corrupt(r):
    if isinstance(r, bool):
        return not r
    if isinstance(r, int):
        return r + 1
    if isinstance(r, float):
        return r * 1.5 + 1
    if isinstance(r, str):
        return r + "~"
    if isinstance(r, list):
        return r + [None]
    if isinstance(r, tuple):
        return r + (None,)
    if isinstance(r, dict):
        return {**r, "~": None}
    if isinstance(r, (set, frozenset)):
        return set(r) | {"~"}
    if r is None:
        return "~"
    return None

__rlvr_orig = {name}

def {name}(*args, **kwargs):
    return __rlvr_corrupt(__rlvr_orig(*args, **kwargs))
'''


def canonical(row) -> str:
    if row.source == "humaneval":
        return row.gold["prelude"] + row.metadata["canonical_solution"]
    return row.metadata["reference_code"]


def fenced(code: str) -> str:
    return "Here is my solution.\n```python\n" + code + "\n```\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--slots", type=int, default=None)
    args = ap.parse_args()
    from data.benchmarks import get
    from rewards.code import verify_code_batch
    from rewards.sandbox import Sandbox

    sb = Sandbox(slots=args.slots)
    print(f"sandbox mode: {sb.mode.name}, slots: {sb.slots}")
    for name, rows in (("HumanEval", get("humaneval").load(limit=args.limit)),
                       ("MBPP sanitized", get("mbpp").load(limit=args.limit, split="all"))):
        t0 = time.perf_counter()
        good = verify_code_batch([(fenced(canonical(r)), r.gold, {}) for r in rows], sb)
        bad = verify_code_batch([(fenced(canonical(r) + CORRUPT.replace("{name}", r.gold["entry_point"])), r.gold, {})
                                 for r in rows], sb)
        dt = time.perf_counter() - t0
        n_pass = sum(g.score == 1.0 for g in good)
        n_fail = sum(b.score is not None and b.score < 1.0 for b in bad)
        print(f"{name}: canonical pass {n_pass}/{len(rows)}; corrupted fail {n_fail}/{len(rows)}; "
              f"{2 * len(rows)} verifications in {dt:.1f} s ({2 * len(rows) / dt:.1f}/s)")
        for r, g, b in zip(rows, good, bad):
            if g.score != 1.0:
                print(f"  canonical NOT passing: {r.id} {g.reason} {g.details}")
            if b.score is None or b.score >= 1.0:
                print(f"  corrupted NOT failing: {r.id} {b.reason} {b.details}")


if __name__ == "__main__":
    main()
