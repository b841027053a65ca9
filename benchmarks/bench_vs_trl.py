"""Seconds per GRPO step: our trainer vs TRL's GRPOTrainer, identical work, one run, on the CPU.

Identical work on both sides:
- model: the embedded SmolLM2-135M-Instruct (float32 weights), freshly loaded for each trainer;
- prompts: the same `--prompts` arithmetic problems rendered with our "boxed" chat template (TRL gets
  the rendered text as a plain-string prompt, so it conditions on exactly the same tokens); with
  prompts per step equal to the number of problems, every step of both trainers uses all of them;
- group size, max new tokens, steps, temperature 1.0, top-p 1.0, mu = 1 (TRL num_iterations=1),
  beta = 0 (no reference model), one optimizer step per training step over all completions
  (TRL: per_device_train_batch_size = prompts x group, gradient_accumulation_steps = 1);
- reward: `benchmarks/bench_reward.py` ("bench_dense": 1 for the gold number, else a small score per
  number written) against the same gold answers (ours through its Scorer with one worker process,
  TRL through a plain reward function). Dense on purpose: with `math`, a 135M model scores 0 in
  nearly every group, and our trainer skips the forward/backward of zero-advantage rows (exactly
  the same gradient) while TRL does not, which would flatter us. We print the share of rows our
  update trained on ("active").
A step is timed from start to end of one training step (rollout + scoring + update + logging), and
we report the mean over steps after the first (warm-up); the first is printed too. Besides wall
time we report the trainer process's CPU seconds per step (our verifier worker's few ms are not
counted), which stays meaningful when other jobs share the CPU.

Each trainer runs in its own fresh process (one after the other, never concurrently), so neither
inherits the other's threads, caches or allocator settings: ours applies its glibc allocator tuning
(pipeline/allocator.py) as the stage scripts do; TRL runs as a user gets it (pass
`--trl-tuned-malloc` to give TRL's process the same tuning, for a like-for-like allocator figure).
Precision: `--precision bf16` runs TRL with `bf16=True` (autocast) and ours with `--ours-mp`
(default `bf16_master`: a bf16 compute copy with float32 master weights; `bf16` = autocast like TRL).

TRL is only needed here: `pip install trl` (not a project dependency).

    python benchmarks/bench_vs_trl.py                      # 8 prompts x group 4, 64 new tokens, 3 steps
    python benchmarks/bench_vs_trl.py --steps 4 --max-new 128
    python benchmarks/bench_vs_trl.py --precision bf16 --steps 4     # the issue's figure
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def problems(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """n two-step arithmetic word problems with integer gold answers."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b, c = rng.randint(2, 60), rng.randint(2, 60), rng.randint(2, 9)
        out.append((f"Tom has {a} apples and buys {b} more. He then gives away {c}. How many apples does he have now?",
                    str(a + b - c)))
    return out


def run_ours(args, probs) -> list[float]:
    import torch

    from data.curriculum import Curriculum, CurriculumConfig
    from data.schema import Row
    from pipeline.grpo.config import RewardSpec, TrainConfig
    from pipeline.grpo.trainer import GRPOTrainer
    from pipeline.models import load_model_and_tokenizer

    torch.manual_seed(0)
    cfg = TrainConfig(model="embedded", template="boxed", prompts_per_step=len(probs), group_size=args.group,
                      max_new_tokens=args.max_new, temperature=1.0, top_p=1.0, lr=1e-6, mu=1, beta=0.0,
                      total_steps=args.steps, checkpoint_every=0, samples_every=0, verifier_workers=1,
                      rewards=[RewardSpec(verifier="bench_dense")], reward_plugins=["benchmarks.bench_reward"],
                      seed=0, mixed_precision=args.ours_mp if args.precision == "bf16" else "no",
                      rollout_dtype="bfloat16" if args.precision == "bf16" and args.ours_mp == "bf16" else None)
    cfg.validate()
    model, tok = load_model_and_tokenizer("embedded")
    rows = [Row(id=f"bench/{i}", problem=p, verifier="math", gold=g, source="bench") for i, (p, g) in enumerate(probs)]
    cur = Curriculum.from_dataset(rows, CurriculumConfig(bucket_by="none"))
    times, cpus = [], []
    args.rollout_tps = []
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = GRPOTrainer(cfg, model, tok, cur, run_dir)
        for step in range(1, args.steps + 1):
            t0, c0 = time.perf_counter(), time.process_time()
            m = trainer.train_step(step)
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            args.rollout_tps.append(m["tokens_per_s"])
            print(f"  ours step {step}: {times[-1]:.2f} s (cpu {cpus[-1]:.2f} s)  reward {m.get('reward/mean', float('nan')):.3f}  "
                  f"len {m.get('completion_len/mean', float('nan')):.1f}  active {m.get('active_frac', float('nan')):.2f}  "
                  + " ".join(f"{k[5:]}={v:.2f}" for k, v in m.items() if k.startswith("time/")), flush=True)
        trainer.logger.close()
        if hasattr(trainer.scorer, "close"):
            trainer.scorer.close()
    return times, cpus


def run_trl(args, probs) -> list[float]:
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from pipeline.models import load_model_and_tokenizer
    from pipeline.prompts import render_prompt
    from benchmarks.bench_reward import dense_reward

    torch.manual_seed(0)
    model, tok = load_model_and_tokenizer("embedded")
    data = Dataset.from_list([{"prompt": render_prompt(tok, p, "boxed"), "gold": g} for p, g in probs])

    def gold_reward(prompts, completions, gold, **kwargs):
        return [float(dense_reward(c, g).score or 0.0) for c, g in zip(completions, gold)]

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.times, self.cpus, self.t0 = [], [], None

        def on_step_begin(self, a, state, control, **kw):
            self.t0, self.c0 = time.perf_counter(), time.process_time()

        def on_step_end(self, a, state, control, **kw):
            self.times.append(time.perf_counter() - self.t0)
            self.cpus.append(time.process_time() - self.c0)
            print(f"  trl  step {state.global_step}: {self.times[-1]:.2f} s (cpu {self.cpus[-1]:.2f} s)", flush=True)

    timer = StepTimer()
    with tempfile.TemporaryDirectory() as out:
        cfg = GRPOConfig(output_dir=out, per_device_train_batch_size=len(probs) * args.group,
                         num_generations=args.group, gradient_accumulation_steps=1, max_completion_length=args.max_new,
                         max_steps=args.steps, num_iterations=1, beta=0.0, learning_rate=1e-6, temperature=1.0,
                         top_p=1.0, use_cpu=True, bf16=args.precision == "bf16", report_to="none", save_strategy="no", logging_steps=1,
                         disable_tqdm=True, seed=0, dataloader_num_workers=0)
        trainer = GRPOTrainer(model=model, reward_funcs=gold_reward, args=cfg, train_dataset=data,
                              processing_class=tok, callbacks=[timer])
        trainer.train()
    return timer.times, timer.cpus


def summary(name: str, measured: tuple[list[float], list[float]]) -> tuple[float, float]:
    """Print and return (mean wall s/step, mean CPU s/step) over steps after the first (warm-up)."""
    times, cpus = measured
    k = 1 if len(times) > 1 else 0
    mean, cpu = statistics.mean(times[k:]), statistics.mean(cpus[k:])
    print(f"{name:5s} s/step: first {times[0]:.2f}, mean of steps {k + 1}..{len(times)}: {mean:.2f} wall, "
          f"{cpu:.2f} CPU-s of this process  (all wall: " + ", ".join(f"{t:.2f}" for t in times) + ")")
    return mean, cpu


def roofline(args) -> str:
    """Our rollout tokens/s (steps after the first) against the compute bound R / (2 * n_params) tokens/s,
    R = this CPU's measured matmul rate in the rollout's dtype (benchmarks/bench_rollout.py)."""
    import torch

    from bench_rollout import matmul_gflops
    from pipeline.models import load_model_and_tokenizer

    model, _ = load_model_and_tokenizer("embedded")
    n_params = sum(p.numel() for p in model.parameters())
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    rate = matmul_gflops(1024, 1024, 1024, dtype=dtype)
    bound = rate * 1e9 / (2 * n_params)
    tps = statistics.mean(args.rollout_tps[1:] or args.rollout_tps)
    return (f"rollout (ours): {tps:.0f} tokens/s; roofline {bound:.0f} tokens/s from a measured {str(dtype)[6:]} matmul "
            f"rate of {rate:.0f} GFLOP/s (1024^3) and 2 x {n_params / 1e6:.1f}M FLOP/token -> {tps / bound:.1%} of it")


def run_side(args, side: str) -> tuple[list[float], list[float], str | None]:
    """Run one trainer in a fresh child process (this script with --only); returns (times, cpus, roofline line)."""
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, __file__, "--only", side, "--result-json", str(out), "--prompts", str(args.prompts),
               "--group", str(args.group), "--max-new", str(args.max_new), "--steps", str(args.steps),
               "--precision", args.precision, "--ours-mp", args.ours_mp]
        cmd += ["--threads", str(args.threads)] if args.threads else []
        cmd += ["--trl-tuned-malloc"] if args.trl_tuned_malloc else []
        subprocess.run(cmd, check=True)
        res = json.loads(out.read_text())
    return res["times"], res["cpus"], res.get("roofline")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--group", type=int, default=4)
    ap.add_argument("--max-new", type=int, default=64)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                    help="bf16: both trainers compute in bfloat16 (ours: --ours-mp; "
                         "TRL: bf16=True, autocast for generation and update)")
    ap.add_argument("--ours-mp", choices=["bf16", "bf16_master"], default="bf16_master",
                    help="our mixed precision under --precision bf16 (bf16 = autocast, as TRL)")
    ap.add_argument("--only", choices=["ours", "trl"], default=None,
                    help="run one trainer in this process (default: each in its own child process)")
    ap.add_argument("--result-json", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--trl-tuned-malloc", action="store_true",
                    help="apply our glibc allocator tuning in TRL's process too")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads for both trainers (on a shared, oversubscribed CPU 1 is far faster than 2)")
    args = ap.parse_args(argv)
    import torch
    import trl

    if args.threads:
        torch.set_num_threads(args.threads)

    probs = problems(args.prompts)
    if args.only is not None:  # one side, in this process
        if args.only == "ours" or args.trl_tuned_malloc:
            from pipeline.allocator import tune_allocator

            tune_allocator()
        times, cpus = run_ours(args, probs) if args.only == "ours" else run_trl(args, probs)
        line = roofline(args) if args.only == "ours" else None
        if args.result_json:
            Path(args.result_json).write_text(json.dumps({"times": times, "cpus": cpus, "roofline": line}))
        summary(args.only, (times, cpus))
        if line:
            print(line)
        return 0
    print(f"workload: {args.prompts} prompts x group {args.group} = {args.prompts * args.group} completions/step, "
          f"max {args.max_new} new tokens, {args.steps} steps, mu=1, beta=0, precision {args.precision} "
          f"(ours: {args.ours_mp if args.precision == 'bf16' else 'fp32'}); torch {torch.__version__}, trl {trl.__version__}, "
          f"threads {args.threads or torch.get_num_threads()}; TRL allocator: "
          f"{'tuned as ours' if args.trl_tuned_malloc else 'glibc default'}", flush=True)
    ours_t, ours_c, line = run_side(args, "ours")
    trl_t, trl_c, _ = run_side(args, "trl")
    print("=" * 100)
    ours, theirs = summary("ours", (ours_t, ours_c)), summary("trl", (trl_t, trl_c))
    print(line)
    print(f"speed-up (TRL s/step / our s/step): {theirs[0] / ours[0]:.2f}x wall-clock, {theirs[1] / ours[1]:.2f}x "
          f"CPU-seconds  (target >= 3x; on a CPU shared with other jobs trust the CPU-seconds ratio more)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
