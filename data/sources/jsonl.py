"""Local JSONL source: one record per line, fields mapped by `problem_key`/`answer_key`/`id_key`.

    - kind: jsonl
      path: my_problems.jsonl          # or a directory of *.jsonl files
      options: {problem_key: question, answer_key: final}

A malformed line is yielded as a BadRecord with "file:line", never raised.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from data.schema import Row
from data.sources.base import BadRecord, SourceSpec, read_jsonl


def load_jsonl(spec: SourceSpec) -> Iterator[Row | BadRecord]:
    if not spec.path:
        raise ValueError(f"source {spec.label!r}: kind jsonl needs a `path`")
    p = Path(spec.path).expanduser()
    files = sorted(p.glob("*.jsonl")) if p.is_dir() else [p]
    if not files or not files[0].exists():
        raise FileNotFoundError(f"source {spec.label!r}: no JSONL file at {p}")
    for f in files:
        yield from read_jsonl(f, spec)
