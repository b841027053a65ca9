"""Score a JSONL file of (verifier, gold, completion) rows: re-score saved rollouts, audit evaluations.

Input rows: `{"verifier": "math", "gold": "4", "completion": "...", "options": {...}, "id": ...}`;
code rows carry their tests instead of `gold` (`tests`, `entry_point`, ...): every field other than
verifier/completion/options/id is passed through as the gold. Output: one row per input line, in
order: `{"line", "id" (if present), "score", "reason", "extracted"}` (+ `details` with --details).
A malformed line (bad JSON, missing field, unknown verifier, not UTF-8) yields
`{"line": n, "score": null, "reason": "bad_input", "error": ...}` and never aborts the run.
Checks run through `rewards.pool.VerifierPool` in batches, so every row has a hard deadline.
A summary (rows, reason counts, rows/s) goes to stderr.

Example:
    python -m rewards.score rollouts.jsonl scored.jsonl --workers 4 --deadline 2
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from typing import Any, Iterator

from rewards import registry
from rewards.pool import ScoreItem, VerifierPool

BAD_INPUT = "bad_input"
_META = ("verifier", "completion", "options", "id")


def parse_line(raw: bytes, lineno: int) -> tuple[ScoreItem | None, dict[str, Any]]:
    """(item, output stub) for one input line; item None means the stub already holds a bad_input result."""
    stub: dict[str, Any] = {"line": lineno}
    try:
        row = json.loads(raw.decode("utf-8"))
        if not isinstance(row, dict):
            raise ValueError(f"expected a JSON object, got {type(row).__name__}")
        if "id" in row:
            stub["id"] = row["id"]
        verifier, completion, options = row.get("verifier"), row.get("completion"), row.get("options")
        options = {} if options is None else options
        if not isinstance(verifier, str):
            raise ValueError("missing or non-string 'verifier'")
        registry.get(verifier)  # KeyError with a did-you-mean hint
        if not isinstance(completion, str):
            raise ValueError("missing or non-string 'completion'")
        if not isinstance(options, dict):
            raise ValueError("'options' must be an object")
        if "gold" in row:
            gold = row["gold"]
        else:
            gold = {k: v for k, v in row.items() if k not in _META}
            if not gold:
                raise ValueError("missing 'gold' (or tests for code rows)")
        return ScoreItem(verifier, completion, gold, options), stub
    except (ValueError, KeyError, ImportError, UnicodeDecodeError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        stub.update(score=None, reason=BAD_INPUT, extracted=None, error=f"line {lineno}: {msg}"[:500])
        return None, stub


def _batches(path: str, size: int) -> Iterator[list[tuple[ScoreItem | None, dict]]]:
    batch = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            batch.append(parse_line(raw, lineno))
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


def score_file(pool: VerifierPool, src: str, dst: str, batch_size: int = 256, details: bool = False) -> collections.Counter:
    """Score `src` into `dst` (written to a temporary file, then renamed). Returns reason counts."""
    reasons: collections.Counter = collections.Counter()
    tmp = f"{dst}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as out:
        for batch in _batches(src, batch_size):
            items = [it for it, _ in batch if it is not None]
            results = iter(pool.score_batch(items))
            for item, stub in batch:
                if item is not None:
                    res = next(results)
                    stub.update(score=res.score, reason=res.reason, extracted=res.extracted)
                    if "sandbox_mode" in res.details:  # code rows say which isolation they ran under
                        stub["sandbox_mode"] = res.details["sandbox_mode"]
                    if details:
                        stub["details"] = res.details
                reasons[stub["reason"]] += 1
                out.write(json.dumps(stub, ensure_ascii=True, default=repr) + "\n")
    os.replace(tmp, dst)
    return reasons


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rewards.score", description=__doc__.split("\n\n")[0])
    ap.add_argument("input", help="JSONL rows with verifier, gold (or tests), completion, optional options/id")
    ap.add_argument("output", help="JSONL results, one per input row, in order")
    ap.add_argument("--workers", type=int, default=max(1, min(8, (os.cpu_count() or 2))))
    ap.add_argument("--deadline", type=float, default=2.0, help="seconds per check (default 2)")
    ap.add_argument("--memory-mb", type=int, default=1024, help="address-space cap per worker")
    ap.add_argument("--plugins", nargs="*", default=[], help="modules whose @register adds verifiers")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--details", action="store_true", help="also write each result's details")
    args = ap.parse_args(argv)
    registry.load_plugins(args.plugins)
    t0 = time.perf_counter()
    with VerifierPool(workers=args.workers, deadline_s=args.deadline, memory_mb=args.memory_mb,
                      plugins=args.plugins) as pool:
        reasons = score_file(pool, args.input, args.output, args.batch_size, args.details)
    n = sum(reasons.values())
    dt = time.perf_counter() - t0
    print(json.dumps({"rows": n, "seconds": round(dt, 2), "rows_per_s": round(n / dt, 1) if dt else None,
                      "reasons": dict(reasons.most_common())}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
