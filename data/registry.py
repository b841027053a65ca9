"""One registry of data sources: a name maps to a loader, imported lazily from "module:attr".

A loader has the signature `loader(spec: SourceSpec) -> Iterator[Row | BadRecord]`: it yields
normalised rows, and a `BadRecord` (file, line, reason, raw text) for anything it cannot turn
into a row, so the curation stage can quarantine it instead of aborting. Every list of source
names (config validation, CLI help, docs) reads `names()`.

Add a source in one place:

    from data.registry import register
    @register("my_source")
    def load_my_source(spec): yield Row(...)

or list "module:attr" in `_BUILTIN` below.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Callable

_BUILTIN: dict[str, str] = {
    "jsonl": "data.sources.jsonl:load_jsonl",
    "parquet": "data.sources.parquet:load_parquet",
    "hub": "data.sources.hub:load_hub",
    "gsm8k": "data.sources.benchmarks:load_gsm8k",
    "math": "data.sources.benchmarks:load_math",
    "aime24": "data.sources.benchmarks:load_aime24",
    "aime25": "data.sources.benchmarks:load_aime25",
    "amc23": "data.sources.benchmarks:load_amc23",
    "math500": "data.sources.benchmarks:load_math500",
    "minerva": "data.sources.benchmarks:load_minerva",
    "olympiadbench": "data.sources.benchmarks:load_olympiadbench",
    "hmmt": "data.sources.benchmarks:load_hmmt",
    "procedural": "data.sources.procedural:load_procedural",
    "reasoning_gym": "data.sources.reasoning_gym:load_reasoning_gym",
}
_REGISTRY: dict[str, Callable | str] = dict(_BUILTIN)


def register(name: str, target: Callable | str | None = None):
    """Register `target` (a loader or "module:attr") under `name`; usable as a decorator."""

    def _add(fn):
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not fn and existing != f"{fn.__module__}:{fn.__name__}":
            raise ValueError(f"data source {name!r} is already registered to {existing!r}")
        _REGISTRY[name] = fn
        return fn

    return _add(target) if target is not None else _add


def get(name: str) -> Callable:
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"unknown data source {name!r}.{hint} Known: {', '.join(names())}")
    target = _REGISTRY[name]
    if isinstance(target, str):
        mod, attr = target.split(":")
        target = getattr(importlib.import_module(mod), attr)
        _REGISTRY[name] = target
    return target


def names() -> list[str]:
    return sorted(_REGISTRY)
