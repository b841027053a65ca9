"""The one row schema every source is normalised to, and the trainer/evaluator read.

A row names its verifier (dispatch key into `rewards.registry`) and carries the gold
answer (a string for math, a dict of tests for code). Raw source fields are kept under
`metadata` for debugging. `difficulty` is the base model's pass rate in [0, 1] when
estimated, else None; `metadata["level"]` keeps source levels such as MATH's 1-5.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

SPLITS = ("train", "eval", "test")


@dataclasses.dataclass
class Row:
    id: str  # stable, unique within a dataset, e.g. "gsm8k/train/12"
    problem: str  # the problem text, without any prompt template
    verifier: str  # key in rewards.registry, e.g. "math" or "code"
    gold: Any  # gold answer: str for math; {"tests": [...], ...} for code
    source: str  # source name, e.g. "gsm8k"
    split: str = "train"  # train | eval | test
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    difficulty: float | None = None  # base-model pass rate, None if not estimated

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        # Parquet needs one type per column: gold and metadata are stored as JSON text.
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Row":
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})


class RowError(ValueError):
    """A source record cannot be turned into a Row; the message says why."""


def validate_row(row: Row) -> None:
    if not isinstance(row.id, str) or not row.id:
        raise RowError("missing id")
    if not isinstance(row.problem, str) or not row.problem.strip():
        raise RowError("empty problem")
    if not isinstance(row.verifier, str) or not row.verifier:
        raise RowError("missing verifier key")
    if row.gold is None or (isinstance(row.gold, str) and not row.gold.strip()):
        raise RowError("empty gold answer")
    if row.split not in SPLITS:
        raise RowError(f"split {row.split!r} not in {SPLITS}")


def row_to_record(row: Row) -> dict[str, Any]:
    """Flat record for Parquet: `gold` and `metadata` as JSON strings."""
    d = dataclasses.asdict(row)
    d["gold"] = json.dumps(row.gold)
    d["metadata"] = json.dumps(row.metadata, default=str)
    return d


def record_to_row(d: dict[str, Any]) -> Row:
    d = dict(d)
    d["gold"] = json.loads(d["gold"]) if isinstance(d.get("gold"), str) else d.get("gold")
    d["metadata"] = json.loads(d["metadata"]) if isinstance(d.get("metadata"), str) else (d.get("metadata") or {})
    if d.get("difficulty") is not None and d["difficulty"] != d["difficulty"]:  # NaN from Parquet
        d["difficulty"] = None
    return Row.from_dict(d)


PARQUET_COLUMNS = ("id", "problem", "verifier", "gold", "source", "split", "metadata", "difficulty")


def write_rows_parquet(path, rows: list[Row]) -> None:
    """Write rows to one Parquet file (gold and metadata as JSON text, difficulty float or null)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, pa.float64() if c == "difficulty" else pa.string()) for c in PARQUET_COLUMNS])
    table = pa.Table.from_pylist([row_to_record(r) for r in rows], schema=schema)
    pq.write_table(table, path)


def read_rows_parquet(path, split: str | None = None) -> list[Row]:
    """Read rows written by `write_rows_parquet` (optionally only one split)."""
    import pyarrow.parquet as pq

    rows = [record_to_row(d) for d in pq.read_table(path).to_pylist()]
    return [r for r in rows if split is None or r.split == split]
