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
import difflib
import importlib
from typing import Callable

from data.schema import Row

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


@dataclasses.dataclass(frozen=True)
class Benchmark:
    name: str
    default_template: str
    load: Callable[..., list[Row]]


def names(include_generic: bool = False) -> list[str]:
    return [n for n in BENCHMARKS if include_generic or n not in GENERIC]


def check(name: str) -> None:
    """Raise KeyError with a did-you-mean hint when `name` is not a registered benchmark."""
    if name not in BENCHMARKS:
        close = difflib.get_close_matches(name, list(BENCHMARKS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"unknown benchmark {name!r}.{hint} Known: {', '.join(BENCHMARKS)}")


def get(name: str) -> Benchmark:
    check(name)
    mod_name, attr = BENCHMARKS[name].split(":")
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        if e.name != mod_name:
            raise
        raise ModuleNotFoundError(f"benchmark {name!r} is registered to {mod_name}, which is not installed/written yet") from e
    return Benchmark(name=getattr(mod, "NAME", name), default_template=getattr(mod, "DEFAULT_TEMPLATE", "boxed"),
                     load=getattr(mod, attr))


if __name__ == "__main__":
    for n in names(include_generic=True):
        try:
            print(f"{n:15s} template={get(n).default_template}")
        except ModuleNotFoundError as e:
            print(f"{n:15s} unavailable: {e}")
