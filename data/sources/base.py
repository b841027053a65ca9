"""What every source shares: the source spec (one entry of a curation config), the
`BadRecord` a loader yields for input it cannot use, and the mapping of a raw record to a Row.

A raw record becomes a Row through `record_to_source_row(record, spec, origin, index)`:
`problem_key`/`answer_key`/`id_key` options name the fields (defaults "problem", "answer",
"id"; records already in Row form with "gold" are taken as they are), every other field
is kept as a metadata key, and `metadata["origin"]`
records "file:line" (or "hub:name[split]#i") so removals can say where a row came from.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from data.schema import Row


@dataclasses.dataclass
class SourceSpec:
    kind: str
    """Registry key of the loader (see `data.registry.names()`), e.g. "gsm8k", "jsonl", "procedural"."""
    name: str | None = None
    """Label written to `row.source` and used in per-source counts; defaults to `kind`."""
    split: str = "train"
    """Split the rows go to in the curated dataset: train | eval | test."""
    path: str | None = None
    """File or directory for file-based sources (jsonl, parquet, hub local copies)."""
    limit: int | None = None
    """Keep only the first `limit` records of this source (None = all)."""
    verifier: str = "math"
    """Verifier key (rewards.registry) written to each row."""
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Source-specific options (field names, hub name/config/split, generator knobs)."""

    @property
    def label(self) -> str:
        return self.name or self.kind


@dataclasses.dataclass
class BadRecord:
    """Input a loader could not turn into a row: quarantined with its location, never dropped."""

    source: str
    origin: str  # "path:line" or similar
    reason: str  # short code, e.g. "malformed_json", "missing_field"
    detail: str = ""
    raw: str = ""


class SourceUnavailable(RuntimeError):
    """An optional source cannot run here (e.g. its library is not installed); the stage skips it and says so."""


def record_to_source_row(rec: dict[str, Any], spec: SourceSpec, origin: str, index: int) -> Row | BadRecord:
    """Map one raw record to a Row using the spec's field options (a BadRecord when impossible)."""
    if not isinstance(rec, dict):
        return BadRecord(spec.label, origin, "not_an_object", f"record is {type(rec).__name__}", str(rec)[:500])
    opts = spec.options
    pk, ak, ik = opts.get("problem_key", "problem"), opts.get("answer_key", "answer"), opts.get("id_key", "id")
    if "gold" in rec and ak not in rec:
        ak = "gold"
    missing = [k for k in (pk, ak) if k not in rec]
    if missing:
        return BadRecord(spec.label, origin, "missing_field", f"missing {missing}", json.dumps(rec)[:500])
    gold = rec[ak]
    if isinstance(gold, (int, float)) and not isinstance(gold, bool):
        gold = str(int(gold)) if float(gold).is_integer() else str(gold)
    meta = {k: v for k, v in rec.items() if k not in (pk, ak, ik, "metadata", "verifier", "split", "source")}
    if isinstance(rec.get("metadata"), dict):
        meta.update(rec["metadata"])
    meta["origin"] = origin
    rid = rec.get(ik)
    rid = f"{spec.label}/{rid}" if rid not in (None, "") else f"{spec.label}/{spec.split}/{index}"
    return Row(id=str(rid), problem=rec[pk] if isinstance(rec[pk], str) else str(rec[pk]),
               verifier=rec.get("verifier") or spec.verifier, gold=gold, source=spec.label,
               split=spec.split, metadata=meta)


def jsonl_records(path: str | Path) -> Iterator[tuple[int, str, Any]]:
    """(line number, line, parsed value) of every non-blank line of a JSONL file: the one JSONL reader.

    A malformed line yields its `json.JSONDecodeError` as the value, so each caller decides what it
    means: curation quarantines it (`read_jsonl`), evaluation raises (eval/benchmarks/jsonl.py).
    """
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield lineno, line, json.loads(line)
            except json.JSONDecodeError as e:
                yield lineno, line, e


Mapper = Callable[[dict, int], dict]  # (original record, its index) -> common fields (problem, answer, ...)


def records_to_rows(records: Iterable[tuple[str, int, str, Any]], spec: SourceSpec,
                    mapper: Mapper | None = None) -> Iterator[Row | BadRecord]:
    """Rows of `(origin, index, raw text, record)` tuples; what cannot be a row is a BadRecord naming its origin.

    `mapper` turns a source's original record into the common fields (problem, answer, ...); a record
    it cannot map is `malformed_record`, one that maps to no answer is `missing_answer`. A record that
    is a `json.JSONDecodeError` is `malformed_json`. At most `spec.limit` rows are yielded.
    """
    n = 0
    for origin, index, raw, rec in records:
        if isinstance(rec, json.JSONDecodeError):
            yield BadRecord(spec.label, origin, "malformed_json", str(rec), raw[:500])
            continue
        if mapper is not None:
            try:
                rec = mapper(rec, index)
            except (KeyError, TypeError, AttributeError, ValueError) as e:
                yield BadRecord(spec.label, origin, "malformed_record", f"{type(e).__name__}: {e}", raw[:500])
                continue
            rec = {k: v for k, v in rec.items() if k != "source" and v is not None}
            if "answer" not in rec:
                yield BadRecord(spec.label, origin, "missing_answer", "no gold answer in record", raw[:500])
                continue
        yield record_to_source_row(rec, spec, origin, index)
        n += 1
        if spec.limit is not None and n >= spec.limit:
            return


def read_jsonl(path: Path, spec: SourceSpec, mapper: Mapper | None = None) -> Iterator[Row | BadRecord]:
    """Rows of a JSONL file (`records_to_rows`); origins are "file:line"."""
    records = ((f"{path}:{lineno}", lineno - 1, line, rec) for lineno, line, rec in jsonl_records(path))
    yield from records_to_rows(records, spec, mapper)


def limited(items: Iterator, limit: int | None) -> Iterator:
    for i, x in enumerate(items):
        if limit is not None and i >= limit:
            return
        yield x
