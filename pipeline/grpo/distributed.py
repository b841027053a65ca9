"""Multi-process training through accelerate (DeepSpeed ZeRO-2/3 when a DeepSpeed config is given).

Launch: `accelerate launch --num_processes N scripts/03_train.py ... deepspeed=configs/deepspeed/zero2.json`.
ZeRO-3 partitions the weights too: the trainer gathers them for rollouts, weight sync and saving
(`pipeline/grpo/backend.py`).
Each rank takes its share of every step's prompts (rows[rank::N]), rolls out and scores its own
groups (groups never straddle ranks, so advantages are exact), and the update runs through the
accelerate-prepared model/optimizer (gradients averaged across ranks). The main rank owns the
stage directory: it runs `run_stage` (manifest, checkpoints, metrics); the other ranks wait for it
to prepare the directory, then run the same body without writing anything.
On a CPU-only machine: `DS_ACCELERATOR=cpu` (DeepSpeed's CPU accelerator, gloo backend), and not
`ACCELERATE_USE_CPU=1`, which makes accelerate fall back to plain multi-CPU DDP without DeepSpeed.
"""

from __future__ import annotations

import os
from pathlib import Path


def is_distributed() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def check_zero_stage(cfg, ds: dict) -> None:
    """Refuse combinations a ZeRO-3 run cannot do, in one line each."""
    from pipeline.config import ConfigError

    if (ds.get("zero_optimization") or {}).get("stage") != 3:
        return
    if cfg.beta > 0:
        raise ConfigError(f"{cfg.deepspeed}: ZeRO-3 with beta > 0 is not supported (the reference model would be "
                          "partitioned with no engine to gather it); use ZeRO-2 or beta: 0")
    if cfg.lora.enabled:
        raise ConfigError(f"{cfg.deepspeed}: LoRA with ZeRO-3 is not supported here; use ZeRO-2")


def make_accelerator(cfg):
    from accelerate import Accelerator
    from accelerate.utils import DeepSpeedPlugin

    import json

    plugin = None
    if not cfg.deepspeed and os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true":
        from pipeline.config import ConfigError

        raise ConfigError("launched with DeepSpeed (accelerate --use_deepspeed or a DeepSpeed launch config) but the "
                          "train config has no deepspeed: key; add e.g. deepspeed=configs/deepspeed/zero2.json")
    if cfg.deepspeed:
        ds = json.loads(Path(cfg.deepspeed).read_text())
        check_zero_stage(cfg, ds)
        # No dataloader goes through accelerate.prepare, so "auto" batch sizes are resolved here. The trainer
        # accumulates `grad_accum` micro-batches itself and tells the engine where each optimizer step ends
        # (pipeline/grpo/backend.py), so the engine's own accumulation count stays 1.
        ds["train_micro_batch_size_per_gpu"] = 1
        ds["gradient_accumulation_steps"] = 1
        if ds.get("gradient_clipping") == "auto":
            ds["gradient_clipping"] = cfg.grad_clip
        if isinstance(ds.get("bf16"), dict) and ds["bf16"].get("enabled") == "auto":
            ds["bf16"]["enabled"] = cfg.dtype == "bfloat16"
        plugin = DeepSpeedPlugin(hf_ds_config=ds)
    if plugin is not None and cfg.device == "cpu":
        # accelerate's cpu=True means plain multi-CPU DDP and silently drops DeepSpeed. A CPU DeepSpeed run needs
        # cpu=False and an explicit backend: without one accelerate finds no device backend, treats the run as
        # a single process (every rank "main") while DeepSpeed itself runs over gloo (DS_ACCELERATOR=cpu).
        from accelerate.utils import InitProcessGroupKwargs

        return Accelerator(deepspeed_plugin=plugin, cpu=False, kwargs_handlers=[InitProcessGroupKwargs(backend="gloo")])
    return Accelerator(deepspeed_plugin=plugin, cpu=cfg.device == "cpu")


def run_distributed(cfg, data_dir, out_dir, force: bool = False):
    """Rank 0 runs the stage (up-to-date check, directory, manifest); every rank trains when it trains.

    Rank 0 tells the others what it decided (train or not, resume or not) before anyone trains, so an
    up-to-date re-run stops on every rank and all ranks agree on resuming."""
    from accelerate.utils import broadcast_object_list

    from pipeline import train
    from pipeline.manifest import load_manifest
    from pipeline.stage import StageContext, run_stage

    acc = make_accelerator(cfg)

    def tell(decision: list) -> list:  # rank 0's [train?, resuming?] reaches every rank
        return broadcast_object_list(decision, from_process=0)

    if acc.is_main_process:
        told = False

        def body(ctx):
            nonlocal told
            told = bool(tell([True, ctx.resuming]))  # the directory is ready: release the other ranks
            return train.body(ctx, accelerator=acc)

        try:
            m = run_stage(train.STAGE, out_dir, cfg, body, inputs=train.stage_inputs(cfg, data_dir), force=force)
        finally:
            if not told:  # up to date, or the stage failed before training: release the others, nothing to do
                tell([False, False])
        _finish(acc)
        return m
    go, resuming = tell([None, None])
    if go:
        data = Path(data_dir)
        ctx = StageContext(train.STAGE, Path(out_dir), cfg, {"dataset": load_manifest(data)},
                           {"dataset": data.resolve()}, resuming=resuming)
        train.body(ctx, accelerator=acc)
    _finish(acc)
    return None


def _finish(acc) -> None:
    """Every rank waits for the others, then tears the process group down (accelerate's end_training).

    Left to interpreter exit, the gloo process group's C++ threads are destroyed while still joinable and the
    process can die with `terminate called without an active exception` (SIGABRT) after a run that succeeded."""
    acc.wait_for_everyone()
    acc.end_training()
