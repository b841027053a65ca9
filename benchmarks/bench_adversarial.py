"""Adversarial completions through the VerifierPool: per-case verdicts and times, and batch timing.

Prints, for every case of tests/rewards/adversarial_cases.py (power towers, huge factorials,
10,000-deep nesting, megabyte completions, malformed LaTeX, NUL bytes, lone surrogates, unevaluated
integrals...): score, reason and seconds. Then two batches of 100 items against the bound
(deadline x items / workers) + 20%:
  A. 100 items cycling through every math case (megabyte ones included);
  B. 100 items that each hang in C code (a 10^(10^9) big-int power no signal could interrupt):
     every one must be killed at its deadline and its worker replaced.
Also the pool's own overhead per check (a trivial verifier, 1,000 items).

Run: python benchmarks/bench_adversarial.py [--workers 4] [--deadline 2.0] [--skip-hangs]
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tests.rewards.slow_verifiers  # noqa: E402,F401  (registers test_busy / test_echo)
from rewards.pool import ScoreItem, VerifierPool  # noqa: E402
from tests.rewards.adversarial_cases import GOLD, MATH_CASES, OTHER_CASES  # noqa: E402


def _batch(pool: VerifierPool, items: list[ScoreItem], label: str, deadline: float, workers: int) -> bool:
    t0 = time.monotonic()
    res = pool.score_batch(items)
    dt = time.monotonic() - t0
    bound = deadline * len(items) / workers * 1.2
    reasons = collections.Counter(r.reason for r in res)
    zero = sum(r.score == 0.0 for r in res)
    ok = dt <= bound and zero == len(items)
    print(f"{label}: {len(items)} items in {dt:.2f} s (bound {bound:.1f} s) score 0: {zero}/{len(items)} "
          f"reasons {dict(reasons)} -> {'PASS' if ok else 'FAIL'}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--deadline", type=float, default=2.0)
    ap.add_argument("--skip-hangs", action="store_true", help="skip batch B (it takes deadline*100/workers s)")
    args = ap.parse_args()
    t0 = time.monotonic()
    with VerifierPool(workers=args.workers, deadline_s=args.deadline, memory_mb=1024) as pool:
        print(f"pool of {args.workers} workers started in {time.monotonic() - t0:.2f} s; deadline {args.deadline} s")
        all_ok = True
        print(f"{'case':32} {'verifier':10} {'score':>5} {'reason':14} {'seconds':>7}")
        for name, verifier, completion in MATH_CASES + OTHER_CASES:
            t1 = time.monotonic()
            r = pool.score(verifier, completion, GOLD)
            dt = time.monotonic() - t1
            good = dt < args.deadline + 1.0 and (r.score == 0.0 if verifier == "math" else r.score is not None)
            all_ok &= good
            print(f"{name:32} {verifier:10} {r.score!s:>5} {r.reason:14} {dt:7.3f}{'' if good else '  FAIL'}")
        items = [ScoreItem(v, f"{c} {i}", GOLD) for i, (_, v, c) in zip(range(100), MATH_CASES * 4)]
        all_ok &= _batch(pool, items, "A. 100 adversarial math items", args.deadline, args.workers)
        if not args.skip_hangs:
            hangs = [ScoreItem("test_busy", f"h{i}", GOLD, {"digits_exp": 9}) for i in range(100)]
            all_ok &= _batch(pool, hangs, "B. 100 C-level hangs", args.deadline, args.workers)
        trivial = [ScoreItem("test_echo", f"t{i}", "x") for i in range(1000)]
        t1 = time.perf_counter()
        pool.score_batch(trivial)
        print(f"overhead: {(time.perf_counter() - t1) * 1000 / len(trivial):.3f} ms per trivial check "
              f"(batch of 1000); pool stats {pool.stats()}")
    print("ALL PASS" if all_ok else "SOME FAIL")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
