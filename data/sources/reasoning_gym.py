"""Optional source: procedurally generated tasks from the `reasoning-gym` library.

    - kind: reasoning_gym
      options: {dataset: basic_arithmetic, size: 500, seed: 0, params: {min_terms: 2}}

When `reasoning_gym` is not installed the loader raises `SourceUnavailable`; the curation
stage skips the source, records it under `metrics.sources_skipped` and carries on.
Golds are the library's `answer` strings; rows use the spec's verifier (default "math"),
and answers that verifier cannot parse are quarantined like any other bad gold.
"""

from __future__ import annotations

from typing import Iterator

from data.schema import Row
from data.sources.base import BadRecord, SourceSpec, SourceUnavailable, record_to_source_row


def load_reasoning_gym(spec: SourceSpec) -> Iterator[Row | BadRecord]:
    try:
        import reasoning_gym
    except ImportError as e:
        raise SourceUnavailable(f"source {spec.label!r}: reasoning-gym is not installed "
                                f"(pip install reasoning-gym) ({e})") from None
    opts = spec.options
    name = opts.get("dataset", "basic_arithmetic")
    size = int(opts.get("size", 100)) if spec.limit is None else min(int(opts.get("size", 100)), spec.limit)
    ds = reasoning_gym.create_dataset(name, size=size, seed=int(opts.get("seed", 0)), **(opts.get("params") or {}))
    for i, item in enumerate(ds):
        rec = {"id": f"{name}/{i}", "problem": item["question"], "answer": str(item["answer"]),
               "rg_dataset": name, "rg_metadata": item.get("metadata", {})}
        yield record_to_source_row(rec, spec, f"reasoning_gym:{name}#{i}", i)
