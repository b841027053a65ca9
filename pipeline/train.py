"""Training stage: GRPO (or best-of-N distillation) on a curated dataset, resumable after a kill.

Reads: a `curate` or `difficulty` stage directory (its verified manifest and `dataset.parquet`);
trains on rows of `train_split` drawn by the curriculum (`data.curriculum`).
Writes (under --out):
- `checkpoints/step-XXXXXX/` every `checkpoint_every` steps (atomic; model + tokenizer loadable
  with `from_pretrained`, plus optimizer, scheduler, RNG and curriculum state);
- `model/`: the final model (merged when LoRA), loadable with `AutoModelForCausalLM.from_pretrained`;
- `metrics.jsonl` (one line per step), `tb/` (TensorBoard events), `samples.jsonl` (completions);
- `manifest.json` last, referencing `model/` and the metrics.

Resume: re-running the same command after an interruption (same config and input) finds the
stage's partial work (`ctx.resuming`), loads the newest complete checkpoint and continues from
its step; metrics lines written after that checkpoint are dropped, so the run reads as one.

    python scripts/03_train.py --config configs/train_embedded.yaml --data runs/curate_embedded --out runs/train
"""

from __future__ import annotations

import collections
import dataclasses
import os
import random
import shutil
from pathlib import Path
from typing import Any

from pipeline.grpo.config import TrainConfig
from pipeline.grpo.metrics import memory_mib
from pipeline.stage import StageContext, StageResult, run_stage

STAGE = "train"
DATASET = "dataset.parquet"
MODEL_DIR = "model"
INPUT_STAGES = ("curate", "difficulty")


# torch (about a second to import) is imported inside the functions that use it, so that a missing or tampered
# input is reported by run_stage before any of it loads.


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load_policy(cfg: TrainConfig, resume_from: Path | None):
    """Policy model and tokenizer: from the checkpoint when resuming, else from cfg.model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pipeline.models import resolve_model

    base = resolve_model(cfg.model)
    src = str(resume_from) if resume_from is not None and not cfg.lora.enabled else base
    tok = AutoTokenizer.from_pretrained(str(resume_from) if resume_from is not None else base)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(src, dtype=getattr(torch, cfg.dtype))
    if cfg.lora.enabled:
        from peft import LoraConfig, PeftModel, get_peft_model

        if resume_from is not None:
            model = PeftModel.from_pretrained(model, str(resume_from), is_trainable=True)
        else:
            model = get_peft_model(model, LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha,
                                                     lora_dropout=cfg.lora.dropout,
                                                     target_modules=list(cfg.lora.target_modules),
                                                     task_type="CAUSAL_LM"))
    if cfg.freeze_embeddings:
        model.get_input_embeddings().requires_grad_(False)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    if cfg.device != "cpu":
        model = model.to(cfg.device)
    return model, tok


def load_reference(cfg: TrainConfig):
    """Frozen reference policy (`ref_model`, default the starting `model`); only built when beta > 0."""
    if cfg.beta <= 0:
        return None
    import torch
    from transformers import AutoModelForCausalLM

    from pipeline.models import resolve_model

    ref = AutoModelForCausalLM.from_pretrained(resolve_model(cfg.ref_model or cfg.model), dtype=getattr(torch, cfg.dtype))
    ref.requires_grad_(False).eval()
    return ref.to(cfg.device) if cfg.device != "cpu" else ref


def save_final(model, tok, out_dir: Path, state_dict: dict | None = None) -> Path:
    """Write the final (merged) model to out_dir/model atomically (`state_dict`: gathered ZeRO-3 weights)."""
    from pipeline.grpo import checkpoint as ckpt

    final = out_dir / MODEL_DIR
    tmp = out_dir / (".tmp-" + MODEL_DIR)
    if tmp.exists():
        shutil.rmtree(tmp)
    to_save = model.merge_and_unload() if hasattr(model, "merge_and_unload") else model
    to_save.save_pretrained(tmp, safe_serialization=True, state_dict=state_dict, max_shard_size=ckpt.MAX_SHARD_SIZE)
    tok.save_pretrained(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def train_rows(ctx: StageContext, cfg: TrainConfig) -> tuple[list, int]:
    from data.schema import read_rows_parquet

    rows = read_rows_parquet(ctx.input_dirs["dataset"] / DATASET)
    train = [r for r in rows if r.split == cfg.train_split]
    if cfg.max_train_rows is not None:
        train = train[: cfg.max_train_rows]
    if not train:
        raise ValueError(f"input dataset has no rows in split {cfg.train_split!r}")
    held_out = sum(1 for r in rows if r.split == cfg.eval_split)
    return train, held_out


def body(ctx: StageContext, accelerator=None) -> StageResult:
    import torch

    from data.curriculum import Curriculum
    from pipeline.grpo import checkpoint as ckpt
    from pipeline.grpo.precision import resolve_precision
    from pipeline.grpo.trainer import GRPOTrainer

    cfg: TrainConfig = ctx.config
    precision, warning = resolve_precision(cfg.mixed_precision, cfg.device, accelerator is not None)
    if warning:
        ctx.log("warning: " + warning)
    if precision != cfg.mixed_precision:
        ctx.log(f"mixed_precision: {cfg.mixed_precision} -> {precision} on this {cfg.device}")
        cfg = dataclasses.replace(cfg, mixed_precision=precision)
    stage = ctx.inputs["dataset"].stage
    if stage not in INPUT_STAGES:
        raise ValueError(f"--data must be a {' or '.join(INPUT_STAGES)} stage directory, got a {stage!r} stage")
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    seed_everything(cfg.seed)
    rows, held_out = train_rows(ctx, cfg)
    curriculum = Curriculum.from_dataset(rows, cfg.curriculum)
    resume_from = ckpt.latest(ctx.out_dir) if ctx.resuming else None
    model, tok = load_policy(cfg, resume_from)
    trainer = GRPOTrainer(cfg, model, tok, curriculum, ctx.out_dir, ref_model=load_reference(cfg),
                          accelerator=accelerator)
    if resume_from is not None:
        trainer.resume(resume_from)
        ctx.log(f"resumed from {resume_from} at step {trainer.step}")
    else:
        trainer.logger.truncate_after(0)
    ctx.log(f"{len(rows)} train rows ({held_out} held out in {cfg.eval_split!r}); "
            f"{cfg.prompts_per_step} prompts x {cfg.group_size} = {cfg.completions_per_step} completions per step")
    guided_rows = sum(1 for r in rows if (r.metadata or {}).get("solution")) if cfg.guidance else None
    if cfg.guidance:
        ctx.log(f"guidance: {guided_rows} of {len(rows)} train rows carry a worked solution (metadata.solution)"
                + ("; none do, so guidance changes nothing (data curated before solutions existed? re-run the "
                   "curate stage with --force)" if not guided_rows else ""))
    try:
        last = trainer.train()
    finally:
        trainer.scorer.close()
    if not cfg.checkpoint_every or trainer.step % cfg.checkpoint_every:
        trainer.save()  # every rank (DeepSpeed ranks write their optimizer shards); only the main writes the rest
    weights = trainer.backend.full_state_dict()  # every rank (ZeRO-3 gathers the partitions); else None
    trainer.backend.barrier()
    if trainer.is_main:
        save_final(trainer._unwrapped(), tok, ctx.out_dir, state_dict=weights)
    metrics: dict[str, Any] = {"steps": trainer.step, "train_rows": len(rows), "held_out_rows": held_out,
                               "completions_per_step": cfg.completions_per_step,
                               "final_model": MODEL_DIR, "resumed_from_step": _step_of(resume_from)}
    metrics.update({f"last/{k}": v for k, v in last.items() if isinstance(v, (int, float))})
    metrics["peak_rss_mib"] = memory_mib().get("mem/peak_rss_mib")  # this process's peak resident memory
    metrics["mixed_precision"] = cfg.mixed_precision  # what ran (`auto` resolved for this device)
    metrics["guidance_rows"] = guided_rows  # train rows with a worked solution (null: guidance off)
    metrics["train_rows_by_verifier"] = dict(collections.Counter(r.verifier for r in rows))
    if "code" in metrics["train_rows_by_verifier"]:
        from rewards.sandbox import sandbox_mode

        metrics["sandbox_mode"] = sandbox_mode()  # how model-written code ran (e.g. bwrap+seccomp+uid)
    artifacts = {MODEL_DIR: None, "metrics.jsonl": trainer.step}
    if (ctx.out_dir / "samples.jsonl").exists():
        artifacts["samples.jsonl"] = None
    return StageResult(artifacts=artifacts, metrics=metrics)


def _step_of(p: Path | None) -> int:
    return int(p.name.split("-")[1]) if p is not None else 0


def stage_inputs(cfg: TrainConfig, data_dir: str | Path) -> dict[str, str | Path]:
    """run_stage inputs: the dataset, plus the policy's (and reference's) training stage when named by one."""
    from pipeline.models import is_stage_dir, policy_input

    inputs: dict[str, str | Path] = {"dataset": data_dir, **policy_input(cfg.model)}
    if cfg.ref_model and is_stage_dir(cfg.ref_model):
        inputs["reference"] = cfg.ref_model
    return inputs


def run(cfg: TrainConfig, data_dir: str | Path, out_dir: str | Path, force: bool = False):
    return run_stage(STAGE, out_dir, cfg, body, inputs=stage_inputs(cfg, data_dir), expect_stages=None, force=force)
