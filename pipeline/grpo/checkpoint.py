"""Atomic training checkpoints that `from_pretrained` can load and that resume exactly.

Layout: `<run>/checkpoints/step-000050/` holds
- the model (`save_pretrained`, safetensors) and tokenizer: `AutoModelForCausalLM.from_pretrained`
  loads it directly (for LoRA runs: the peft adapter, which transformers also loads with peft);
- `trainer_state.pt`: step, optimizer, LR scheduler, RNG states (python, numpy, torch) and the
  data-order (curriculum) state;
- under DeepSpeed, `deepspeed/`: the engines' own checkpoint written by every rank through
  `accelerate.save_state` (ZeRO-partitioned optimizer shards, which `trainer_state.pt` cannot hold);
- `COMPLETE`: written last inside the directory.

Atomicity: everything is written to `.tmp-step-000050/`, then renamed in one `os.replace`; a
directory without `COMPLETE` (or a leftover `.tmp-*`) is never resumed from. `latest()` picks the
highest complete step, so resume never restarts from step 0 while a checkpoint exists.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

CKPT_DIR = "checkpoints"
STATE_NAME = "trainer_state.pt"
DONE_NAME = "COMPLETE"
_STEP_RE = re.compile(r"^step-(\d+)$")


def rng_state() -> dict[str, Any]:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def step_dir(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / CKPT_DIR / f"step-{step:06d}"


def tmp_dir(run_dir: str | Path, step: int, fresh: bool = True) -> Path:
    """The staging directory of checkpoint `step` (emptied and created when `fresh`)."""
    final = step_dir(Path(run_dir), step)
    tmp = final.with_name(".tmp-" + final.name)
    if fresh:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
    return tmp


# safetensors serialises a whole file in memory before writing it: one 540 MB file for a 135M float32 model
# was a +0.5 GB step in the trainer's peak resident memory at every checkpoint; shards bound it.
MAX_SHARD_SIZE = "100MB"


def save_checkpoint(run_dir: str | Path, step: int, model, tokenizer, trainer_state: dict[str, Any],
                    keep: int = 2, staged: bool = False, state_dict: dict | None = None,
                    max_shard_size: str = MAX_SHARD_SIZE) -> Path:
    """Write checkpoint `step` atomically; prune to the `keep` most recent. Returns its directory.

    staged: the staging directory was already created by `tmp_dir` and holds files other ranks wrote
    (the DeepSpeed engine state); keep them. state_dict: the full weights when `model`'s own are partitioned
    (ZeRO-3 gathers them on every rank first)."""
    final = step_dir(Path(run_dir), step)
    tmp = tmp_dir(run_dir, step, fresh=not staged)
    model.save_pretrained(tmp, safe_serialization=True, state_dict=state_dict, max_shard_size=max_shard_size)
    tokenizer.save_pretrained(tmp)
    torch.save({**trainer_state, "step": step, "rng": rng_state()}, tmp / STATE_NAME)
    (tmp / DONE_NAME).write_text(str(step))
    _fsync_dir(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    prune(Path(run_dir), keep)
    return final


def _fsync_dir(path: Path) -> None:
    for f in path.iterdir():  # (files of subdirectories, e.g. deepspeed/, were synced by their writers' close)
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def complete_steps(run_dir: str | Path) -> list[int]:
    root = Path(run_dir) / CKPT_DIR
    if not root.exists():
        return []
    steps = []
    for d in root.iterdir():
        m = _STEP_RE.match(d.name)
        if m and (d / DONE_NAME).exists() and (d / STATE_NAME).exists():
            steps.append(int(m.group(1)))
    return sorted(steps)


def latest(run_dir: str | Path) -> Path | None:
    steps = complete_steps(run_dir)
    return step_dir(Path(run_dir), steps[-1]) if steps else None


def load_trainer_state(ckpt: Path) -> dict[str, Any]:
    return torch.load(Path(ckpt) / STATE_NAME, weights_only=False)


def prune(run_dir: Path, keep: int) -> None:
    root = run_dir / CKPT_DIR
    for d in root.glob(".tmp-*"):
        shutil.rmtree(d, ignore_errors=True)
    steps = complete_steps(run_dir)
    for s in steps[:-keep] if keep > 0 else []:
        shutil.rmtree(step_dir(run_dir, s), ignore_errors=True)
