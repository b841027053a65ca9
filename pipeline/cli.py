"""Shared command-line behaviour of the stage scripts.

`stage_args` + `section_config` parse the arguments every stage takes and load its typed config.

`guarded(main)` runs a script's `main()` and turns the errors a user can fix (a missing,
incomplete or tampered input manifest; an invalid config; a rollout engine that is not installed)
into one clear line on stderr and exit status 2, instead of a traceback; it first applies
`allocator.tune_allocator()`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, TypeVar

from pipeline.allocator import tune_allocator
from pipeline.config import ConfigError, load_config, load_yaml
from pipeline.manifest import ManifestError
from pipeline.rollout.base import EngineUnavailable

T = TypeVar("T")


def guarded(main: Callable[[], int]) -> int:
    tune_allocator()
    try:
        return main()
    except ManifestError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    except EngineUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def stage_args(doc: str, section: str, example: str, argv: list[str] | None = None,
               extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """The arguments every stage script takes: --config, --out, --force and key=value overrides."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help=f"YAML file (a `{section}:` section or the bare config)")
    ap.add_argument("--out", required=True, help="output directory of the stage")
    ap.add_argument("--force", action="store_true", help="re-run even when the output is up to date")
    if extra is not None:
        extra(ap)
    ap.add_argument("overrides", nargs="*", help=f"key=value overrides of the `{section}:` section, e.g. {example}")
    return ap.parse_args(argv)


def section_config(cls: type[T], section: str, args: argparse.Namespace) -> T:
    """Load `cls` from the file's `section` (or the whole file when it has no such section) plus overrides."""
    has_section = section in load_yaml(args.config)
    return load_config(cls, args.config, args.overrides, section=section if has_section else None)


def run_section_stage(doc: str, section: str, cls: type[T], run: Callable, example: str,
                      summary: Callable[[dict], str], argv: list[str] | None = None) -> int:
    """The whole `main()` of a stage script whose config is one section: parse, load, run, print a summary line."""
    args = stage_args(doc, section, example, argv)
    m = run(section_config(cls, section, args), args.out, force=args.force)
    print(summary(m.metrics))
    return 0
