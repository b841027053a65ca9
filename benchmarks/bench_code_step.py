"""Seconds per GRPO step with code rows vs math rows at the same batch shape, and the scoring share of a step.

Same trainer, config and batch shape on both sides (configs/train_code_embedded.yaml: embedded SmolLM2-135M-
Instruct, prompts x group completions per step, the same max new tokens, bf16_master, dynamic sampling off
so every step samples exactly one round); only the rows differ:
- math: procedural arithmetic / linear equations (levels 1-2), scored by the math verifier;
- code: procedural function-writing tasks (levels 1-3), scored by the code verifier in the sandbox
  (one sandbox process per completion, run by the verifier pool's workers).
Each side runs as the training stage (curate -> train, `pipeline.train.run`) in its own child process, one
after the other. From metrics.jsonl: mean over steps after the first (warm-up) of time/rollout, time/score,
time/step and completion tokens; scoring share = time/score / time/step. Peak RSS: the trainer process's own
(ru_maxrss) and its largest child's (verifier workers forked from the trainer count the pages they share with it).
Step seconds compare like for like only when both sides update: a side whose groups all score the same skips its
update (zero advantages), so read the rollout and scoring columns first.

    python benchmarks/bench_code_step.py                       # 8 x 8 completions, 128 new tokens, 4 steps
    python benchmarks/bench_code_step.py --steps 6 --verifier-workers 1
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue
import resource
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SOURCES = {
    "math": [{"kind": "procedural", "name": "arith", "options": {"task": "arithmetic", "n": 300, "levels": [1, 2]}},
             {"kind": "procedural", "name": "linear", "options": {"task": "linear", "n": 100, "levels": [1, 2]}}],
    "code": [{"kind": "procedural_code", "options": {"n": 300, "seed": 0, "levels": [1, 2, 3]}}],
}


def run_side(kind: str, args, work: Path, q) -> None:
    from data.curate import CurateConfig, run as curate
    from data.sources.base import SourceSpec
    from pipeline.config import load_config
    from pipeline.grpo.config import TrainConfig
    from pipeline.train import run as train

    cc = CurateConfig(sources=[SourceSpec(**s) for s in SOURCES[kind]], verifier_workers=2)
    cc.validate()
    curate(cc, work / f"{kind}_curate")
    cfg = load_config(TrainConfig, REPO / "configs/train_code_embedded.yaml",
                      [f"total_steps={args.steps}", f"prompts_per_step={args.prompts}", f"group_size={args.group}",
                       f"max_new_tokens={args.max_new}", "dynamic_sampling=false", "max_minutes=null",
                       "checkpoint_every=0", "samples_every=0", f"verifier_workers={args.verifier_workers}",
                       f"model={args.model}", "curriculum={bucket_by: none}"], section="train")
    train(cfg, work / f"{kind}_curate", work / f"{kind}_train")
    lines = [json.loads(x) for x in (work / f"{kind}_train/metrics.jsonl").read_text().splitlines()]
    q.put({"kind": kind, "lines": lines,
           "rss_self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "rss_children_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024})


def summarise(res: dict) -> dict:
    steady = res["lines"][1:] or res["lines"]
    mean = lambda k: statistics.fmean(x[k] for x in steady)  # noqa: E731
    step, score = mean("time/step"), mean("time/score")
    return {"rollout": mean("time/rollout"), "score": score, "step": step, "share": score / step,
            "tokens": mean("completion_len/mean"), "acc": mean("accuracy"), "first": res["lines"][0]["time/step"],
            "rss": res["rss_self_mib"], "rss_children": res["rss_children_mib"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--max-new", type=int, default=128)
    ap.add_argument("--verifier-workers", type=int, default=2)
    ap.add_argument("--model", default="embedded")
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("math", "code"):
            q = ctx.Queue()
            p = ctx.Process(target=run_side, args=(kind, args, Path(tmp), q))
            p.start()
            while True:  # a side that fails exits without a result: say so instead of waiting forever
                try:
                    res = q.get(timeout=5)
                    break
                except queue.Empty:
                    if not p.is_alive():
                        sys.exit(f"{kind} side failed (exit code {p.exitcode}); see its traceback above")
            p.join()
            out[kind] = summarise(res)
    print(f"workload: {args.prompts} prompts x {args.group} completions, max {args.max_new} new tokens, "
          f"{args.steps} steps (mean over steps 2..), verifier workers {args.verifier_workers}; {os.cpu_count()} CPUs")
    print(f"{'rows':<6}{'rollout s':>10}{'score s':>9}{'step s':>8}{'score share':>13}{'tokens/compl':>14}"
          f"{'accuracy':>10}{'step 1 s':>10}{'peak RSS MiB':>14}{'children MiB':>14}")
    for kind, s in out.items():
        print(f"{kind:<6}{s['rollout']:>10.2f}{s['score']:>9.2f}{s['step']:>8.2f}{s['share']:>12.1%}{s['tokens']:>14.1f}"
              f"{s['acc']:>10.3f}{s['first']:>10.2f}{s['rss']:>14.0f}{s['rss_children']:>14.0f}")
    c, m = out["code"], out["math"]
    print(f"code / math seconds per step: {c['step'] / m['step']:.2f}x; code scoring {c['score']:.2f} s vs its rollout "
          f"{c['rollout']:.2f} s ({c['score'] / c['rollout']:.1%} of the rollout)")


if __name__ == "__main__":
    main()
