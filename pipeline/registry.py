"""The one registry mechanism behind verifiers, data sources and benchmarks.

A `Registry` maps a name to a target: a callable, or a lazy "module:attr" string imported on
first `get`. Names registered twice to different targets are an error; an unknown name gets a
did-you-mean hint. Every list of names (CLI choices, config validation, docs) reads `names()`.
It imports nothing heavy, so `rewards/` can use it without pulling in torch.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any, Callable


class Registry:
    def __init__(self, kind: str, builtin: dict[str, Any] | None = None):
        self.kind = kind  # what the names are, for messages: "verifier", "data source", ...
        self._targets: dict[str, Any] = dict(builtin or {})

    def register(self, name: str, target: Callable | str | None = None):
        """Register `target` (a callable or "module:attr") under `name`; usable as a decorator."""

        def _add(fn):
            existing = self._targets.get(name)
            same = existing is fn or existing == f"{getattr(fn, '__module__', '')}:{getattr(fn, '__name__', '')}"
            if existing is not None and not same:
                raise ValueError(f"{self.kind} {name!r} is already registered to {existing!r}")
            self._targets[name] = fn
            return fn

        return _add(target) if target is not None else _add

    def check(self, name: str) -> None:
        if name not in self._targets:
            close = difflib.get_close_matches(name, list(self._targets), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise KeyError(f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(self.names())}")

    def get(self, name: str) -> Any:
        self.check(name)
        target = self._targets[name]
        if isinstance(target, str):
            mod, attr = target.split(":")
            target = getattr(importlib.import_module(mod), attr)
            self._targets[name] = target
        return target

    def names(self) -> list[str]:
        return sorted(self._targets)

    def __iter__(self):
        return iter(list(self._targets))  # registration order

    def __contains__(self, name: str) -> bool:
        return name in self._targets


def load_plugins(modules: list[str]) -> None:
    """Import user modules (dotted paths) whose `register` decorators add entries."""
    for mod in modules:
        importlib.import_module(mod)
