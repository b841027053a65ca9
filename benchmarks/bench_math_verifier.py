"""Benchmark: label agreement and throughput of `verify_math` vs math-verify on the public answer pairs.

Reads `math_equivalence_pairs.jsonl` from the data directory (RLVR_DATA_DIR or ../shared/benchmarks),
keeps the non-multiple-choice rows and applies each row's options as the data README describes:
`precision` -> float_rounding, `strict`, `allow_set_relation_comp`, `match_types` (rows without
match_types get math-verify's defaults, latex + expr). `pred` is the completion (free text allowed).

Prints, in one run, for this verifier and for math-verify's own `verify(parse(gold), parse(pred))`
(library defaults, single process, in-process):
- label agreement;
- pairs/s with every cache cleared before each pair (cold: ours and math-verify's lru caches);
- pairs/s in plain sequential order (warm: repeated golds hit the gold cache, as in GRPO groups).
Both verifiers first run once over all pairs untimed, so that the ANTLR parser's lazily built
prediction tables are warm for both (the steady state of a long-running worker).
Disagreements are written to a JSONL file for inspection.

    python benchmarks/bench_math_verifier.py [--out /tmp/math_disagreements.jsonl]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from math_verify import parse, verify  # noqa: E402

from pipeline.datadir import data_dir  # noqa: E402
from rewards.math import clear_caches, verify_math  # noqa: E402

logging.getLogger("math_verify").setLevel(logging.CRITICAL)


def row_options(row: dict) -> dict:
    opts = {"match_types": row.get("match_types") or ["latex", "expr"]}
    for src, dst in (("precision", "float_rounding"), ("strict", "strict"),
                     ("allow_set_relation_comp", "allow_set_relation_comp")):
        if row.get(src) is not None:
            opts[dst] = row[src]
    return opts


def ours(row: dict) -> bool:
    return verify_math(row["pred"], row["gold"], **row_options(row)).score == 1.0


def baseline(row: dict) -> bool:
    return bool(verify(parse(row["gold"], parsing_timeout=None), parse(row["pred"], parsing_timeout=None),
                       timeout_seconds=None))


def timed(fn, rows: list[dict], cold: bool) -> tuple[list[bool], float]:
    out, spent = [], 0.0
    for r in rows:
        if cold:
            clear_caches()
        t0 = time.perf_counter()
        out.append(fn(r))
        spent += time.perf_counter() - t0
    return out, len(rows) / spent


def pooled_rate(rows: list[dict], workers: int) -> tuple[float, float]:
    """How training and evaluation actually call the verifier: a batch through the worker pool."""
    from rewards.pool import ScoreItem, VerifierPool

    items = [ScoreItem("math", r["pred"], r["gold"], row_options(r)) for r in rows]
    with VerifierPool(workers=workers, cache_size=0) as pool:
        pool.score_batch(items)  # warm-up: each worker's parser tables, as in a long run
        t0 = time.perf_counter()
        res = pool.score_batch(items)
        rate = len(rows) / (time.perf_counter() - t0)
    agree = sum((x.score == 1.0) == r["expected"] for x, r in zip(res, rows)) / len(rows)
    return agree, rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None, help="data directory (default: RLVR_DATA_DIR or ../shared/benchmarks)")
    ap.add_argument("--out", default="/tmp/math_disagreements.jsonl")
    ap.add_argument("--workers", type=int, default=2, help="pool workers for the pooled measurement (= cores)")
    args = ap.parse_args()
    root = data_dir(args.data)
    if root is None:
        sys.exit("benchmark data not found: set RLVR_DATA_DIR")
    rows = [json.loads(line) for line in open(root / "math_equivalence_pairs.jsonl", encoding="utf-8")]
    rows = [r for r in rows if r.get("kind") != "multiple_choice_letter"]
    for r in rows:  # warm-up (untimed) for both
        ours(r), baseline(r)
    results = {}
    for name, fn in (("verify_math", ours), ("math-verify", baseline)):
        labels_cold, rate_cold = timed(fn, rows, cold=True)
        _, rate_warm = timed(fn, rows, cold=False)
        agree = sum(a == r["expected"] for a, r in zip(labels_cold, rows)) / len(rows)
        results[name] = (labels_cold, rate_cold, rate_warm, agree)
        print(f"{name:12s} agreement {agree:.4f} ({round(agree * len(rows))}/{len(rows)})  "
              f"cold {rate_cold:7.1f} pairs/s  warm {rate_warm:7.1f} pairs/s")
    mine, base = results["verify_math"], results["math-verify"]
    print(f"speed-up cold {mine[1] / base[1]:.2f}x  warm {mine[2] / base[2]:.2f}x  (both single process)")
    pooled = pooled_rate(rows, args.workers)
    print(f"verify_math through VerifierPool({args.workers} workers, result cache off, 2 s deadlines): "
          f"{pooled[1]:7.1f} pairs/s, agreement {pooled[0]:.4f}; vs math-verify single process (warm) "
          f"{pooled[1] / base[2]:.2f}x")
    with open(args.out, "w", encoding="utf-8") as f:
        n = 0
        for got, r in zip(mine[0], rows):
            if got != r["expected"]:
                res = verify_math(r["pred"], r["gold"], **row_options(r))
                f.write(json.dumps({"pair_id": r["pair_id"], "expected": r["expected"], "gold": r["gold"],
                                    "pred": r["pred"][:500], "options": row_options(r), "reason": res.reason,
                                    "extracted": res.extracted, "details": res.details}, ensure_ascii=False) + "\n")
                n += 1
    print(f"{n} disagreements written to {args.out}")


if __name__ == "__main__":
    main()
