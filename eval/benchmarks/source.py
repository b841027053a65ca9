"""Where a benchmark's records come from: the local data directory or the Hugging Face hub.

Every benchmark module calls `load_records(...)` with two mappings, one for the local
`unified/` file (see ../shared/benchmarks/README.md) and one for the hub dataset's own
fields, and gets back `data.schema.Row`s. Resolution order:

1. `data_dir` argument, then `RLVR_DATA_DIR`, then `../shared/benchmarks` (`pipeline.datadir`);
   the local `unified/<file>` is read when present;
2. otherwise `datasets.load_dataset(hub.path, hub.name, split=hub.split)`.

Subsets are seeded: `limit` problems drawn without replacement with `random.Random(seed)`,
returned in their original order, so the same (limit, seed) always gives the same problems.

    python -m eval.benchmarks.source math500 5     # print 5 seeded rows of a benchmark
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
from pathlib import Path
from typing import Any, Callable

from data.schema import Row
from pipeline.datadir import data_dir as resolve_data_dir


@dataclasses.dataclass(frozen=True)
class HubSpec:
    path: str  # hub dataset name, e.g. "HuggingFaceH4/MATH-500"
    name: str | None = None  # dataset config, e.g. "main" for gsm8k
    split: str = "test"


Mapper = Callable[[dict[str, Any], int], Row]  # (record, index) -> Row


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_hub(path: str, name: str | None = None, split: str = "test",
             data_files: str | list[str] | None = None) -> list[dict[str, Any]]:
    """The real hub code path; `load_hub("json", data_files=...)` runs it on a local file (tests)."""
    import datasets

    ds = datasets.load_dataset(path, name, split=split, data_files=data_files)
    return [dict(r) for r in ds]


def seeded_subset(items: list, limit: int | None, seed: int = 0) -> list:
    """`limit` items drawn with `random.Random(seed)`, kept in original order; all when limit is None/0."""
    if not limit or limit >= len(items):
        return list(items)
    keep = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in keep]


def load_records(local_file: str, hub: HubSpec, from_local: Mapper, from_hub: Mapper,
                 data_dir: str | os.PathLike | None = None, limit: int | None = None, seed: int = 0) -> list[Row]:
    """Rows of one benchmark from the local data directory when present, else from the hub."""
    if data_dir is not None and not (Path(data_dir) / local_file).exists():
        raise FileNotFoundError(f"benchmark data directory {data_dir} has no {local_file}")
    root = resolve_data_dir(data_dir)
    if root is not None and (root / local_file).exists():
        records, mapper = read_jsonl(root / local_file), from_local
    else:
        print(f"[benchmarks] {local_file} not found locally (data dir: {root}); loading {hub.path} from the hub",
              flush=True)
        records, mapper = load_hub(hub.path, hub.name, hub.split), from_hub
    rows = [mapper(r, i) for i, r in enumerate(records)]
    return seeded_subset(rows, limit, seed)


def pick(record: dict[str, Any], *keys: str) -> Any:
    """The first present, non-empty field among `keys` (hub copies disagree on capitalisation)."""
    for k in keys:
        v = record.get(k)
        if v not in (None, "", []):
            return v
    raise KeyError(f"record has none of the fields {keys}; it has {sorted(record)}")


def last_boxed(text: str) -> str | None:
    """Contents of the last \\boxed{...} or \\fbox{...} in `text`, braces balanced; None if absent."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth, j = 1, i
    while j < len(text) and depth:
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        j += 1
    return text[i:j - 1] if depth == 0 else None


def integer_text(value: Any) -> str:
    """AIME/AMC answers: "025" -> "25", 27.0 -> "27"; other values as text."""
    s = str(value).strip()
    try:
        f = float(s)
    except ValueError:
        return s
    return str(int(f)) if f.is_integer() else s


def math_row(source: str, rec_id: Any, problem: str, answer: Any, **metadata: Any) -> Row:
    """A test row for the math verifier; `gold` is the bare answer text (no delimiters)."""
    return Row(id=f"{source}/{rec_id}", problem=str(problem), verifier="math", gold=str(answer).strip(),
               source=source, split="test", metadata={k: v for k, v in metadata.items() if v is not None})


if __name__ == "__main__":
    import sys

    from eval.benchmarks.registry import get

    bench = get(sys.argv[1])
    for row in bench.load(limit=int(sys.argv[2]) if len(sys.argv) > 2 else 3):
        print(json.dumps({"id": row.id, "gold": row.gold, "problem": row.problem[:120]}, ensure_ascii=False))
