"""One model on one benchmark -> an append-only, resumable per-sample JSONL file.

Inputs: a rollout engine and its tokenizer, a `Scorer`, the `EvalConfig`, a `BenchTask`, the path of
the sample file, and whether the stage is resuming.
Outputs: `samples/<model>/<benchmark>.jsonl`, one record per (problem, sample): model, benchmark, id,
sample, prompt, completion, extracted answer, score, reason, tokens, finish reason, gold, verifier;
`run_benchmark` returns its timings (generate_s, score_s, new_problems, resumed_problems).

Choices:
1. Protocol "greedy" = one sample at temperature 0; "sample" = n samples at temperature/top-p
   (`sampling_params`). Problems go to the engine in fixed chunks of `batch_size`; each chunk's
   sampling seed is derived from (seed, benchmark, chunk index) (`chunk_seed`), so a resumed run
   draws what an uninterrupted run would have drawn for every whole chunk.
2. Scoring uses the training verifiers (the `verifier` key of each row) through `rewards.scorer.Scorer`,
   whose `rewards.pool.VerifierPool` gives per-item deadlines, a memory cap and a cache.
3. Each chunk's records are appended with flush + fsync. On resume, `complete_problems` keeps the
   problems whose n samples are all on disk (a torn last line from a kill is dropped), rewrites the
   file without partial problems, and only the rest is generated.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from collections import defaultdict
from pathlib import Path

from data.schema import Row
from eval.config import EvalConfig
from eval.tasks import BenchTask
from pipeline.prompts import render_prompt, template_for
from pipeline.rollout.base import SamplingParams
from rewards.scorer import Scorer


def sampling_params(cfg: EvalConfig, seed: int) -> SamplingParams:
    if cfg.protocol == "greedy":
        return SamplingParams(n=1, temperature=0.0, top_p=1.0, max_new_tokens=cfg.max_new_tokens, seed=seed,
                              stop=list(cfg.stop))
    return SamplingParams(n=cfg.n, temperature=cfg.temperature, top_p=cfg.top_p,
                          max_new_tokens=cfg.max_new_tokens, seed=seed, stop=list(cfg.stop))


def chunk_seed(seed: int, benchmark: str, chunk: int) -> int:
    return (seed * 1_000_003 + zlib.crc32(benchmark.encode()) + chunk * 7919) % (2**31 - 1)


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
            prompts = [render_prompt(tok, r.problem, template_for(r.verifier, task.template, task.templates)) for r in todo]
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
