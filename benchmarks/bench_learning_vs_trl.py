"""Learning per minute: held-out accuracy gained by our trainer vs TRL's GRPOTrainer in the same wall-clock budget.

Both trainers get, one after the other on this machine, each in its own fresh process:
- the same model (the train config's, default the embedded SmolLM2-135M-Instruct) and curated dataset (a
  `curate` stage directory: its train split to train on, its held-out split to evaluate on);
- the same prompts in the same order: the sequence our curriculum (the train config's `curriculum:`) hands
  out, step by step; TRL gets it as its dataset with `shuffle_dataset=False`, so its RepeatSampler walks it
  in order (our dynamic-sampling refills draw extra prompts, which TRL's loop has no equivalent of);
- the same reward: our Scorer with the config's `rewards:` (the row's math verifier + the small "answered"
  credit), called from a TRL reward function;
- the same group size, prompts per step (one optimizer step per `prompts x group` completions: TRL's
  per_device_train_batch_size x gradient_accumulation_steps = prompts x group), max new tokens, sampling
  temperature, learning rate (constant after our warmup) and precision (bf16 where the CPU has it natively);
  TRL keeps its own defaults for everything else (loss_type "dapo", epsilon 0.2, beta 0, gradient
  checkpointing on), i.e. what a user gets from `GRPOConfig` with those fields set;
- the same budget: `--minutes` of training each (ours: `max_minutes`; TRL: a callback stops it when the
  budget is spent), model loading excluded for both.
Then the evaluation stage (scripts/04_evaluate.py, `--eval-config`) scores the base model and both final
models on the same held-out split with the same sampling. Printed: held-out accuracy before/after for
both, each gain, the ratio of gains, steps taken, seconds per step, and each trainer's peak resident
memory (VmHWM of its process; ours also records it in its manifest).

TRL is only needed here: `pip install trl` (not a project dependency).

    python benchmarks/bench_learning_vs_trl.py --data runs/curate_embedded --minutes 15 --out runs/bench_learning
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def peak_rss_mib() -> float:
    from pipeline.grpo.metrics import memory_mib

    return memory_mib()["mem/peak_rss_mib"]


def load_cfg(args):
    from pipeline.config import load_config
    from pipeline.grpo.config import TrainConfig

    return load_config(TrainConfig, args.config, list(args.override), section="train")


def prompt_sequence(cfg, rows, steps: int) -> list:
    """The rows our curriculum hands out at steps 1..steps (prompts_per_step each), in order."""
    from data.curriculum import Curriculum

    cur = Curriculum.from_dataset(rows, cfg.curriculum)
    return [r for step in range(1, steps + 1) for r in cur.sample(step, cfg.prompts_per_step)]


def run_trl(args) -> dict:
    """TRL's GRPOTrainer for `--minutes` on the same prompts, reward and batch shape; saves the final model."""
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from data.schema import Row, read_rows_parquet
    from pipeline.allocator import tune_allocator
    from pipeline.grpo.precision import resolve_precision
    from pipeline.models import load_model_and_tokenizer
    from pipeline.prompts import render_prompt
    from rewards.scorer import Scorer

    if args.trl_tuned_malloc:
        tune_allocator()
    cfg = load_cfg(args)
    torch.manual_seed(cfg.seed)
    rows = [r for r in read_rows_parquet(Path(args.data) / "dataset.parquet") if r.split == cfg.train_split]
    seq = prompt_sequence(cfg, rows, args.max_steps)
    model, tok = load_model_and_tokenizer(cfg.model)
    data = Dataset.from_list([{"prompt": render_prompt(tok, r.problem, cfg.template), "row": json.dumps(r.to_dict())}
                              for r in seq])
    scorer = Scorer(cfg.rewards, cfg.verifier_workers, cfg.verifier_deadline_s, plugins=cfg.reward_plugins)

    def reward(prompts, completions, row, **kwargs):
        scores = scorer.score([Row.from_dict(json.loads(x)) for x in row], list(completions))
        return [float(s) if s is not None else None for s in scores.reward]

    class Budget(TrainerCallback):
        def __init__(self):
            self.t0, self.steps = None, 0

        def on_train_begin(self, a, state, control, **kw):
            self.t0 = time.time()

        def on_step_end(self, a, state, control, **kw):
            self.steps = state.global_step
            if time.time() - self.t0 > 60 * args.minutes:
                control.should_training_stop = True

    bf16 = resolve_precision("auto", "cpu", False)[0] != "no"
    budget = Budget()
    out = Path(args.out) / "trl"
    tcfg = GRPOConfig(output_dir=str(out / "hf"), num_generations=cfg.group_size,
                      per_device_train_batch_size=cfg.group_size,
                      gradient_accumulation_steps=cfg.prompts_per_step, max_completion_length=cfg.max_new_tokens,
                      max_steps=args.max_steps, learning_rate=cfg.lr, lr_scheduler_type="constant_with_warmup",
                      warmup_steps=cfg.warmup_steps, temperature=cfg.temperature, top_p=cfg.top_p,
                      shuffle_dataset=False, use_cpu=True, bf16=bf16, report_to="none", save_strategy="no",
                      logging_steps=1, disable_tqdm=True, seed=cfg.seed, dataloader_num_workers=0)
    trainer = GRPOTrainer(model=model, reward_funcs=reward, args=tcfg, train_dataset=data, processing_class=tok,
                          callbacks=[budget])
    t0 = time.time()
    trainer.train()
    seconds = time.time() - t0
    scorer.close()
    trainer.save_model(str(out / "model"))
    tok.save_pretrained(str(out / "model"))
    return {"steps": budget.steps, "seconds": seconds, "peak_rss_mib": peak_rss_mib(), "model": str(out / "model"),
            "lr": cfg.lr, "bf16": bf16}


def run_ours(args) -> dict:
    """Our train stage (scripts/03_train.py) with `max_minutes` = the budget."""
    out = Path(args.out) / "ours"
    cmd = [sys.executable, str(REPO / "scripts/03_train.py"), "--config", args.config, "--data", args.data,
           "--out", str(out), f"max_minutes={args.minutes}", f"total_steps={args.max_steps}", *args.override]
    t0 = time.time()
    subprocess.run(cmd, check=True)
    m = json.loads((out / "manifest.json").read_text())["metrics"]
    steps = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if x.strip()]
    return {"steps": m["steps"], "seconds": sum(x["time/step"] for x in steps), "wall_s": time.time() - t0,
            "peak_rss_mib": m["peak_rss_mib"], "model": str(out),
            "mixed_precision": m["mixed_precision"]}


def evaluate(args, models: dict[str, str]) -> dict[str, float]:
    """pass@1 (%) of each model on the dataset's held-out split, through the evaluation stage."""
    out = Path(args.out) / "eval"
    cmd = [sys.executable, str(REPO / "scripts/04_evaluate.py"), "--config", args.eval_config, "--out", str(out),
           f"dataset={args.data}", "benchmarks=[]", "limits={}"]
    for name, path in models.items():
        cmd += ["--model", f"{name}={path}"]
    subprocess.run(cmd, check=True)
    figures = json.loads((out / "manifest.json").read_text())["metrics"]["figures"]
    return {name: 100 * figures[name]["heldout"][args.metric] for name in models}


def child(args) -> int:
    res = run_trl(args)
    Path(args.result_json).write_text(json.dumps(res))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="a curate stage directory with a held-out split")
    ap.add_argument("--config", default=str(REPO / "configs/train_embedded.yaml"), help="our train config")
    ap.add_argument("--eval-config", default=str(REPO / "configs/eval_heldout_embedded.yaml"))
    ap.add_argument("--minutes", type=float, default=15.0, help="training budget for each trainer")
    ap.add_argument("--max-steps", type=int, default=1000, help="a step cap above what the budget allows")
    ap.add_argument("--out", default="runs/bench_learning")
    ap.add_argument("--metric", default="pass@1", help="the held-out figure compared (the eval config's metrics)")
    ap.add_argument("--trl-tuned-malloc", action="store_true", help="our allocator in TRL's process too: tcmalloc where installed "
                    "(pipeline/allocator.py, as the stage scripts), and the glibc tuning")
    ap.add_argument("--only", choices=["trl"], default=None, help=argparse.SUPPRESS)
    ap.add_argument("--result-json", default=None, help=argparse.SUPPRESS)
    ap.add_argument("override", nargs="*", help="key=value overrides of our train config (both trainers read them)")
    args = ap.parse_args(argv)
    if args.only == "trl":
        return child(args)
    import trl

    Path(args.out).mkdir(parents=True, exist_ok=True)
    print(f"budget {args.minutes} min each; config {args.config} {' '.join(args.override)}; trl {trl.__version__}",
          flush=True)
    ours = run_ours(args)
    res_json = Path(args.out) / "trl_result.json"
    env = None
    if args.trl_tuned_malloc:
        from pipeline.allocator import malloc_library, preload_env

        env = preload_env(dict(os.environ), malloc_library())
    subprocess.run([sys.executable, __file__, "--only", "trl", "--result-json", str(res_json), "--data", args.data,
                    "--config", args.config, "--minutes", str(args.minutes), "--max-steps", str(args.max_steps),
                    "--out", args.out, *(["--trl-tuned-malloc"] if args.trl_tuned_malloc else []), *args.override],
                   check=True, env=env)
    theirs = json.loads(res_json.read_text())
    cfg = load_cfg(args)
    acc = evaluate(args, {"base": cfg.model, "ours": ours["model"], "trl": theirs["model"]})
    print("=" * 100)
    print(f"{'trainer':8s} {'steps':>6s} {'s/step':>7s} {'peak RSS MiB':>13s} {'held-out before':>16s} "
          f"{'after':>7s} {'gain':>7s}")
    gains = {}
    for name, r in (("ours", ours), ("trl", theirs)):
        gains[name] = acc[name] - acc["base"]
        print(f"{name:8s} {r['steps']:6d} {r['seconds'] / max(1, r['steps']):7.1f} {r['peak_rss_mib']:13.0f} "
              f"{acc['base']:16.1f} {acc[name]:7.1f} {gains[name]:+7.1f}")
    ratio = gains["ours"] / gains["trl"] if gains["trl"] > 0 else float("inf") if gains["ours"] > 0 else float("nan")
    print(f"ratio of gains (ours / TRL): {ratio:.2f}" + ("  (TRL gained nothing: the ratio is unbounded)"
                                                         if gains["trl"] <= 0 < gains["ours"] else ""))
    (Path(args.out) / "result.json").write_text(json.dumps({"ours": ours, "trl": theirs, "accuracy": acc,
                                                             "gains": gains}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
