"""Any JSONL file a user names: one record per line, a verifier key and a field mapping.

    benchmarks: [math500]
    jsonl:
      - name: my_set
        path: data/my_set.jsonl
        verifier: math            # key in rewards.registry (or `verifier_field` per record)
        problem_field: question
        gold_field: answer
        id_field: uid             # optional; default "<name>/<record index>"

Each record becomes a `data.schema.Row` (split "test"); fields not mapped stay in metadata.
The path is read as given (absolute, or relative to the working directory); it does not go
through the benchmark data directory. A malformed line or a record without the mapped fields
is an error naming file and line (curation's JSONL source quarantines them instead; both read
through data.sources.base.jsonl_records).
"""

from __future__ import annotations

import json
from pathlib import Path

from data.benchmarks import seeded_subset
from data.schema import Row, validate_row
from data.sources.base import jsonl_records

NAME = "jsonl"
DEFAULT_TEMPLATE = "boxed"


def load(data_dir=None, limit: int | None = None, seed: int = 0, *, path: str, name: str = "jsonl",
         verifier: str = "math", verifier_field: str | None = None, problem_field: str = "problem",
         gold_field: str = "answer", id_field: str | None = None) -> list[Row]:
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"jsonl benchmark {name!r}: {p} does not exist")
    rows = []
    for i, (lineno, _, rec) in enumerate(jsonl_records(p)):
        if isinstance(rec, json.JSONDecodeError):
            raise ValueError(f"{p}:{lineno}: malformed JSON: {rec}")
        missing = [f for f in (problem_field, gold_field) if f not in rec]
        if missing:
            raise KeyError(f"{p}:{lineno}: record lacks field(s) {missing}; it has {sorted(rec)}")
        used = {problem_field, gold_field, id_field, verifier_field}
        row = Row(id=f"{name}/{rec[id_field] if id_field else i}", problem=str(rec[problem_field]),
                  verifier=str(rec[verifier_field]) if verifier_field else verifier, gold=rec[gold_field],
                  source=name, split="test", metadata={k: v for k, v in rec.items() if k not in used})
        validate_row(row)
        rows.append(row)
    return seeded_subset(rows, limit, seed)
