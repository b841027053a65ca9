"""Run the stages in order from one config (each stage in its own process).

    python scripts/run_all.py --config configs/demo.yaml [--run-dir runs/demo] [--force] [--only train,evaluate]

The config lists stages; each names its script, its arguments (where `{name}` stands for
the output directory of an earlier stage) and its output sub-directory. Each stage reads its
upstream manifest and is a no-op when nothing changed, so re-running the whole chain after
a crash redoes only what is missing. Ends by printing `status` for the run directory.

Iterative GRPO (`rounds:`): the consecutive stages named in `rounds.repeat` (e.g. difficulty, train) run
`rounds.count` times, round r into `<run_dir>/round<r>/<stage>`. From round 2 on, `rounds.next_round_args` are
appended to a repeated stage's arguments, and `{name}` always means the newest output of stage `name` so far:
with `model={train}` the difficulty stage re-estimates pass rates on the current policy, the curriculum is
rebuilt from them, and training continues from the last model. The reference model is then that policy too
(`reset_reference: true`), or stays the first round's starting model (`false`: `ref_model=` is appended).
Each round's stages are manifest-chained (the policy's training stage is an input manifest), so `status`
shows the lineage round by round, and re-running after a kill in any round resumes there.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

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
class RoundsConfig:
    count: int = 1
    """How many times the `repeat` stages run (1: a single pass, no round directories)."""
    repeat: list[str] = dataclasses.field(default_factory=list)
    """Names of consecutive stages run once per round, in order (e.g. [difficulty, train])."""
    next_round_args: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    """Arguments appended to a repeated stage from round 2 on (e.g. {train: ["model={train}"]})."""
    reset_reference: bool = True
    """From round 2: KL reference = the policy the round starts from (true), or the first round's model (false)."""


@dataclasses.dataclass
class RunAllConfig:
    run_dir: str = "runs/demo"
    """Directory that receives one sub-directory per stage."""
    stages: list[StageEntry] = dataclasses.field(default_factory=list)
    """Stages in run order."""
    rounds: RoundsConfig = dataclasses.field(default_factory=RoundsConfig)
    """Iterative GRPO: stages repeated round after round (see the module docstring)."""

    def validate(self) -> None:
        seen: list[str] = []
        for s in self.stages:
            if s.name in seen:
                raise ConfigError(f"stages: duplicate stage name {s.name!r}")
            if not (REPO_ROOT / s.script).exists():
                raise ConfigError(f"stages.{s.name}.script: {s.script} does not exist")
            seen.append(s.name)
        r = self.rounds
        if r.count < 1:
            raise ConfigError("rounds.count: must be >= 1")
        if r.count > 1 and not r.repeat:
            raise ConfigError("rounds.repeat: name the stages to run each round (e.g. [difficulty, train])")
        for name in [*r.repeat, *r.next_round_args]:
            if name not in seen:
                raise ConfigError(f"rounds: {name!r} is not a stage name; stages are {seen}")
        if r.repeat:
            at = [seen.index(n) for n in r.repeat]
            if at != list(range(at[0], at[0] + len(at))):
                raise ConfigError(f"rounds.repeat: {r.repeat} must be consecutive stages, in the stages' order")

    def schedule(self) -> list[tuple[StageEntry, int]]:
        """(stage, round) in run order; round 0 marks a stage outside the repeated block."""
        names = [s.name for s in self.stages]
        if not self.rounds.repeat or self.rounds.count == 1:
            return [(s, 0) for s in self.stages]
        first, last = names.index(self.rounds.repeat[0]), names.index(self.rounds.repeat[-1])
        block = [(s, r) for r in range(1, self.rounds.count + 1) for s in self.stages[first : last + 1]]
        return [(s, 0) for s in self.stages[:first]] + block + [(s, 0) for s in self.stages[last + 1 :]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run every stage in order")
    ap.add_argument("--config", required=True)
    ap.add_argument("--run-dir", help="override run_dir from the config")
    ap.add_argument("--force", action="store_true", help="re-run every stage even if up to date")
    ap.add_argument("--only", help="comma-separated stage names to run (their inputs must exist)")
    args = ap.parse_args(argv)
    cfg = load_config(RunAllConfig, args.config)
    run_dir = Path(args.run_dir or cfg.run_dir).resolve()
    only = set(args.only.split(",")) if args.only else None
    for s, r, cmd in commands(cfg, run_dir):
        if only and s.name not in only:
            continue
        if args.force:
            cmd.append("--force")
        label = f"{s.name} (round {r}/{cfg.rounds.count})" if r else s.name
        print(f"\n=== stage {label}: {' '.join(cmd[1:])}", flush=True)
        t0 = time.time()
        rc = subprocess.run(cmd, cwd=REPO_ROOT).returncode
        if rc != 0:
            print(f"=== stage {label} failed (exit {rc}); later stages not run. Fix and re-run: finished "
                  "stages are skipped, interrupted ones resume.", flush=True)
            return rc
        print(f"=== stage {label} done in {time.time() - t0:.1f}s", flush=True)
    print(f"\n=== status {run_dir}")
    return status(run_dir)


def commands(cfg: RunAllConfig, run_dir: Path) -> Iterator[tuple[StageEntry, int, list[str]]]:
    """(stage, round, command) in run order, each built when reached (after the stages before it ran)."""
    plan = cfg.schedule()
    outs: dict[str, str] = {}  # stage name -> its newest output directory (first-round paths until each runs)
    for s, r in reversed(plan):
        outs[s.name] = stage_out(run_dir, s.name, r)
    for s, r in plan:
        args = list(s.args) + (list(cfg.rounds.next_round_args.get(s.name, [])) if r > 1 else [])
        if r > 1 and not cfg.rounds.reset_reference:
            args += first_round_reference(run_dir, s.name)
        out = stage_out(run_dir, s.name, r)
        cmd = [sys.executable, str(REPO_ROOT / s.script), *[a.format(**outs) for a in args], "--out", out]
        outs[s.name] = out
        yield s, r, cmd


def stage_out(run_dir: Path, name: str, round_: int) -> str:
    """Output directory of a stage: <run_dir>/<name>, or <run_dir>/round<r>/<name> inside the repeated block."""
    return str(run_dir / f"round{round_}" / name) if round_ else str(run_dir / name)


def first_round_reference(run_dir: Path, name: str) -> list[str]:
    """`ref_model=<the model round 1 of this training stage started from>` (reset_reference: false)."""
    from pipeline.manifest import load_manifest, manifest_path

    path = manifest_path(stage_out(run_dir, name, 1))
    if not path.exists():  # not run (then round 2 cannot start either: its model is that stage's output)
        return []
    m = load_manifest(path, verify=False)
    return [f"ref_model={m.config['model']}"] if m.stage == "train" else []


if __name__ == "__main__":
    sys.exit(main())
