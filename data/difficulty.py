"""Difficulty stage: the base model's pass rate over k samples per problem.

Reads: a curate (or difficulty) stage output (`dataset.parquet`, through its verified manifest).
Writes: `dataset.parquet` (the same rows with `difficulty` = pass rate in [0, 1] for estimated
problems; optionally without always-solved / never-solved ones), `progress.jsonl` (one line per
finished problem: scores, reasons, extracted answers), `filtered.jsonl`, and the manifest.

Algorithm:
- problems = rows of `splits` in dataset order (first `limit`), cut into fixed batches of
  `batch_problems`; each batch is rendered with the prompt template (`pipeline.prompts`) and
  sampled `k` times by the rollout engine (`pipeline.rollout.make_engine`, seed = (seed, batch));
- every completion is scored by the row's verifier (`rewards.pool.VerifierPool` with hard
  deadlines when `verifier_workers > 0`, else in process); pass rate = mean of the judged
  scores (score None = skipped sample; no judged sample -> difficulty None);
- resumable: each finished batch is appended to `progress.jsonl` and fsync'ed; after a kill the
  stage (same config, same input) reuses every finished problem and computes only the rest
  (`metrics.resumed_problems` / `computed_problems` say how many).

    python scripts/02_difficulty.py --config configs/difficulty_embedded.yaml --out runs/difficulty
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from data.schema import Row, read_rows_parquet, write_rows_parquet
from pipeline.config import ConfigError
from pipeline.prompts import VERIFIER_TEMPLATES, check_stop, check_templates, render_prompt, template_for
from pipeline.rollout import SamplingParams, make_engine
from pipeline.rollout.vllm_options import VLLMOptions
from pipeline.stage import StageContext, StageResult, run_stage
from rewards.scorer import Scorer

STAGE = "difficulty"
DATASET, PROGRESS, FILTERED = "dataset.parquet", "progress.jsonl", "filtered.jsonl"


@dataclasses.dataclass
class DifficultyConfig:
    dataset: str = ""
    """Directory (or manifest.json) of the curate stage output to read."""
    model: str = "embedded"
    """Model whose pass rates are estimated: "embedded", a local Hugging Face directory, a hub name, or a training
    stage's output directory (iterative rounds: the current policy; recorded as the `policy` input)."""
    engine: str = "transformers"
    """Rollout engine: transformers | vllm (its CPU build on a CPU machine, its CUDA build on a GPU one)."""
    vllm: VLLMOptions = dataclasses.field(default_factory=lambda: VLLMOptions(gpu_memory_utilization=0.85))
    """vLLM engine settings when engine is vllm (pipeline/rollout/vllm_options.py); the stage has the
    GPU to itself, so vLLM's share defaults to 0.85 here."""
    template: str = "boxed"
    """Prompt template (pipeline.prompts): r1 | boxed | plain | code."""
    templates: dict[str, str] = dataclasses.field(default_factory=lambda: dict(VERIFIER_TEMPLATES))
    """Per-verifier prompt templates overriding `template` for the rows that verifier checks (default: code rows
    get the code template); {} asks every row with `template`."""
    k: int = 4
    """Samples per problem."""
    temperature: float = 1.0
    """Sampling temperature (pass rate of the policy as it will be sampled in training)."""
    top_p: float = 1.0
    """Nucleus sampling threshold."""
    max_new_tokens: int = 256
    """Generation budget per sample."""
    stop: list[str] = dataclasses.field(default_factory=list)
    """Stop strings ending a sample (pipeline.prompts), as in the train config; [] : EOS only."""
    batch_problems: int = 8
    """Problems per engine call (each sampled k times): the unit of resumable progress."""
    splits: list[str] = dataclasses.field(default_factory=lambda: ["train"])
    """Splits whose problems are estimated; other rows pass through unchanged."""
    limit: int | None = None
    """Estimate only the first `limit` problems (the rest pass through with difficulty None)."""
    seed: int = 0
    """Sampling seed (batch b uses seed * 1_000_003 + b)."""
    drop_always_solved: bool = False
    """Drop problems solved by all k samples (no GRPO signal)."""
    drop_never_solved: bool = False
    """Drop problems solved by no sample."""
    verifier_workers: int = 0
    """Verifier pool processes (0 = score in process)."""
    verifier_deadline_s: float = 5.0
    """Per-completion verifier deadline when a pool is used."""
    reward_plugins: list[str] = dataclasses.field(default_factory=list)
    """Modules imported (here and by the verifier workers) so their `@register` verifiers exist."""
    dtype: str = "float32"
    """Model dtype."""
    device: str = "cpu"
    """Model device."""

    def validate(self) -> None:
        if not self.dataset:
            raise ConfigError("dataset: path of the curate stage output is required")
        if self.k < 1:
            raise ConfigError(f"k must be >= 1, got {self.k}")
        if self.batch_problems < 1:
            raise ConfigError(f"batch_problems must be >= 1, got {self.batch_problems}")
        check_templates(self.template, self.templates)
        check_stop(self.stop)


def load_progress(path: Path) -> dict[str, dict[str, Any]]:
    """Finished problems from an earlier, interrupted run (a torn last line is dropped and rewritten)."""
    done: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return done
    good_lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # torn by the kill: that problem is recomputed
        done[rec["id"]] = rec
        good_lines.append(line)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(l + "\n" for l in good_lines), encoding="utf-8")
    os.replace(tmp, path)
    return done


def estimate_batch(engine, tok, rows: list[Row], cfg: DifficultyConfig, scorer, batch: int) -> list[dict]:
    prompts = [render_prompt(tok, r.problem, template_for(r.verifier, cfg.template, cfg.templates)) for r in rows]
    params = SamplingParams(n=cfg.k, temperature=cfg.temperature, top_p=cfg.top_p,
                            max_new_tokens=cfg.max_new_tokens, seed=cfg.seed * 1_000_003 + batch,
                            stop=list(cfg.stop))
    groups = engine.generate(prompts, params)
    # the one reward path (rewards/scorer.py): each row's own verifier options apply, as in training
    results = scorer.score([r for r, g in zip(rows, groups) for _ in g], [c.text for g in groups for c in g]).results["outcome"]
    out = []
    for i, (r, group) in enumerate(zip(rows, groups)):
        res = results[i * cfg.k : (i + 1) * cfg.k]
        judged = [x.score for x in res if x.score is not None]
        out.append({"id": r.id, "batch": batch, "k": cfg.k,
                    "pass_rate": (sum(judged) / len(judged)) if judged else None,
                    "scores": [x.score for x in res], "reasons": [x.reason for x in res],
                    "extracted": [x.extracted for x in res],
                    "tokens": [len(c.token_ids) for c in group],
                    "finish": [c.finish_reason for c in group]})
    return out


def _append(path: Path, records: list[dict]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _select(rows: list[Row], cfg: DifficultyConfig) -> list[Row]:
    chosen = [r for r in rows if r.split in cfg.splits]
    return chosen[: cfg.limit] if cfg.limit is not None else chosen


def run_estimation(ctx: StageContext, problems: list[Row]) -> tuple[dict[str, dict], int, float]:
    """Fill progress.jsonl for every problem; returns (records by id, problems reused, generation seconds)."""
    cfg: DifficultyConfig = ctx.config
    path = ctx.out_dir / PROGRESS
    done = load_progress(path) if ctx.resuming else {}
    wanted = {r.id for r in problems}
    done = {k: v for k, v in done.items() if k in wanted}
    reused = len(done)
    if reused:
        ctx.log(f"resuming: {reused}/{len(problems)} problems already estimated, not recomputed")
    batches = [problems[i : i + cfg.batch_problems] for i in range(0, len(problems), cfg.batch_problems)]
    todo = [(b, [r for r in rows if r.id not in done]) for b, rows in enumerate(batches)]
    todo = [(b, rows) for b, rows in todo if rows]
    t0 = time.time()
    if todo:
        from pipeline.models import load_model_and_tokenizer

        if cfg.engine == "vllm":
            from pipeline.rollout.vllm_engine import require_vllm

            require_vllm()  # (before loading the model)
        model, tok = load_model_and_tokenizer(cfg.model, cfg.dtype, cfg.device)
        opts = {"seed": cfg.seed, **cfg.vllm.engine_kwargs()} if cfg.engine == "vllm" else {}
        engine = make_engine(cfg.engine, model, tok, **opts)
        scorer = Scorer(workers=cfg.verifier_workers, deadline_s=cfg.verifier_deadline_s, plugins=cfg.reward_plugins)
        try:
            for n, (b, rows) in enumerate(todo, 1):
                records = estimate_batch(engine, tok, rows, cfg, scorer, b)
                _append(path, records)
                done.update({r["id"]: r for r in records})
                rates = [r["pass_rate"] for r in records if r["pass_rate"] is not None]
                ctx.log(f"batch {n}/{len(todo)} (#{b}): {len(rows)} problems x {cfg.k}, mean pass rate "
                        f"{sum(rates) / max(1, len(rates)):.3f}, {time.time() - t0:.1f}s elapsed")
        finally:
            scorer.close()
    return done, reused, time.time() - t0


def body(ctx: StageContext) -> StageResult:
    cfg: DifficultyConfig = ctx.config
    from pipeline.models import model_fingerprint, resolve_model

    rows = read_rows_parquet(ctx.input_dirs["dataset"] / DATASET)
    problems = _select(rows, cfg)
    done, reused, gen_s = run_estimation(ctx, problems)
    kept, filtered = [], []
    for r in rows:
        rec = done.get(r.id)
        if rec is not None:
            r = dataclasses.replace(r, difficulty=rec["pass_rate"])
            p = rec["pass_rate"]
            drop = (p == 1.0 and cfg.drop_always_solved and "always_solved") or \
                   (p == 0.0 and cfg.drop_never_solved and "never_solved")
            if drop:
                filtered.append({"id": r.id, "reason": drop, "pass_rate": p, "source": r.source})
                continue
        kept.append(r)
    write_rows_parquet(ctx.out_dir / DATASET, kept)
    with open(ctx.out_dir / FILTERED, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(x) + "\n" for x in filtered)
    metrics = difficulty_metrics(rows, problems, done, reused, kept, filtered, cfg)
    metrics.update(generation_seconds=round(gen_s, 2), model=model_fingerprint(resolve_model(cfg.model)))
    ctx.log(f"{metrics['estimated']} problems x {cfg.k} samples: mean pass rate {metrics['mean_pass_rate']}, "
            f"histogram {metrics['pass_rate_histogram']}; reused {reused}, computed {metrics['computed_problems']}; "
            f"rows in {metrics['rows_in']} = out {metrics['rows_out']} + filtered {len(filtered)}")
    return StageResult({DATASET: len(kept), PROGRESS: len(done), FILTERED: len(filtered)}, metrics)


def difficulty_metrics(rows, problems, done, reused, kept, filtered, cfg: DifficultyConfig) -> dict[str, Any]:
    rates = [done[r.id]["pass_rate"] for r in problems if done[r.id]["pass_rate"] is not None]
    hist = Counter(f"{p:.2f}" for p in rates)
    reasons = Counter(x for r in problems for x in done[r.id]["reasons"])
    return {"rows_in": len(rows), "rows_out": len(kept), "filtered": dict(Counter(x["reason"] for x in filtered)),
            "balanced": len(rows) == len(kept) + len(filtered),
            "estimated": len(problems), "samples": len(problems) * cfg.k, "unjudged": len(problems) - len(rates),
            "resumed_problems": reused, "computed_problems": len(problems) - reused,
            "mean_pass_rate": round(sum(rates) / len(rates), 4) if rates else None,
            "always_solved": sum(p == 1.0 for p in rates), "never_solved": sum(p == 0.0 for p in rates),
            "pass_rate_histogram": dict(sorted(hist.items())), "verifier_reasons": dict(sorted(reasons.items())),
            "per_source_mean_pass_rate": _per_source(problems, done)}


def _per_source(problems: list[Row], done: dict[str, dict]) -> dict[str, float]:
    acc: dict[str, list[float]] = {}
    for r in problems:
        if done[r.id]["pass_rate"] is not None:
            acc.setdefault(r.source, []).append(done[r.id]["pass_rate"])
    return {k: round(sum(v) / len(v), 4) for k, v in sorted(acc.items())}


def run(cfg: DifficultyConfig, out_dir: str | Path, force: bool = False):
    from pipeline.models import policy_input

    return run_stage(STAGE, out_dir, cfg, body, inputs={"dataset": cfg.dataset, **policy_input(cfg.model)},
                     expect_stages={"dataset": "curate"}, force=force)
