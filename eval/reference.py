"""Sanity check of benchmarks x verifiers: reference answers fed back as completions must score 100%.

For every math benchmark, each problem is scored with two completions built from its own data:
  - "answer":   "The final answer is \\boxed{<gold>}." (the gold answer in a box);
  - "solution": the written reference solution, when the benchmark has one that contains a
                \\boxed{} (MATH-500, Minerva, ...). GSM8K's "#### 42" ending is rewritten to
                "\\boxed{42}" (that is the benchmark's answer convention, not a boxed solution).
Any problem that does not score 1 is listed with the verifier's reason and extracted answer,
so a loader bug (wrong gold field) or a verifier gap shows up before any model is blamed.

    python -m eval.reference                       # all math benchmarks, print figures + exceptions
    python -m eval.reference math500 gsm8k --workers 2
"""

from __future__ import annotations

import argparse
import re
import sys
import time

from data.schema import Row
from eval.benchmarks import registry
from rewards.scorer import Scorer
from rewards.extract import last_boxed

def math_benchmarks() -> tuple[str, ...]:
    """Registered benchmarks whose rows go to the math verifier (their default template is boxed)."""
    return tuple(n for n in registry.names() if registry.get(n).default_template == "boxed")


MATH = math_benchmarks()


def answer_completion(row: Row) -> str:
    return f"The final answer is \\boxed{{{row.gold}}}."


def solution_completion(row: Row) -> str | None:
    sol = row.metadata.get("solution")
    if not isinstance(sol, str) or not sol.strip():
        return None
    if "####" in sol:
        return re.sub(r"####\s*(.+)\s*$", lambda m: f"\\boxed{{{m.group(1).strip()}}}", sol.strip())
    return sol if last_boxed(sol) is not None else None


def check(name: str, scorer: Scorer, data_dir=None, limit: int | None = None) -> dict:
    """Score both completion kinds for one benchmark; returns figures and the exceptions."""
    rows = registry.get(name).load(data_dir=data_dir, limit=limit)
    out = {"benchmark": name, "problems": len(rows)}
    for kind, make in (("answer", answer_completion), ("solution", solution_completion)):
        pairs = [(r, c) for r in rows if (c := make(r)) is not None]
        t0 = time.perf_counter()
        results = scorer.score([r for r, _ in pairs], [c for _, c in pairs]).results["outcome"]
        ok = sum(1 for res in results if res.score == 1.0)
        out[kind] = {"scored": len(pairs), "ok": ok, "seconds": round(time.perf_counter() - t0, 2),
                     "exceptions": [{"id": r.id, "gold": r.gold, "reason": res.reason, "extracted": res.extracted}
                                    for (r, _), res in zip(pairs, results) if res.score != 1.0]}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("benchmarks", nargs="*", default=list(MATH))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--data-dir", default=None)
    a = ap.parse_args(argv)
    all_ok = True
    with Scorer(workers=a.workers) as scorer:
        print(f"{'benchmark':15s} {'problems':>8s} {'boxed gold':>16s} {'ref. solution':>16s}")
        reports = [check(b, scorer, a.data_dir, a.limit) for b in a.benchmarks]
        for r in reports:
            cells = []
            for kind in ("answer", "solution"):
                k = r[kind]
                cells.append(f"{k['ok']}/{k['scored']} {100 * k['ok'] / k['scored']:5.1f}%" if k["scored"] else "n/a")
            print(f"{r['benchmark']:15s} {r['problems']:8d} {cells[0]:>16s} {cells[1]:>16s}")
        for r in reports:
            for kind in ("answer", "solution"):
                for e in r[kind]["exceptions"]:
                    all_ok &= kind != "answer"
                    print(f"  exception [{kind}] {e['id']}: gold={e['gold']!r} reason={e['reason']} "
                          f"extracted={e['extracted']!r}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
