"""The one benchmark table: every evaluation set and standard maths dataset is a row here.

Evaluation (eval/evaluate.py, through eval.benchmarks.registry), curation sources (`kind: gsm8k`,
`kind: math`, ...; data.registry) and decontamination (`decontaminate_against`, data/curate.py) all
load benchmarks through this table, so curation removes exactly the problems evaluation scores:
the same names, the same records, the same mapping to rows and the same data directory.

Where a benchmark split's records come from, first match wins:
1. `<data_dir>/unified/<stem>.jsonl`, the small common schema (id, problem, answer, ...; see
   ../shared/benchmarks/README.md), mapped by the benchmark's `unified` mapper (default: as is);
2. `<data_dir>/<stem>.jsonl`, the original records, mapped by its `original` mapper;
3. the Hugging Face hub copy (`datasets.load_dataset`), mapped by the same `original` mapper.
`prefer="original"` swaps 1 and 2; `prefer="hub"` goes straight to 3. `data_dir` defaults to
RLVR_DATA_DIR, else ../shared/benchmarks (pipeline.datadir); a data_dir named explicitly that
holds neither file is an error, not a silent download. Mappers live in data/benchmark_records.py.

Records become rows through data.sources.base: id "<name>/<record id>", every other field kept in
metadata with "origin" (file:line or hub:name[split]#i). `Benchmark.load` gives evaluation's rows
(the eval split, a record that cannot be read raises, `limit` = a seeded subset); `load_source` is
the data.registry loader (a bad record is quarantined, `limit` = the first rows).

    python -m data.benchmarks               # list the benchmarks
    python -m data.benchmarks math500 3     # print 3 seeded rows of one
"""

from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path
from typing import Callable, Iterator

from data import benchmark_records as R
from data.schema import Row
from data.sources.base import BadRecord, SourceSpec, read_jsonl, records_to_rows
from pipeline.datadir import data_dir as default_data_dir
from pipeline.registry import Registry


@dataclasses.dataclass(frozen=True)
class HubSpec:
    path: str  # hub dataset name ("HuggingFaceH4/MATH-500"), or a builder ("json") given data_files
    name: str | None = None  # dataset config ("main" for gsm8k)
    split: str = "test"
    data_files: str | None = None  # local files for the builder (tests run the hub code path on them)


@dataclasses.dataclass(frozen=True)
class Benchmark:
    name: str
    files: dict[str, str]
    """split -> file stem, read as `unified/<stem>.jsonl` or `<stem>.jsonl` under the data directory."""
    hub: dict[str, tuple[HubSpec, ...]]
    """split -> the hub datasets whose records make it up (read when there is no local copy)."""
    original: R.Mapper
    """Original (hub) record -> common fields."""
    unified: R.Mapper | None = None
    """Unified record -> common fields; None: the record already has them."""
    default_template: str = "boxed"
    """Prompt template evaluation uses (pipeline.prompts): boxed for maths, code for code."""
    select: Callable[[list[Row], str], list[Row]] | None = None
    """Rows of a split when several splits share one file (MBPP), in their reported order."""
    listed: bool = True
    """Listed among evaluation's benchmarks (reports, CLI help, eval.reference). MATH's full test and HMMT
    are curation sets first (a training source, extra decontamination) and are evaluated only when named."""
    eval_split: str = "test"

    def items(self, spec: SourceSpec, split: str | None = None, data_dir: str | os.PathLike | None = None,
              prefer: str = "unified") -> list[Row | BadRecord]:
        """Rows of `split` labelled and limited as `spec` says, and a BadRecord for each unreadable record."""
        split = split or self.eval_split
        if split not in self.files:
            raise ValueError(f"benchmark {self.name!r}: split {split!r} not available; choose one of {sorted(self.files)}")
        local = None if prefer == "hub" else local_file(self.files[split], data_dir, prefer)
        whole = dataclasses.replace(spec, limit=None)
        if local is not None:
            mapper = self.unified if local[1] else self.original
            items = list(read_jsonl(local[0], whole, mapper and (lambda r, i: mapper(r, i, split))))
        else:
            items = list(records_to_rows(hub_records(self.name, self.hub[split]), whole,
                                         lambda r, i: self.original(r, i, split)))
        if self.select is not None:
            items = [x for x in items if isinstance(x, BadRecord)] + self.select([x for x in items if isinstance(x, Row)], split)
        return first_rows(items, spec.limit)

    def load(self, data_dir: str | os.PathLike | None = None, limit: int | None = None, seed: int = 0,
             split: str | None = None, prefer: str = "unified") -> list[Row]:
        """Evaluation's rows: the eval split (or `split`), all readable (else ValueError), a seeded subset of `limit`."""
        items = self.items(SourceSpec(kind=self.name, split="test"), split, data_dir, prefer)
        bad = [x for x in items if isinstance(x, BadRecord)]
        if bad:
            raise ValueError(f"benchmark {self.name!r}: {len(bad)} record(s) cannot be read; first: "
                             f"{bad[0].origin}: {bad[0].reason} {bad[0].detail}")
        return seeded_subset(items, limit, seed)


def _mbpp_select(rows: list[Row], split: str) -> list[Row]:
    return sorted((r for r in rows if split == "all" or r.metadata["mbpp_split"] == split),
                  key=lambda r: r.metadata["task_id"])


def _hub(path: str, name: str | None = None, **split_to_hub_split: str) -> dict[str, tuple[HubSpec, ...]]:
    return {s: (HubSpec(path, name, hs),) for s, hs in split_to_hub_split.items()}


_MBPP_HUB = {s: (HubSpec("mbpp", "sanitized", s),) for s in R.MBPP_SPLITS}
TABLE = [
    Benchmark("aime24", {"test": "aime24"}, _hub("HuggingFaceH4/aime_2024", test="train"), R.contest()),
    Benchmark("aime25", {"test": "aime25"}, _hub("MathArena/aime_2025", test="train"), R.contest()),
    Benchmark("amc23", {"test": "amc23"}, _hub("math-ai/amc23", test="test"), R.contest("amc23_")),
    Benchmark("math500", {"test": "math500"}, _hub("HuggingFaceH4/MATH-500", test="test"), R.math500),
    Benchmark("gsm8k", {"train": "gsm8k_train", "test": "gsm8k_test"}, _hub("openai/gsm8k", "main", train="train",
                                                                            test="test"), R.gsm8k),
    Benchmark("minerva", {"test": "minerva_math"}, _hub("math-ai/minervamath", test="test"), R.minerva,
              R.minerva_unified),
    Benchmark("olympiadbench", {"test": "olympiadbench"}, _hub("Hothan/OlympiadBench", "OE_TO_maths_en_COMP",
                                                               test="train"), R.olympiadbench),
    Benchmark("humaneval", {"test": "humaneval"}, _hub("openai_humaneval", test="test"), R.humaneval, R.humaneval,
              "code"),
    Benchmark("mbpp", {s: "mbpp_sanitized" for s in (*R.MBPP_SPLITS, "all")},
              {**_MBPP_HUB, "all": sum(_MBPP_HUB.values(), ())}, R.mbpp, R.mbpp, "code", _mbpp_select),
    Benchmark("math", {"train": "math_train", "test": "math_test_full"},
              _hub("DigitalLearningGmbH/MATH-lighteval", train="train", test="test"), R.math_dataset, listed=False),
    Benchmark("hmmt", {"test": "hmmt_feb25"}, _hub("MathArena/hmmt_feb_2025", test="train"), R.contest(),
              listed=False),
]
BENCHMARKS = Registry("benchmark", {b.name: b for b in TABLE})
register, check = BENCHMARKS.register, BENCHMARKS.check  # check: KeyError with a did-you-mean hint


def get(name: str) -> Benchmark:
    return BENCHMARKS.get(name)


def names(listed_only: bool = False) -> list[str]:
    """Every benchmark (curation: sources, decontamination), or those evaluation lists; in table order."""
    return [n for n in BENCHMARKS if not listed_only or get(n).listed]


def local_file(stem: str, data_dir: str | os.PathLike | None = None,
               prefer: str = "unified") -> tuple[Path, bool] | None:
    """(path, is unified) of a local copy, None when there is none (use the hub). An explicit
    `data_dir` must exist and hold it; the default is pipeline.datadir's."""
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        raise FileNotFoundError(f"benchmark data directory {data_dir} does not exist")
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    for unified in ((False, True) if prefer == "original" else (True, False)) if root else ():
        path = root / "unified" / f"{stem}.jsonl" if unified else root / f"{stem}.jsonl"
        if path.exists():
            return path, unified
    if data_dir is not None:
        raise FileNotFoundError(f"benchmark data directory {data_dir} has no unified/{stem}.jsonl or {stem}.jsonl")
    print(f"[benchmarks] {stem}.jsonl not found locally (data dir: {root}); loading it from the hub", flush=True)
    return None


def hub_records(label: str, hubs: tuple[HubSpec, ...]) -> Iterator[tuple[str, int, str, dict]]:
    """(origin, index, raw text, record) of each record of the hub datasets, in order."""
    from data.sources.hub import open_dataset

    for hub in hubs:
        where = {"builder": hub.path, "data_files": hub.data_files} if hub.data_files else {"name": hub.path,
                                                                                          "config": hub.name}
        ds, origin = open_dataset(SourceSpec(kind="hub", name=label, options={**where, "hub_split": hub.split}))
        for i, rec in enumerate(ds):
            yield f"{origin}#{i}", i, str(rec)[:500], dict(rec)


def first_rows(items: list[Row | BadRecord], limit: int | None) -> list[Row | BadRecord]:
    """Items up to and including the `limit`-th row (all when limit is None)."""
    out, n = [], 0
    for x in items:
        if limit is not None and n >= limit:
            break
        out.append(x)
        n += isinstance(x, Row)
    return out


def seeded_subset(items: list, limit: int | None, seed: int = 0) -> list:
    """`limit` items drawn with `random.Random(seed)`, kept in original order; all when limit is None/0."""
    if not limit or limit >= len(items):
        return list(items)
    keep = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in keep]


def load_source(spec: SourceSpec) -> Iterator[Row | BadRecord]:
    """The data.registry loader of every benchmark kind. Options: `split` (default: train for a train-split
    source when the benchmark has one, else the eval split), `data_dir`, `prefer` (unified | original | hub)."""
    bench = get(spec.kind)
    split = spec.options.get("split") or ("train" if spec.split == "train" and "train" in bench.files
                                          else bench.eval_split)
    yield from bench.items(spec, split, spec.options.get("data_dir"), spec.options.get("prefer", "unified"))


if __name__ == "__main__":
    import json
    import sys

    if len(sys.argv) < 2:
        for b in TABLE:
            print(f"{b.name:15s} template={b.default_template:6s} splits={','.join(b.files):34s} listed={b.listed}")
    for row in get(sys.argv[1]).load(limit=int(sys.argv[2]) if len(sys.argv) > 2 else 3) if len(sys.argv) > 1 else []:
        print(json.dumps({"id": row.id, "gold": row.gold, "problem": row.problem[:120]}, ensure_ascii=False))
