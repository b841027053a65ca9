"""Process reward acceptance figures: PRM800K README example, GSM8K mutation catch rate, false verdicts.

Reads GSM8K train solutions (with their `<<a=b>>` calculator annotations and plain-text equalities)
from the local benchmark directory (RLVR_DATA_DIR or ../shared/benchmarks). Prints:
1. the PRM800K README example: `200,000 = 2^5·10^4` false, `2^9·5^4 = 512·625 = 320,000` true;
2. for the first 50 chains: false verdicts on the correct chains, and the share of single-number
   mutants caught (one digit of one numeral inside an equality changed), for seeds 0..9;
3. the same over the whole GSM8K train set: flagged solutions (to inspect: real errors in GSM8K or
   false positives of the checker), and steps/s;
4. flagged solutions over the whole MATH train set (LaTeX chains).

Run: python benchmarks/bench_process.py [--chains 50] [--seeds 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.datadir import data_dir  # noqa: E402
from rewards.process import verify_process  # noqa: E402
from tests.rewards.process_mutation import catch_rate, gsm8k_chains  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chains", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args()
    for text in ("200,000 = 2^5·10^4", "2^9·5^4 = 512·625 = 320,000"):
        r = verify_process(text)
        claims = [(c["claim"], c["verdict"]) for s in r.details["steps"] for c in s["claims"]]
        print(f"PRM800K {text!r}: score={r.score} reason={r.reason} claims={claims}")
    bench = data_dir()
    if bench is None:
        print("benchmark data not found (set RLVR_DATA_DIR): GSM8K figures skipped")
        return 1
    chains = gsm8k_chains(bench, args.chains)
    rates = []
    for seed in range(args.seeds):
        false_on_correct, n, caught, _ = catch_rate(chains, seed)
        rates.append(caught / n)
        print(f"seed {seed}: {args.chains} correct chains -> {false_on_correct} false verdicts; "
              f"mutants caught {caught}/{n} = {caught / n:.0%}")
    print(f"catch rate over {args.seeds} seeds: mean {statistics.mean(rates):.1%}, min {min(rates):.0%}, "
          f"max {max(rates):.0%}")
    everything = gsm8k_chains(bench, 10**9)
    t0 = time.perf_counter()
    results = [verify_process(c) for c in everything]
    dt = time.perf_counter() - t0
    steps = sum(r.details["n_true"] + r.details["n_false"] + r.details["n_unjudged"] for r in results)
    judged = sum(r.details["n_true"] + r.details["n_false"] for r in results)
    flagged = [(i, r.details["first_false"]["claim"]) for i, r in enumerate(results) if r.score == 0.0]
    print(f"all GSM8K train: {len(everything)} solutions, {steps} steps ({judged} judged), "
          f"{len(flagged)} solutions flagged, {steps / dt:.0f} steps/s ({dt:.1f} s)")
    for i, claim in flagged:
        print(f"  flagged line {i + 1}: {claim}")
    _math_train(bench)
    return 0


def _math_train(bench: Path) -> None:
    """False-verdict check on LaTeX chains: every MATH train solution (written by humans, checked)."""
    path = bench / "math_train.jsonl"
    if not path.exists():
        return
    sols = [json.loads(line)["solution"] for line in path.open(encoding="utf-8")]
    t0 = time.perf_counter()
    results = [verify_process(s) for s in sols]
    dt = time.perf_counter() - t0
    judged = sum(r.details["n_true"] + r.details["n_false"] for r in results)
    flagged = [(i, r.details["first_false"]["claim"]) for i, r in enumerate(results) if r.score == 0.0]
    print(f"all MATH train: {len(sols)} solutions, {judged} judged steps, {len(flagged)} flagged ({dt:.1f} s)")
    for i, claim in flagged:
        print(f"  flagged line {i + 1}: {claim[:120]}")


if __name__ == "__main__":
    sys.exit(main())
