"""Rollout speed on the embedded model: HFEngine vs `model.generate`, against a matmul roofline.

HFEngine samples through its native Llama-family forward (pipeline/rollout/native.py) by default;
`--model-forward` adds rows for the same engine through the model's own forward (native=False).

Roofline: we measure this CPU's torch.matmul rate R (GFLOP/s, float32, on a square product big
enough to reach the BLAS peak, and on the decode-shaped product (B x hidden) @ (hidden x ffn)).
Decoding one token costs about 2 * n_params FLOPs (every weight is used once in a multiply-add;
attention over the KV cache is extra), so the compute bound is R / (2 * n_params) tokens/s. We
print both engines' generated tokens/s (tokens up to and including EOS, summed over all
completions, divided by wall time of the whole call, prefill included), the fraction of the
bound each achieves, and tokens per CPU-second of this process (steadier than wall time when
other processes share the CPU).

Both engines get the same rendered prompts (GSM8K-style problems through our "boxed" template)
x n samples, temperature 1.0, top-p 1.0, the same max_new_tokens; `model.generate` gets the
prompts repeated n times, left-padded, with its own DynamicCache. Samples differ (different
RNG use), so lengths differ a little: compare tokens/s, not seconds.

    python benchmarks/bench_rollout.py                          # 16 prompts x 4 samples x 128 tokens
    python benchmarks/bench_rollout.py --prompts 8 --n 8 --max-new 96 --threads 1 --bf16
    python benchmarks/bench_rollout.py --prompts 8 --n 4 --max-new 64 --bf16 --model-forward --skip-generate
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def matmul_gflops(m: int, k: int, n: int, seconds: float = 1.0, dtype=None) -> float:
    """Sustained torch.matmul rate (float32 unless `dtype`) for an (m x k) @ (k x n) product, in GFLOP/s."""
    import torch

    a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
    for _ in range(3):
        torch.matmul(a, b)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        torch.matmul(a, b)
        reps += 1
    return 2 * m * k * n * reps / (time.perf_counter() - t0) / 1e9


def questions(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b, c = rng.randint(2, 90), rng.randint(2, 90), rng.randint(2, 9)
        kind = i % 3
        if kind == 0:
            out.append(f"A baker makes {a} loaves in the morning and {b} in the afternoon. He sells all but {c}. "
                       f"How many loaves did he sell?")
        elif kind == 1:
            out.append(f"Solve for x: {c}x + {a} = {a + c * b}.")
        else:
            out.append(f"Lisa reads {a} pages a day for {c} days, then {b} more pages. How many pages did she read?")
    return out


def count_generated(gen_ids, eos_ids: set[int]) -> int:
    total = 0
    for row in gen_ids.tolist():
        cut = next((i + 1 for i, t in enumerate(row) if t in eos_ids), len(row))
        total += cut
    return total


def bench_ours(model, tok, prompts, args, dtype: str | None = None, native: bool = True) -> tuple[float, int, float]:
    from pipeline.rollout.base import SamplingParams
    from pipeline.rollout.hf import HFEngine

    eng = HFEngine(model, tok, dtype=dtype, native=native)
    eng.generate(prompts[:2], SamplingParams(n=2, max_new_tokens=4, seed=0))  # warm-up (and the bf16 copy)
    params = SamplingParams(n=args.n, temperature=1.0, top_p=1.0, max_new_tokens=args.max_new, seed=0)
    t0, c0 = time.perf_counter(), time.process_time()
    groups = eng.generate(prompts, params)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return dt, sum(len(c.token_ids) for g in groups for c in g), cpu


def bench_generate(model, tok, prompts, args, eos_ids) -> tuple[float, int, float]:
    import torch

    enc = tok([p for p in prompts for _ in range(args.n)], return_tensors="pt", padding=True, add_special_tokens=False)
    torch.manual_seed(0)
    t0, c0 = time.perf_counter(), time.process_time()
    with torch.inference_mode():
        out = model.generate(**enc, do_sample=True, temperature=1.0, top_p=1.0, top_k=0,
                             max_new_tokens=args.max_new, pad_token_id=tok.pad_token_id)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return dt, count_generated(out[:, enc.input_ids.shape[1]:], eos_ids), cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-new", type=int, default=128)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--skip-generate", action="store_true", help="only time HFEngine")
    ap.add_argument("--bf16", action="store_true", help="also time HFEngine with a bfloat16 sampling copy")
    ap.add_argument("--model-forward", action="store_true",
                    help="also time HFEngine through the model's own forward (native=False; rows marked -native / -n)")
    args = ap.parse_args(argv)
    import torch

    from pipeline.models import load_model_and_tokenizer
    from pipeline.prompts import render_prompt
    from pipeline.rollout.hf import eos_token_ids

    if args.threads:
        torch.set_num_threads(args.threads)
    model, tok = load_model_and_tokenizer("embedded")
    model.eval()
    n_params = sum(p.numel() for p in model.parameters())
    cfg = model.config
    peak = matmul_gflops(1024, 1024, 1024)
    decode_shape = matmul_gflops(args.prompts * args.n, cfg.hidden_size, cfg.intermediate_size)
    bound_peak = peak * 1e9 / (2 * n_params)
    bound_decode = decode_shape * 1e9 / (2 * n_params)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, model params {n_params / 1e6:.1f}M")
    print(f"matmul rate: {peak:.1f} GFLOP/s (1024^3), {decode_shape:.1f} GFLOP/s (decode shape "
          f"{args.prompts * args.n}x{cfg.hidden_size}x{cfg.intermediate_size})")
    print(f"roofline (decode, 2*n_params FLOP/token): {bound_peak:.0f} tokens/s at peak rate, "
          f"{bound_decode:.0f} tokens/s at decode-shape rate")
    prompts = [render_prompt(tok, q, "boxed") for q in questions(args.prompts)]
    lens = [len(ids) for ids in tok(prompts, add_special_tokens=False)["input_ids"]]
    print(f"workload: {args.prompts} prompts (prompt tokens {min(lens)}..{max(lens)}) x {args.n} samples, "
          f"max {args.max_new} new tokens, temperature 1.0")
    rows = [("HFEngine", *bench_ours(model, tok, prompts, args))]
    if args.bf16:
        bf16_rate = matmul_gflops(1024, 1024, 1024, dtype=torch.bfloat16)
        print(f"bf16 matmul rate: {bf16_rate:.1f} GFLOP/s (1024^3) -> bf16 roofline {bf16_rate * 1e9 / (2 * n_params):.0f}"
              f" tokens/s (fractions below stay relative to the float32 roofline)")
        rows.append(("HFEngine bf16", *bench_ours(model, tok, prompts, args, dtype="bfloat16")))
        if args.model_forward:
            rows.append(("HFEngine bf16 -n", *bench_ours(model, tok, prompts, args, dtype="bfloat16", native=False)))
    if args.model_forward:
        rows.insert(1, ("HFEngine -native", *bench_ours(model, tok, prompts, args, native=False)))
    if not args.skip_generate:
        rows.append(("model.generate", *bench_generate(model, tok, prompts, args, set(eos_token_ids(model, tok)))))
    for name, dt, ntok, cpu in rows:
        tps = ntok / dt
        print(f"{name:15s} {ntok:6d} tokens in {dt:7.2f} s = {tps:7.1f} tokens/s = {tps / bound_peak:6.1%} of the "
              f"peak-rate roofline ({tps / bound_decode:6.1%} of the decode-shape roofline); "
              f"{ntok / cpu:7.1f} tokens per CPU-second")
    if not args.skip_generate:
        base, base_cpu = rows[-1][2] / rows[-1][1], rows[-1][2] / rows[-1][3]
        for name, dt, ntok, cpu in rows[:-1]:
            print(f"{name} / model.generate: {(ntok / dt) / base:.2f}x tokens/s, "
                  f"{(ntok / cpu) / base_cpu:.2f}x tokens per CPU-second")
    return 0


if __name__ == "__main__":
    sys.exit(main())
