"""Gold self-check: gold answers must verify against themselves and against their own solutions.

For MATH-500, GSM8K test, AIME 2024, AMC23 and MATH train (unified/ files of the data directory):
- self: `verify_math("\\boxed{<gold>}", gold)` must score 1 (target >= 99.5%);
- solution: `verify_math(<written solution>, gold)` must score 1 (target >= 99%). The completion is
  the solution text itself, so the extraction front end (last boxed, hedge rule) is exercised too.
  GSM8K: the number after "####" in the original answer. AIME/AMC: the solution when it has a
  boxed answer, else the original answer field ("025", "27.0").
Rows whose gold is empty are counted as gold_unparsable (skipped rows, reason printed).
`--compare-ll` also checks that the two-stage SLL parser (rewards/sll.py) gives the same parse
as latex2sympy's plain LL parser on every gold (slow: ~2 min for MATH train).

    python benchmarks/gold_selfcheck.py [--max-exceptions 30] [--compare-ll]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.datadir import data_dir  # noqa: E402
from rewards.extract import boxed_contents  # noqa: E402
from rewards.math import clear_caches, parse_gold, verify_math  # noqa: E402
from rewards.sll import sll_parsing  # noqa: E402

SOURCES = ("math500", "gsm8k_test", "aime24", "amc23", "math_train")


def solution_text(row: dict, raw: dict | None) -> tuple[str, str]:
    """(completion built from the written solution, which field it came from)."""
    if row["source"].startswith("gsm8k"):
        text = (raw or {}).get("answer") or row.get("solution", "")
        return "\\boxed{" + text.split("####")[-1].strip() + "}", "####"
    sol = row.get("solution") or ""
    if boxed_contents(sol):
        return sol, "solution"
    return "\\boxed{" + str(row.get("answer_original", row["answer"])) + "}", "answer_original"


def check_source(root: Path, name: str, max_exc: int) -> dict:
    rows = [json.loads(line) for line in open(root / "unified" / f"{name}.jsonl", encoding="utf-8")]
    raw = None
    if name.startswith("gsm8k"):
        raw = [json.loads(line) for line in open(root / f"{name}.jsonl", encoding="utf-8")]
    stats = {"n": len(rows), "self_ok": 0, "sol_ok": 0, "skipped": 0, "via": {}}
    exc: list[str] = []
    for i, row in enumerate(rows):
        gold = row["answer"]
        r_self = verify_math("\\boxed{" + gold + "}", gold)
        if r_self.score is None:
            stats["skipped"] += 1
            exc.append(f"  [{row['id']}] gold {gold!r}: {r_self.reason}")
            continue
        stats["self_ok"] += r_self.score == 1.0
        if r_self.score != 1.0:
            exc.append(f"  [{row['id']}] self  gold {gold!r}: {r_self.reason} {r_self.details}")
        text, via = solution_text(row, raw[i] if raw else None)
        stats["via"][via] = stats["via"].get(via, 0) + 1
        r_sol = verify_math(text, gold)
        stats["sol_ok"] += r_sol.score == 1.0
        if r_sol.score != 1.0:
            exc.append(f"  [{row['id']}] sol   gold {gold!r} got {r_sol.extracted!r}: {r_sol.reason} {r_sol.details}")
    stats["exceptions"] = exc[:max_exc]
    stats["n_exceptions"] = len(exc)
    return stats


def compare_ll(root: Path) -> None:
    diffs = total = 0
    for name in SOURCES:
        for line in open(root / "unified" / f"{name}.jsonl", encoding="utf-8"):
            gold = json.loads(line)["answer"]
            if not gold:
                continue
            clear_caches()
            with sll_parsing(False):
                a = parse_gold.__wrapped__(gold, None)
            with sll_parsing(True):
                b = parse_gold.__wrapped__(gold, None)
            total += 1
            if str(a and a.parsed) != str(b and b.parsed):
                diffs += 1
                print(f"  SLL differs on {gold!r}: LL {a and a.parsed} / SLL {b and b.parsed}")
    print(f"SLL vs LL gold parses: {total - diffs}/{total} identical")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--max-exceptions", type=int, default=30)
    ap.add_argument("--compare-ll", action="store_true")
    args = ap.parse_args()
    root = data_dir(args.data)
    if root is None:
        sys.exit("benchmark data not found: set RLVR_DATA_DIR")
    tot_n = tot_self = tot_sol = tot_judged = 0
    for name in SOURCES:
        t0 = time.perf_counter()
        s = check_source(root, name, args.max_exceptions)
        judged = s["n"] - s["skipped"]
        tot_n, tot_judged = tot_n + s["n"], tot_judged + judged
        tot_self, tot_sol = tot_self + s["self_ok"], tot_sol + s["sol_ok"]
        print(f"{name:11s} n={s['n']:5d} skipped={s['skipped']} self {s['self_ok'] / judged:.4f} "
              f"solution {s['sol_ok'] / judged:.4f} (via {s['via']})  {time.perf_counter() - t0:.1f}s")
        for line in s["exceptions"]:
            print(line)
        if s["n_exceptions"] > len(s["exceptions"]):
            print(f"  ... {s['n_exceptions'] - len(s['exceptions'])} more")
    print(f"ALL         n={tot_n} judged={tot_judged} self {tot_self / tot_judged:.4f} "
          f"solution {tot_sol / tot_judged:.4f}  (targets 0.995 / 0.99)")
    if args.compare_ll:
        compare_ll(root)


if __name__ == "__main__":
    main()
