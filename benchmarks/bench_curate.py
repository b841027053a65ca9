"""Throughput of the curation steps on the local benchmark data (no model, no network).

    python benchmarks/bench_curate.py            # GSM8K train + MATH train + 4000 procedural rows

Prints rows/s for loading, gold self-checks (in process), exact+near dedup and 8-gram decontamination.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data import registry  # noqa: E402
from data.decontam import DecontamConfig, NgramIndex, decontaminate  # noqa: E402
from data.dedup import DedupConfig, deduplicate  # noqa: E402
from data.schema import Row  # noqa: E402
from data.sources.base import SourceSpec  # noqa: E402
from data.validate import validate_rows  # noqa: E402


def timed(label: str, n: int, fn):
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    print(f"{label:<28} {n:>7} rows  {dt:7.2f} s  {n / dt:9.0f} rows/s", flush=True)
    return out


def main() -> None:
    specs = [SourceSpec(kind="gsm8k", options={"split": "train"}), SourceSpec(kind="math", options={"split": "train"}),
             SourceSpec(kind="procedural", options={"task": "mix", "n": 4000})]
    rows = timed("load", 18973, lambda: [x for s in specs for x in registry.get(s.kind)(s) if isinstance(x, Row)])
    valid, bad = timed("validate (in process)", len(rows), lambda: validate_rows(rows, ["math"], workers=0))
    kept, dups = timed("dedup exact+MinHash", len(valid), lambda: deduplicate(valid, DedupConfig()))
    index = NgramIndex(8)
    for s in [SourceSpec(kind="math500"), SourceSpec(kind="aime24"), SourceSpec(kind="gsm8k", options={"split": "test"})]:
        index.add_rows(s.label, [r for r in registry.get(s.kind)(dataclass_test(s)) if isinstance(r, Row)])
    clean, cont = timed("decontaminate (8-grams)", len(kept), lambda: decontaminate(kept, index, DecontamConfig()))
    print(f"quarantined {len(bad)}, duplicates {len(dups)}, contaminated {len(cont)}, kept {len(clean)}")


def dataclass_test(spec: SourceSpec) -> SourceSpec:
    import dataclasses

    return dataclasses.replace(spec, split="test")


if __name__ == "__main__":
    main()
