"""Hugging Face `datasets` source: a hub name, a local `save_to_disk` copy, or local data files.

    - kind: hub
      options: {name: openai/gsm8k, config: main, hub_split: train, problem_key: question, answer_key: answer}
    - kind: hub
      path: /data/gsm8k_saved           # datasets.load_from_disk copy (a DatasetDict needs hub_split)
    - kind: hub
      options: {builder: json, data_files: /data/train.jsonl}

Fields map to a Row as in the JSONL source; `answer_regex` (optional) extracts the gold from
the answer field (GSM8K: "#### (.*)$"). Nothing is fetched from the hub when a `path` or
`data_files` is given.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from data.schema import Row
from data.sources.base import BadRecord, SourceSpec, record_to_source_row


def open_dataset(spec: SourceSpec):
    import datasets

    opts = spec.options
    split = opts.get("hub_split", "train")
    if spec.path and Path(spec.path).expanduser().exists():
        ds = datasets.load_from_disk(str(Path(spec.path).expanduser()))
        return (ds[split] if isinstance(ds, datasets.DatasetDict) else ds), f"disk:{spec.path}"
    if opts.get("data_files"):
        builder = opts.get("builder", "json")
        ds = datasets.load_dataset(builder, data_files=opts["data_files"], split=split)
        return ds, f"{builder}:{opts['data_files']}"
    name = opts.get("name")
    if not name:
        raise ValueError(f"source {spec.label!r}: kind hub needs options.name, options.data_files or a path")
    return datasets.load_dataset(name, opts.get("config"), split=split), f"hub:{name}[{split}]"


def _extract(value: Any, pattern: str | None) -> Any:
    if pattern is None or not isinstance(value, str):
        return value
    m = re.search(pattern, value, flags=re.S | re.M)
    return m.group(1).strip().replace(",", "") if m else None


def load_hub(spec: SourceSpec) -> Iterator[Row | BadRecord]:
    ds, where = open_dataset(spec)
    ak, pattern = spec.options.get("answer_key", "answer"), spec.options.get("answer_regex")
    for i, rec in enumerate(ds):
        if spec.limit is not None and i >= spec.limit:
            return
        rec = dict(rec)
        if pattern and ak in rec:
            raw, rec[ak] = rec[ak], _extract(rec[ak], pattern)
            if rec[ak] is None:
                yield BadRecord(spec.label, f"{where}#{i}", "answer_not_found", f"no match for {pattern!r}", str(raw)[:500])
                continue
        yield record_to_source_row(rec, spec, f"{where}#{i}", i)
