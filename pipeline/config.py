"""Typed configs: dataclasses loaded from YAML plus `key.sub=value` command-line overrides.

Every stage config is a dataclass whose fields are documented once, in the class body
(a string literal under each field). `load_config(cls, path, overrides)` builds it,
rejecting unknown fields and wrong types with a message that names the field (and the
closest valid name), then calls the dataclass's own `validate()` if it has one.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or override names an unknown field or holds an invalid value."""


def _did_you_mean(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1) or [o for o in options if name.startswith(o) or o.startswith(name)]
    return f" Did you mean {close[0]!r}?" if close else f" Valid fields: {', '.join(sorted(options))}."


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check/convert `value` against the annotation `tp`; raise ConfigError naming `where`."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin is typing.Literal:
        if isinstance(value, bool) and value not in args and ("yes", "no")[not value] in args:
            value = ("yes", "no")[not value]  # YAML 1.1 reads a bare `no` / `yes` as a boolean
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, prefix=where + ".")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        out = [_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        return out if origin is list else tuple(out)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        vt = args[1] if len(args) == 2 else Any
        return {k: _coerce(v, vt, f"{where}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def _onto_default(field: dataclasses.Field, tp: Any, value: Any) -> Any:
    """A mapping for a nested-dataclass field overrides only the keys it names: the others keep the field's own
    default (e.g. an evaluation's `vllm.gpu_memory_utilization` of 0.85 survives `vllm.dtype=bfloat16`)."""
    if not (dataclasses.is_dataclass(tp) and isinstance(value, dict)):
        return value
    if field.default_factory is dataclasses.MISSING:
        return value
    default = field.default_factory()
    if not isinstance(default, tp):
        return value
    return {**{f.name: getattr(default, f.name) for f in dataclasses.fields(tp)}, **value}


def from_dict(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or cls.__name__}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    names = list(fields)
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            raise ConfigError(f"unknown config field '{prefix}{key}' in {cls.__name__}.{_did_you_mean(key, names)}")
        kwargs[key] = _coerce(_onto_default(fields[key], hints[key], value), hints[key], f"{prefix}{key}")
    try:
        obj = cls(**kwargs)
    except TypeError as e:  # a required field is missing
        raise ConfigError(f"{cls.__name__}: {e}") from e
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()
    return obj


def to_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.sub=value")
    key, raw = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(raw) if raw != "" else ""


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    data = dict(data)
    for text in overrides or []:
        path, value = _parse_override(text)
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {text!r}: {part!r} is not a section")
        node[path[-1]] = value
    return data


def load_yaml(path: str | Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return data


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] | None = None,
                section: str | None = None) -> T:
    """Load `cls` from a YAML file (optionally one top-level `section` of it) plus overrides."""
    data = load_yaml(path)
    if section is not None:
        data = data.get(section, {}) or {}
    data = apply_overrides(data, overrides or [])
    where = f" (from {path})" if path else ""
    try:
        return from_dict(cls, data)
    except ConfigError as e:
        raise ConfigError(f"{e}{where}") from None
