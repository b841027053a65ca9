"""The one registry of evaluation benchmarks: name -> lazy "module:attr" of its `load` function.

Every list of benchmark names (CLI choices, config validation, docs, tests) reads `names()`.
A benchmark module exposes NAME, DEFAULT_TEMPLATE and
`load(data_dir=None, limit=None, seed=0) -> list[data.schema.Row]`; `get(name)` imports it
on first use and returns a `Benchmark` handle. `jsonl` is the generic user-file benchmark
(extra keyword arguments: path, verifier, field names; see eval/benchmarks/jsonl.py).

    python -m eval.benchmarks.registry          # list the benchmarks and their templates
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Callable

from data.schema import Row
from pipeline.registry import Registry

BENCHMARKS: dict[str, str] = {
    "aime24": "eval.benchmarks.aime24:load",
    "aime25": "eval.benchmarks.aime25:load",
    "amc23": "eval.benchmarks.amc23:load",
    "math500": "eval.benchmarks.math500:load",
    "gsm8k": "eval.benchmarks.gsm8k:load",
    "minerva": "eval.benchmarks.minerva:load",
    "olympiadbench": "eval.benchmarks.olympiadbench:load",
    "humaneval": "eval.benchmarks.humaneval:load",
    "mbpp": "eval.benchmarks.mbpp:load",
    "jsonl": "eval.benchmarks.jsonl:load",
}
GENERIC = ("jsonl",)  # needs a user file; not a fixed benchmark
_REGISTRY = Registry("benchmark", BENCHMARKS)
register = _REGISTRY.register


@dataclasses.dataclass(frozen=True)
class Benchmark:
    name: str
    default_template: str
    load: Callable[..., list[Row]]


def names(include_generic: bool = False) -> list[str]:
    return [n for n in _REGISTRY if include_generic or n not in GENERIC]  # registration order, for reports


check = _REGISTRY.check  # KeyError with a did-you-mean hint for an unknown name


def get(name: str) -> Benchmark:
    load = _REGISTRY.get(name)
    mod = importlib.import_module(load.__module__)
    return Benchmark(name=getattr(mod, "NAME", name), default_template=getattr(mod, "DEFAULT_TEMPLATE", "boxed"),
                     load=load)


if __name__ == "__main__":
    for n in names(include_generic=True):
        try:
            print(f"{n:15s} template={get(n).default_template}")
        except ModuleNotFoundError as e:
            print(f"{n:15s} unavailable: {e}")
