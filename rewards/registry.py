"""One registry for verifiers: a name maps to a callable, imported lazily from "module:attr".

Add a verifier in one file:

    from rewards.registry import register
    @register("my_checker")
    def my_checker(completion, gold, **options) -> VerifyResult: ...

and either list it in `_BUILTIN` below or name the module in a config
(`rewards.plugins: [my_pkg.my_module]`), which imports it so its decorator runs.
Every list of verifier names (CLI choices, config validation, docs) reads `names()`.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Callable

_BUILTIN: dict[str, str] = {
    "math": "rewards.math:verify_math",
    "format_r1": "rewards.format:verify_format_r1",
    "code": "rewards.code:verify_code",
    "process": "rewards.process:verify_process",
}
_REGISTRY: dict[str, Callable | str] = dict(_BUILTIN)


def register(name: str, target: Callable | str | None = None):
    """Register `target` (a callable or "module:attr") under `name`; usable as a decorator."""

    def _add(fn):
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not fn and existing != _qualname(fn):
            raise ValueError(f"verifier {name!r} is already registered to {existing!r}")
        _REGISTRY[name] = fn
        return fn

    return _add(target) if target is not None else _add


def _qualname(fn) -> str:
    return f"{getattr(fn, '__module__', '')}:{getattr(fn, '__name__', '')}"


def load_plugins(modules: list[str]) -> None:
    """Import user modules (dotted paths) whose `@register` decorators add verifiers."""
    for mod in modules:
        importlib.import_module(mod)


def get(name: str) -> Callable:
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"unknown verifier {name!r}.{hint} Known: {', '.join(names())}")
    target = _REGISTRY[name]
    if isinstance(target, str):
        mod, attr = target.split(":")
        target = getattr(importlib.import_module(mod), attr)
        _REGISTRY[name] = target
    return target


def names() -> list[str]:
    return sorted(_REGISTRY)
