"""The evaluation stage: benchmarks x models -> audited per-sample JSONL, metrics, manifest, report.

Reads: model specs, each one of
  - a training stage directory (its manifest is a run_stage input: loaded, verified, hashed;
    the final model directory is the one the manifest references, see `model_dir_of`),
  - "embedded", a local Hugging Face model directory, or a hub name (`pipeline.models`).
Writes (under --out):
  samples/<model>/<benchmark>.jsonl   one line per sample: benchmark, id, sample, prompt,
                                      completion, extracted answer, score, reason, tokens,
                                      finish reason, gold, verifier (every figure can be audited)
  metrics.json                        {model: {benchmark: figures}} recomputed from the samples
  report.md, report.html, plots/      eval/report.py
  manifest.json                       last: protocol, seeds, input manifest hashes, figures

Algorithm choices:
1. Protocol "greedy" = one sample at temperature 0; "sample" = n samples at temperature/top-p
   (R1: T=0.6, top-p 0.95). Generation goes through `pipeline.rollout.make_engine` (the same
   engines as training), in fixed chunks of `batch_size` problems; each chunk's sampling seed
   is derived from (seed, benchmark, chunk index), so a resumed run draws what an
   uninterrupted run would have drawn for every whole chunk.
2. Scoring uses the training verifiers (`rewards.registry` keys on each row) through
   `rewards.pool.VerifierPool`: per-item deadlines, memory cap, cache.
3. Resume: samples are appended per chunk with flush + fsync. After a kill, a re-run with the
   same config finds `ctx.resuming`, keeps the problems whose n samples are all on disk and
   generates the rest. Figures are always recomputed from the sample files.
4. Metrics (eval/metrics.py): avg@n, unbiased pass@k, maj@k over math-verified answer clusters,
   percentile bootstrap CIs over problems (seeded).

    python scripts/04_evaluate.py --config configs/eval_demo.yaml --model base=embedded --out runs/eval
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import zlib
from collections import Counter, defaultdict
from pathlib import Path
from typing import Literal

from data.benchmarks import seeded_subset
from data.schema import Row
from eval import metrics as M
from eval.benchmarks import registry as bench_registry
from eval.scoring import Equivalence
from rewards.scorer import Scorer
from pipeline.config import ConfigError
from pipeline.manifest import Manifest, sha256_file
from pipeline.prompts import TEMPLATES, render_prompt
from pipeline.rollout.base import SamplingParams
from pipeline.rollout.vllm_engine import VLLMOptions
from pipeline.stage import StageContext, StageResult, run_stage

STAGE = "evaluate"
TRAIN_STAGE = "train"


@dataclasses.dataclass
class JsonlBenchmark:
    name: str
    """Name used in reports and sample files."""
    path: str
    """JSONL file, one record per line."""
    verifier: str = "math"
    """rewards.registry key applied to every record."""
    problem_field: str = "problem"
    """Record field holding the problem text."""
    gold_field: str = "answer"
    """Record field holding the gold answer (or test spec)."""
    id_field: str | None = None
    """Record field holding a stable id (default: the line index)."""
    template: str | None = None
    """Prompt template for this file (default: the config's template, else boxed)."""


@dataclasses.dataclass
class EvalConfig:
    benchmarks: list[str] = dataclasses.field(default_factory=lambda: ["math500", "gsm8k", "aime24"])
    """Benchmark names (the table in data/benchmarks.py, listed by eval/benchmarks/registry.py)."""
    limits: dict[str, int] = dataclasses.field(default_factory=dict)
    """Per-benchmark seeded subset size; absent or 0 = the whole benchmark."""
    jsonl: list[JsonlBenchmark] = dataclasses.field(default_factory=list)
    """User JSONL benchmarks (name, path, verifier, field mapping)."""
    data_dir: str | None = None
    """Local benchmark data directory (default: RLVR_DATA_DIR, else ../shared/benchmarks, else hub)."""
    seed: int = 0
    """Seed for subsets, sampling and bootstrap."""
    protocol: Literal["greedy", "sample"] = "sample"
    """greedy: 1 sample at T=0; sample: n samples at temperature/top_p."""
    n: int = 4
    """Samples per problem under the sample protocol."""
    temperature: float = 0.6
    """Sampling temperature (sample protocol)."""
    top_p: float = 0.95
    """Nucleus mass (sample protocol)."""
    k: list[int] = dataclasses.field(default_factory=lambda: [1])
    """k values for pass@k and maj@k (values above n are skipped)."""
    template: str | None = None
    """Prompt template for every benchmark (default: each benchmark's own, boxed for math)."""
    engine: Literal["transformers", "vllm"] = "transformers"
    """Rollout engine: transformers, or vllm (its CPU build on a CPU machine, its CUDA build on a GPU one)."""
    batch_size: int = 8
    """Problems per generate call (x n completions)."""
    max_new_tokens: int = 1024
    """Generation budget per completion."""
    dtype: str = "float32"
    """Model dtype (the transformers engine's; vLLM's too unless vllm.dtype names another)."""
    device: str = "cpu"
    """Device for the transformers engine (vLLM runs where its build runs)."""
    vllm: VLLMOptions = dataclasses.field(default_factory=lambda: VLLMOptions(gpu_memory_utilization=0.85))
    """vLLM engine settings when engine is vllm (pipeline/rollout/vllm_engine.py: VLLMOptions); evaluation has the
    GPU to itself, so vLLM's share defaults to 0.85 here."""
    torch_threads: int = 0
    """torch.set_num_threads for generation (0 = torch's default). On a CPU shared with other jobs,
    1 can be several times faster than oversubscribed threads that spin-wait."""
    models: dict[str, str] = dataclasses.field(default_factory=lambda: {"base": "embedded"})
    """label -> model spec (training stage dir, "embedded", model dir or hub name), in report order."""
    verifier_workers: int = 2
    """Verifier pool processes (0 = in-process, no deadlines; debugging only)."""
    verifier_deadline_s: float = 5.0
    """Per-check deadline in seconds."""
    verifier_deadlines: dict[str, float] = dataclasses.field(default_factory=lambda: {"code": 30.0})
    """Per-verifier deadline overrides (code runs tests in a sandbox)."""
    bootstrap: int = 1000
    """Bootstrap resamples for confidence intervals."""
    reward_plugins: list[str] = dataclasses.field(default_factory=list)
    """Modules imported (here and by the verifier workers) so their `@register` verifiers exist; the same key in
    the curate, difficulty, train and eval configs."""
    dataset: str | None = None
    """A curate/difficulty stage directory: its `dataset_split` rows are evaluated as benchmark
    "heldout" (the curriculum's evaluation split, never seen in training), with per-bucket figures."""
    dataset_split: str = "eval"
    """Which split of `dataset` to evaluate."""
    dataset_bucket_by: str = "level"
    """Row metadata key (or "source") whose values split the held-out figures into buckets."""

    def validate(self) -> None:
        for b in self.benchmarks:
            try:
                bench_registry.check(b)
            except KeyError as e:
                raise ConfigError(f"benchmarks: {e.args[0]}") from None
        known = list(self.benchmarks) + [j.name for j in self.jsonl] + (["heldout"] if self.dataset else [])
        for name in self.limits:
            if name not in known:
                raise ConfigError(f"limits: {name!r} is not among the evaluated benchmarks {known}")
        if len(set(known)) != len(known):
            raise ConfigError(f"benchmarks/jsonl: names must be unique, got {known}")
        for key, value in {"n": self.n, "batch_size": self.batch_size, "max_new_tokens": self.max_new_tokens}.items():
            if value < 1:
                raise ConfigError(f"{key} must be >= 1, got {value}")
        if any(k < 1 for k in self.k):
            raise ConfigError(f"k: every value must be >= 1, got {self.k}")
        if self.template is not None and self.template not in TEMPLATES:
            raise ConfigError(f"template: {self.template!r} is not one of {sorted(TEMPLATES)}")
        if not self.models:
            raise ConfigError("models: name at least one model (label: spec)")
        if self.protocol == "sample" and self.temperature <= 0:
            raise ConfigError("temperature must be > 0 under protocol 'sample' (use protocol: greedy)")

    @property
    def samples_per_problem(self) -> int:
        return 1 if self.protocol == "greedy" else self.n


# --- models -------------------------------------------------------------------------------------

def is_stage_dir(spec: str) -> bool:
    return Path(spec).is_dir() and (Path(spec) / "manifest.json").exists()


def model_dir_of(manifest: Manifest, stage_dir: Path) -> Path:
    """The final model directory a training manifest references.

    Looked up in order: metrics["final_model"] / config["final_model"] (a path, relative to the
    stage dir or absolute); an artifact named final, final_model or model; the last artifact that
    is a directory holding config.json. Raises ValueError when none exists.
    """
    for ref in (manifest.metrics.get("final_model"), manifest.config.get("final_model")):
        if isinstance(ref, str) and ((stage_dir / ref) / "config.json").exists():
            return (stage_dir / ref).resolve()
    dirs = [a.path for a in manifest.artifacts if (stage_dir / a.path / "config.json").exists()]
    for name in ("final", "final_model", "model"):
        if name in dirs:
            return (stage_dir / name).resolve()
    if dirs:
        return (stage_dir / dirs[-1]).resolve()
    if (stage_dir / "config.json").exists():
        return stage_dir.resolve()
    raise ValueError(f"{stage_dir}: the {manifest.stage!r} manifest references no model directory "
                     f"(artifacts: {[a.path for a in manifest.artifacts]})")


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


# --- benchmarks ---------------------------------------------------------------------------------

@dataclasses.dataclass
class BenchTask:
    name: str
    template: str
    rows: list[Row]
    bucket_by: str | None = None  # metadata key whose values give per-bucket figures


def bucket_of(row: Row, key: str) -> str:
    value = getattr(row, key) if key in ("source", "split") else row.metadata.get(key)
    return f"{key}={value}"


def load_tasks(cfg: EvalConfig, dataset_dir: Path | None = None) -> list[BenchTask]:
    tasks = []
    if dataset_dir is not None:
        from data.schema import read_rows_parquet

        rows = read_rows_parquet(dataset_dir / "dataset.parquet", split=cfg.dataset_split)
        if not rows:
            raise ValueError(f"{dataset_dir}/dataset.parquet has no {cfg.dataset_split!r} rows to evaluate")
        rows = seeded_subset(rows, cfg.limits.get("heldout") or None, cfg.seed)
        tasks.append(BenchTask("heldout", cfg.template or "boxed", rows, cfg.dataset_bucket_by))
    for name in cfg.benchmarks:
        bench = bench_registry.get(name)
        rows = bench.load(data_dir=cfg.data_dir, limit=cfg.limits.get(name) or None, seed=cfg.seed)
        tasks.append(BenchTask(name, cfg.template or bench.default_template, rows))
    jsonl = bench_registry.get("jsonl")
    for spec in cfg.jsonl:
        rows = jsonl.load(limit=cfg.limits.get(spec.name) or None, seed=cfg.seed, path=spec.path, name=spec.name,
                          verifier=spec.verifier, problem_field=spec.problem_field, gold_field=spec.gold_field,
                          id_field=spec.id_field)
        tasks.append(BenchTask(spec.name, spec.template or cfg.template or jsonl.default_template, rows))
    for t in tasks:
        dup = [i for i, c in Counter(r.id for r in t.rows).items() if c > 1]
        if dup:
            raise ValueError(f"benchmark {t.name!r}: duplicate problem ids {dup[:5]} (resume and audit need unique ids)")
    return tasks


def sampling_params(cfg: EvalConfig, seed: int) -> SamplingParams:
    if cfg.protocol == "greedy":
        return SamplingParams(n=1, temperature=0.0, top_p=1.0, max_new_tokens=cfg.max_new_tokens, seed=seed)
    return SamplingParams(n=cfg.n, temperature=cfg.temperature, top_p=cfg.top_p,
                          max_new_tokens=cfg.max_new_tokens, seed=seed)


def chunk_seed(seed: int, benchmark: str, chunk: int) -> int:
    return (seed * 1_000_003 + zlib.crc32(benchmark.encode()) + chunk * 7919) % (2**31 - 1)


# --- per-sample files ---------------------------------------------------------------------------

def read_samples(path: Path) -> list[dict]:
    """Sample records of one file; a torn last line (killed mid-write) is dropped."""
    if not path.exists():
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                break
    return out


def complete_problems(path: Path, n: int) -> dict[str, list[dict]]:
    """Problems whose n samples are all on disk; rewrites the file without partial problems."""
    by_id: dict[str, list[dict]] = defaultdict(list)
    for r in read_samples(path):
        by_id[r["id"]].append(r)
    done = {k: sorted(v, key=lambda r: r["sample"]) for k, v in by_id.items()
            if sorted(r["sample"] for r in v) == list(range(n))}
    if path.exists():
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            for recs in done.values():
                f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in recs)
        os.replace(tmp, path)
    return done


def sample_records(model: str, task: BenchTask, rows: list[Row], prompts: list[str], groups, results) -> list[dict]:
    """One JSON record per (problem, sample); `results` are flat in (problem, sample) order."""
    recs, it = [], iter(results)
    for row, prompt, group in zip(rows, prompts, groups):
        for s, c in enumerate(group):
            res = next(it)
            recs.append({"model": model, "benchmark": task.name, "id": row.id, "sample": s, "prompt": prompt,
                         "completion": c.text, "extracted": res.extracted, "score": res.score, "reason": res.reason,
                         "tokens": len(c.token_ids), "finish_reason": c.finish_reason,
                         "gold": row.gold if isinstance(row.gold, str) else None, "verifier": row.verifier})
    return recs


def run_benchmark(engine, tok, scorer: Scorer, cfg: EvalConfig, model: str, task: BenchTask, path: Path,
                  resuming: bool) -> dict:
    """Generate + score every missing problem of one benchmark, appending to `path`. Returns timings."""
    from tqdm import tqdm

    n = cfg.samples_per_problem
    done = complete_problems(path, n) if resuming else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    gen_s = score_s = 0.0
    new = 0
    bar = tqdm(total=len(task.rows), initial=len(done), desc=f"{model}/{task.name}", unit="problem",
               dynamic_ncols=True)
    with open(path, "a", encoding="utf-8") as f:
        for ci in range(0, len(task.rows), cfg.batch_size):
            todo = [r for r in task.rows[ci:ci + cfg.batch_size] if r.id not in done]
            if not todo:
                continue
            prompts = [render_prompt(tok, r.problem, task.template) for r in todo]
            t0 = time.perf_counter()
            groups = engine.generate(prompts, sampling_params(cfg, chunk_seed(cfg.seed, task.name, ci // cfg.batch_size)))
            t1 = time.perf_counter()
            pairs = [(r, c.text) for r, g in zip(todo, groups) for c in g]
            results = scorer.score([r for r, _ in pairs], [t for _, t in pairs]).results["outcome"]
            t2 = time.perf_counter()
            f.writelines(json.dumps(rec, ensure_ascii=False) + "\n"
                         for rec in sample_records(model, task, todo, prompts, groups, results))
            f.flush()
            os.fsync(f.fileno())
            gen_s, score_s, new = gen_s + t1 - t0, score_s + t2 - t1, new + len(todo)
            bar.update(len(todo))
    bar.close()
    return {"generate_s": round(gen_s, 2), "score_s": round(score_s, 2), "new_problems": new,
            "resumed_problems": len(done)}


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
