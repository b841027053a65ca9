"""The evaluation stage: benchmarks x models -> audited per-sample JSONL, metrics, manifest, report.

Reads: the config (eval/config.py) and model specs, each one of
  - a training stage directory (its manifest is a run_stage input: loaded, verified, hashed;
    the final model directory is the one the manifest references, see `model_dir_of`),
  - "embedded", a local Hugging Face model directory, or a hub name (`pipeline.models`);
and optionally a curate/difficulty stage directory whose held-out split is evaluated (eval/tasks.py).
Writes (under --out):
  samples/<model>/<benchmark>.jsonl   one line per sample (eval/samples.py): benchmark, id, sample,
                                      prompt, completion, extracted answer, score, reason, tokens,
                                      finish reason, gold, verifier (every figure can be audited)
  metrics.json                        {model: {benchmark: figures}} recomputed from the samples
  report.md, report.html, plots/      eval/report.py
  manifest.json                       last: protocol, seeds, input manifest hashes, figures

Algorithm choices:
1. Protocol "greedy" = one sample at temperature 0; "sample" = n samples at temperature/top-p
   (R1: T=0.6, top-p 0.95). Generation goes through `pipeline.rollout.make_engine` (the same
   engines as training), in fixed chunks with seeds derived per chunk (eval/samples.py).
2. Scoring uses the training verifiers (`rewards.registry` keys on each row) through
   `rewards.scorer.Scorer` and its `rewards.pool.VerifierPool`: per-item deadlines, memory cap, cache.
3. Resume: after a kill, a re-run with the same config finds `ctx.resuming`, keeps the problems whose
   n samples are all on disk and generates the rest (eval/samples.py). Figures are always recomputed
   from the sample files.
4. Metrics (eval/metrics.py): avg@n, unbiased pass@k, maj@k over math-verified answer clusters,
   percentile bootstrap CIs over problems (seeded); held-out figures also per bucket.

    python scripts/04_evaluate.py --config configs/eval_demo.yaml --model base=embedded --out runs/eval
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

from eval import metrics as M
from eval.config import EvalConfig
from eval.samples import read_samples, run_benchmark
# benchmarks/bench_eval_throughput.py reaches these as eval.evaluate.<name>:
from eval.scoring import Equivalence
from eval.tasks import BenchTask, bucket_of, load_tasks
from rewards.scorer import Scorer
from pipeline.manifest import Manifest, sha256_file
from pipeline.models import is_stage_dir, model_dir_of
from pipeline.stage import StageContext, StageResult, run_stage

STAGE = "evaluate"
TRAIN_STAGE = "train"


# --- models -------------------------------------------------------------------------------------

def model_inputs(cfg: EvalConfig) -> dict[str, str]:
    """run_stage inputs: role "model:<label>" -> stage dir, for every spec that is a stage output,
    and role "dataset" for the curated dataset whose held-out split is evaluated."""
    inputs = {f"model:{label}": spec for label, spec in cfg.models.items() if is_stage_dir(spec)}
    if cfg.dataset:
        inputs["dataset"] = cfg.dataset
    return inputs


def _load_engine(cfg: EvalConfig, path: str):
    """(engine, tokenizer) for one model path through the shared rollout-engine factory."""
    from pipeline.models import load_model_and_tokenizer
    from pipeline.rollout.base import make_engine

    if cfg.torch_threads > 0:
        import torch

        torch.set_num_threads(cfg.torch_threads)
    if cfg.engine == "vllm":
        from pipeline.rollout.vllm_engine import require_vllm

        require_vllm()  # (before loading anything)
        # VLLMEngine loads `model_path` itself and then pushes the given module's weights into it,
        # so the HF copy only needs to live on the CPU for that one push.
        model, tok = load_model_and_tokenizer(path, dtype=cfg.dtype, device="cpu")
        engine = make_engine("vllm", model, tok, model_path=path, seed=cfg.seed, **cfg.vllm.engine_kwargs())
        del model
        return engine, tok
    model, tok = load_model_and_tokenizer(path, dtype=cfg.dtype, device=cfg.device)
    model.eval()
    return make_engine("transformers", model, tok), tok


# --- figures (always recomputed from the sample files) -----------------------------------------

def benchmark_figures(records: list[dict], cfg: EvalConfig, same: Equivalence) -> dict:
    """avg@n / pass@k / maj@k with CIs plus token and reason statistics, from sample records."""
    by_id: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_id[r["id"]].append(r)
    problems = [sorted(v, key=lambda r: r["sample"]) for v in by_id.values()]
    per_problem = [{"scores": [r["score"] for r in p], "answers": [r["extracted"] for r in p]} for p in problems]
    math_only = all(r["verifier"] == "math" for r in records)
    if math_only:
        same.prefetch([p["answers"] for p in per_problem])
    figs = M.summarize(per_problem, cfg.k, same.equivalent if math_only else None, cfg.bootstrap, cfg.seed)
    tokens = [r["tokens"] for r in records]
    figs["samples"] = len(records)
    figs["mean_tokens"] = round(sum(tokens) / len(tokens), 1) if tokens else None
    figs["truncated"] = round(sum(r["finish_reason"] == "length" for r in records) / max(len(records), 1), 4)
    figs["reasons"] = dict(Counter(r["reason"] for r in records).most_common())
    return figs


def bucket_figures(task: BenchTask, records: list[dict], cfg: EvalConfig, same: Equivalence) -> dict[str, dict]:
    """Figures per difficulty bucket, named "<benchmark>[<key>=<value>]"."""
    if not task.bucket_by:
        return {}
    bucket = {r.id: bucket_of(r, task.bucket_by) for r in task.rows}
    groups: dict[str, list[dict]] = defaultdict(list)
    for rec in records:
        groups[bucket[rec["id"]]].append(rec)
    return {f"{task.name}[{b}]": benchmark_figures(recs, cfg, same) for b, recs in sorted(groups.items())}


# --- the stage ----------------------------------------------------------------------------------

def _model_path(ctx: StageContext, label: str, spec: str) -> tuple[str, dict]:
    from pipeline.models import model_fingerprint, resolve_model

    role = f"model:{label}"
    if role in ctx.inputs:
        path = str(model_dir_of(ctx.inputs[role], ctx.input_dirs[role]))
        info = {"spec": spec, "stage_dir": str(ctx.input_dirs[role]), "model_dir": path,
                "manifest_sha256": sha256_file(ctx.input_dirs[role] / "manifest.json")}
    else:
        path = resolve_model(spec)
        info = {"spec": spec, "model_dir": path}
    info["fingerprint"] = model_fingerprint(path)
    return path, info


def body(ctx: StageContext) -> StageResult:
    cfg: EvalConfig = ctx.config
    tasks = load_tasks(cfg, ctx.input_dirs.get("dataset"))
    ctx.log("benchmarks: " + ", ".join(f"{t.name} ({len(t.rows)} problems, template {t.template})" for t in tasks))
    figures: dict[str, dict] = {}
    models: dict[str, dict] = {}
    timings: dict[str, dict] = {}
    artifacts: dict[str, int | None] = {}
    with Scorer(workers=cfg.verifier_workers, deadline_s=cfg.verifier_deadline_s, deadlines=cfg.verifier_deadlines,
                plugins=cfg.reward_plugins) as scorer:
        same = Equivalence(scorer)
        for label, spec in cfg.models.items():
            path, models[label] = _model_path(ctx, label, spec)
            ctx.log(f"model {label}: {path}")
            engine, tok = _load_engine(cfg, path)
            figures[label], timings[label] = {}, {}
            for task in tasks:
                rel = f"samples/{label}/{task.name}.jsonl"
                timings[label][task.name] = run_benchmark(engine, tok, scorer, cfg, label, task, ctx.out_dir / rel,
                                                          ctx.resuming)
                records = read_samples(ctx.out_dir / rel)
                figures[label][task.name] = benchmark_figures(records, cfg, same)
                figures[label].update(bucket_figures(task, records, cfg, same))
                artifacts[rel] = len(records)
            if hasattr(engine, "close"):
                engine.close()  # (vLLM: frees its memory and state before the next model's engine starts)
            del engine
        verifier_stats = scorer.stats()
    protocol = {"protocol": cfg.protocol, "n": cfg.samples_per_problem,
                "temperature": 0.0 if cfg.protocol == "greedy" else cfg.temperature,
                "top_p": 1.0 if cfg.protocol == "greedy" else cfg.top_p, "max_new_tokens": cfg.max_new_tokens,
                "seed": cfg.seed, "engine": cfg.engine, "k": cfg.k}
    benchmarks = {}
    for t in tasks:
        benchmarks[t.name] = {"problems": len(t.rows), "template": t.template}
        if t.bucket_by:
            for b, n in sorted(Counter(bucket_of(r, t.bucket_by) for r in t.rows).items()):
                benchmarks[f"{t.name}[{b}]"] = {"problems": n, "template": t.template}
    result = {"protocol": protocol, "models": models, "figures": figures, "timings": timings,
              "benchmarks": benchmarks}
    (ctx.out_dir / "metrics.json").write_text(json.dumps(result, indent=2, default=str))
    artifacts["metrics.json"] = None
    from eval.report import write_report

    artifacts.update(write_report(ctx.out_dir, result, _training_dirs(ctx)))
    return StageResult(artifacts=artifacts, metrics={"protocol": protocol, "figures": _headline(figures),
                                                     "models": models, "verifier_pool": verifier_stats})


def _training_dirs(ctx: StageContext) -> dict[str, Path]:
    return {role.split(":", 1)[1]: d for role, d in ctx.input_dirs.items() if role.startswith("model:")}


def _headline(figures: dict) -> dict:
    """{model: {benchmark: {metric: value}}} without CIs, for the manifest."""
    return {m: {b: {k: v["value"] for k, v in f.items() if isinstance(v, dict) and "value" in v}
                for b, f in bench.items()} for m, bench in figures.items()}


def run(cfg: EvalConfig, out_dir: str | Path, force: bool = False) -> Manifest:
    """Run the evaluation stage (a no-op when an up-to-date manifest exists)."""
    return run_stage(STAGE, out_dir, cfg, body, inputs=model_inputs(cfg), force=force)
