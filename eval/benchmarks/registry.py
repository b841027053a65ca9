"""Evaluation's names for benchmarks: the one benchmark table (data/benchmarks.py) plus `jsonl`.

The benchmarks themselves (names, local files, hub copies, gold mapping, default template) are
rows of data/benchmarks.py, which curation also decontaminates against, so evaluation scores
exactly the problems curation removed. This module only adds `jsonl`, the generic user-file
benchmark (extra keyword arguments: path, verifier, field names; see eval/benchmarks/jsonl.py).
Every list of benchmark names (CLI choices, config validation, docs, tests) reads `names()`;
`get(name)` returns a handle with `name`, `default_template` and
`load(data_dir=None, limit=None, seed=0) -> list[data.schema.Row]`.

    python -m eval.benchmarks.registry          # list the benchmarks and their templates
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from data import benchmarks as table
from data.schema import Row
from eval.benchmarks import jsonl

GENERIC = ("jsonl",)  # needs a user file; not a fixed benchmark


@dataclasses.dataclass(frozen=True)
class UserFileBenchmark:
    name: str
    default_template: str
    load: Callable[..., list[Row]]


def names(include_generic: bool = False) -> list[str]:
    """The listed benchmarks in table order (`math` and `hmmt` are evaluated only when named)."""
    return table.names(listed_only=True) + (list(GENERIC) if include_generic else [])


def check(name: str) -> None:
    """KeyError with a did-you-mean hint for an unknown name."""
    if name not in GENERIC:
        table.check(name)


def get(name: str) -> table.Benchmark | UserFileBenchmark:
    if name in GENERIC:
        return UserFileBenchmark(name, jsonl.DEFAULT_TEMPLATE, jsonl.load)
    return table.get(name)


if __name__ == "__main__":
    for n in names(include_generic=True):
        print(f"{n:15s} template={get(n).default_template}")
