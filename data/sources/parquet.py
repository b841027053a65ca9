"""Local Parquet source (one file or a directory of *.parquet), mapped like the JSONL source.

Files written by this project's curation stage (with `gold` and `metadata` stored as JSON
text) are read back through `data.schema.record_to_row`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from data.schema import Row, record_to_row
from data.sources.base import BadRecord, SourceSpec, record_to_source_row


def load_parquet(spec: SourceSpec) -> Iterator[Row | BadRecord]:
    import pyarrow.parquet as pq

    if not spec.path:
        raise ValueError(f"source {spec.label!r}: kind parquet needs a `path`")
    p = Path(spec.path).expanduser()
    files = sorted(p.glob("*.parquet")) if p.is_dir() else [p]
    n = 0
    for f in files:
        for i, rec in enumerate(pq.read_table(f).to_pylist()):
            origin = f"{f}#row{i}"
            if {"id", "problem", "verifier", "gold", "source"} <= set(rec) and isinstance(rec.get("metadata"), str):
                row = record_to_row(rec)
                row.metadata.setdefault("origin", origin)
                row.source, row.split = spec.label, spec.split if spec.options.get("override_split") else row.split
                yield row
            else:
                yield record_to_source_row(rec, spec, origin, i)
            n += 1
            if spec.limit is not None and n >= spec.limit:
                return
