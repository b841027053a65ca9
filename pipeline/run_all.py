"""Run the stages in order from one config (each stage in its own process).

    python scripts/run_all.py --config configs/demo.yaml [--run-dir runs/demo] [--force] [--only train,evaluate]

The config lists stages; each names its script, its arguments (where `{name}` stands for
the output directory of an earlier stage) and its output sub-directory. Each stage reads its
upstream manifest and is a no-op when nothing changed, so re-running the whole chain after
a crash redoes only what is missing. Ends by printing `status` for the run directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import time
from pathlib import Path

from pipeline.config import ConfigError, load_config
from pipeline.datadir import REPO_ROOT
from pipeline.status import status


@dataclasses.dataclass
class StageEntry:
    name: str
    """Stage name; later stages refer to its output directory as `{name}`."""
    script: str
    """Script to run, relative to the repository root (e.g. scripts/01_curate.py)."""
    args: list[str] = dataclasses.field(default_factory=list)
    """Arguments before `--out`; `{other_stage}` is replaced by that stage's output directory."""


@dataclasses.dataclass
class RunAllConfig:
    run_dir: str = "runs/demo"
    """Directory that receives one sub-directory per stage."""
    stages: list[StageEntry] = dataclasses.field(default_factory=list)
    """Stages in run order."""

    def validate(self) -> None:
        seen = set()
        for s in self.stages:
            if s.name in seen:
                raise ConfigError(f"stages: duplicate stage name {s.name!r}")
            if not (REPO_ROOT / s.script).exists():
                raise ConfigError(f"stages.{s.name}.script: {s.script} does not exist")
            seen.add(s.name)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run every stage in order")
    ap.add_argument("--config", required=True)
    ap.add_argument("--run-dir", help="override run_dir from the config")
    ap.add_argument("--force", action="store_true", help="re-run every stage even if up to date")
    ap.add_argument("--only", help="comma-separated stage names to run (their inputs must exist)")
    args = ap.parse_args(argv)
    cfg = load_config(RunAllConfig, args.config)
    run_dir = Path(args.run_dir or cfg.run_dir).resolve()
    outs = {s.name: str(run_dir / s.name) for s in cfg.stages}
    only = set(args.only.split(",")) if args.only else None
    for s in cfg.stages:
        if only and s.name not in only:
            continue
        cmd = [sys.executable, str(REPO_ROOT / s.script), *[a.format(**outs) for a in s.args], "--out", outs[s.name]]
        if args.force:
            cmd.append("--force")
        print(f"\n=== stage {s.name}: {' '.join(cmd[1:])}", flush=True)
        t0 = time.time()
        rc = subprocess.run(cmd, cwd=REPO_ROOT).returncode
        if rc != 0:
            print(f"=== stage {s.name} failed (exit {rc}); later stages not run. Fix and re-run: finished "
                  "stages are skipped, interrupted ones resume.", flush=True)
            return rc
        print(f"=== stage {s.name} done in {time.time() - t0:.1f}s", flush=True)
    print(f"\n=== status {run_dir}")
    return status(run_dir)


if __name__ == "__main__":
    sys.exit(main())
