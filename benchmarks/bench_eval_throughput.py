"""Evaluation throughput: this stage's generation path vs a plain `model.generate` loop, same prompts.

Measures, in one run, on the same P seeded MATH-500 prompts (boxed template) and the same
sampling settings (n completions per prompt, temperature, top-p, max_new_tokens):
  1. stage path: `eval.evaluate.run_benchmark` - chunked `HFEngine.generate` through
     `make_engine`, scoring in the verifier pool, per-chunk fsync'd sample records;
  2. engine only: the same chunks through `engine.generate`, no scoring or writing;
  3. plain loop: for each prompt, `model.generate(**inputs, do_sample=..., num_return_sequences=n)`.
Prints completions/s, generated tokens/s and mean tokens per completion for each, and the ratio.
Both paths sample (so lengths differ slightly); `--greedy` compares greedy decoding instead.

    python benchmarks/bench_eval_throughput.py                       # embedded model, 12 prompts, n=2
    python benchmarks/bench_eval_throughput.py --prompts 16 --n 4 --max-new-tokens 128 --greedy --threads 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from eval.config import EvalConfig  # noqa: E402
from eval.samples import chunk_seed, read_samples, run_benchmark, sampling_params  # noqa: E402
from eval.tasks import BenchTask  # noqa: E402
from eval.benchmarks.registry import get  # noqa: E402
from rewards.scorer import Scorer  # noqa: E402
from pipeline.models import load_model_and_tokenizer  # noqa: E402
from pipeline.prompts import render_prompt  # noqa: E402
from pipeline.rollout.base import make_engine  # noqa: E402
from pipeline.rollout.hf import eos_token_ids  # noqa: E402


def plain_loop(model, tok, prompts, cfg: EvalConfig) -> tuple[float, int, int]:
    """(seconds, completions, generated tokens) for one model.generate call per prompt."""
    n = cfg.samples_per_problem
    kw = dict(max_new_tokens=cfg.max_new_tokens, num_return_sequences=n, pad_token_id=tok.pad_token_id)
    kw.update(dict(do_sample=False) if cfg.protocol == "greedy"
              else dict(do_sample=True, temperature=cfg.temperature, top_p=cfg.top_p, top_k=0))
    eos_ids = set(eos_token_ids(model, tok))  # tokens are counted up to and including the first EOS
    torch.manual_seed(cfg.seed)
    tokens = 0
    t0 = time.perf_counter()
    with torch.inference_mode():
        for p in prompts:
            enc = tok(p, return_tensors="pt", add_special_tokens=False)
            out = model.generate(**enc, **kw)[:, enc["input_ids"].shape[1]:]
            for row in out.tolist():
                stop = next((i + 1 for i, t in enumerate(row) if t in eos_ids), len(row))
                tokens += stop
    return time.perf_counter() - t0, len(prompts) * n, tokens


def stage_path(engine, tok, task, cfg, scorer) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "samples.jsonl"
        t0 = time.perf_counter()
        t = run_benchmark(engine, tok, scorer, cfg, "bench", task, path, resuming=False)
        secs = time.perf_counter() - t0
        recs = read_samples(path)
    print(f"stage path split: generate {t['generate_s']} s, score {t['score_s']} s, "
          f"other (prompts, records, fsync) {secs - t['generate_s'] - t['score_s']:.2f} s")
    return secs, len(recs), sum(r["tokens"] for r in recs)


def engine_only(engine, tok, task, cfg) -> tuple[float, int, int]:
    t0, count, tokens = time.perf_counter(), 0, 0
    for ci in range(0, len(task.rows), cfg.batch_size):
        rows = task.rows[ci:ci + cfg.batch_size]
        prompts = [render_prompt(tok, r.problem, task.template) for r in rows]
        for group in engine.generate(prompts, sampling_params(cfg, chunk_seed(cfg.seed, task.name, ci // cfg.batch_size))):
            count += len(group)
            tokens += sum(len(c.token_ids) for c in group)
    return time.perf_counter() - t0, count, tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--prompts", type=int, default=12)
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=12)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--greedy", action="store_true")
    ap.add_argument("--threads", type=int, default=0, help="torch threads for all paths (0 = torch default)")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    cfg = EvalConfig(benchmarks=["math500"], protocol="greedy" if a.greedy else "sample", n=a.n,
                       batch_size=a.batch_size, max_new_tokens=a.max_new_tokens, verifier_workers=2)
    rows = get("math500").load(limit=a.prompts, seed=0)
    task = BenchTask("math500", "boxed", rows)
    model, tok = load_model_and_tokenizer(a.model)
    model.eval()
    engine = make_engine("transformers", model, tok)
    prompts = [render_prompt(tok, r.problem, "boxed") for r in rows]
    print(f"model {a.model}, {len(rows)} MATH-500 prompts x n={cfg.samples_per_problem} "
          f"({cfg.protocol}, T={cfg.temperature if cfg.protocol == 'sample' else 0}), max_new_tokens "
          f"{cfg.max_new_tokens}, batch {cfg.batch_size} prompts, torch threads {torch.get_num_threads()}")
    engine.generate(prompts[:1], sampling_params(cfg, 0))  # warm-up: first-call costs count for nobody
    with Scorer(workers=2) as scorer:
        results = {"stage path (generate+score+write)": stage_path(engine, tok, task, cfg, scorer),
                   "engine only (HFEngine.generate)": engine_only(engine, tok, task, cfg),
                   "plain model.generate loop": plain_loop(model, tok, prompts, cfg)}
    print(f"{'path':36s} {'seconds':>8s} {'compl.':>7s} {'compl/s':>8s} {'tok/s':>8s} {'tok/compl':>9s}")
    for name, (secs, count, tokens) in results.items():
        print(f"{name:36s} {secs:8.1f} {count:7d} {count / secs:8.3f} {tokens / secs:8.1f} {tokens / count:9.1f}")
    stage, plain = results["stage path (generate+score+write)"], results["plain model.generate loop"]
    print(f"speed-up of the stage path over the plain loop: {(stage[1] / stage[0]) / (plain[1] / plain[0]):.2f}x "
          f"completions/s, {(stage[2] / stage[0]) / (plain[2] / plain[0]):.2f}x tokens/s")


if __name__ == "__main__":
    main()
