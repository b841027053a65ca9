"""Rollout speed and memory, HFEngine vs vLLM, on the embedded model, same prompts / samples / lengths.

Each engine runs in its own child process (so each peak RSS is its own: `resource.getrusage(...).ru_maxrss`
of that child, which includes the float32 Hugging Face model every engine is built from, and for vLLM its
own weight copy and KV cache). Both engines get the same rendered prompts (GSM8K-style problems through the
"boxed" template) x n samples, temperature 1.0, top-p 1.0, and `ignore_eos`, so every completion is exactly
max_new tokens long and both engines generate the same number of tokens (`--stop-at-eos` to let them stop).

Rows: HFEngine (native Llama-family forward with pre-packed bfloat16 weights: the repo's fast CPU path, what
the embedded recipe samples with) and vLLM in bfloat16 (and float32 with `--vllm-float32`). Per row: the
engine's start (build + weight push), one warm-up call, then the timed call: wall seconds, generated
tokens, tokens/s, tokens per CPU-second of the child, and the child's peak RSS.

    python benchmarks/bench_vllm.py                                  # 8 prompts x 8 samples x 128 tokens
    python benchmarks/bench_vllm.py --prompts 16 --n 4 --max-new 256 --vllm-float32 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def worker(args) -> dict:
    """One engine, in this (child) process: start, warm up, time one call. Returns the numbers as a dict."""
    import torch

    from benchmarks.bench_rollout import questions
    from pipeline.models import load_model_and_tokenizer
    from pipeline.prompts import render_prompt
    from pipeline.rollout.base import SamplingParams, make_engine

    if args.threads:
        torch.set_num_threads(args.threads)
    model, tok = load_model_and_tokenizer("embedded")
    model.eval()
    prompts = [render_prompt(tok, q, "boxed") for q in questions(args.prompts)]
    t0 = time.perf_counter()
    if args.worker == "hf":
        engine = make_engine("transformers", model, tok, dtype="bfloat16")
    else:
        dtype = "float32" if args.worker == "vllm-float32" else "bfloat16"
        engine = make_engine("vllm", model, tok, dtype=dtype, kv_cache_gb=args.kv_cache_gb, max_model_len=1024)
    start = time.perf_counter() - t0
    params = SamplingParams(n=args.n, temperature=1.0, top_p=1.0, max_new_tokens=args.max_new, seed=0,
                            ignore_eos=not args.stop_at_eos)
    engine.generate(prompts[:2], SamplingParams(n=2, max_new_tokens=8, seed=1))  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    groups = engine.generate(prompts, params)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    tokens = sum(len(c.token_ids) for g in groups for c in g)
    lens = [len(ids) for ids in tok(prompts, add_special_tokens=False)["input_ids"]]
    return {"engine": args.worker, "start_s": start, "wall_s": wall, "cpu_s": cpu, "tokens": tokens,
            "completions": sum(len(g) for g in groups), "threads": torch.get_num_threads(),
            "prompt_tokens": [min(lens), max(lens)],
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--max-new", type=int, default=128)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--kv-cache-gb", type=float, default=1.0, help="vLLM's KV-cache size (GiB)")
    ap.add_argument("--vllm-float32", action="store_true", help="also time vLLM in float32")
    ap.add_argument("--stop-at-eos", action="store_true", help="let completions stop at EOS (lengths then differ)")
    ap.add_argument("--worker", choices=["hf", "vllm", "vllm-float32"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print("RESULT " + json.dumps(worker(args)), flush=True)
        return 0
    engines = ["hf", "vllm"] + (["vllm-float32"] if args.vllm_float32 else [])
    passthrough = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--vllm-float32"]
    rows = []
    for name in engines:
        res = subprocess.run([sys.executable, __file__, *passthrough, "--worker", name], capture_output=True,
                             text=True, cwd=ROOT)
        line = next((x for x in res.stdout.splitlines() if x.startswith("RESULT ")), None)
        if res.returncode != 0 or line is None:
            print(f"{name}: failed (exit {res.returncode})\n{res.stderr[-3000:]}", file=sys.stderr)
            return 1
        rows.append(json.loads(line[len("RESULT "):]))
    r0 = rows[0]
    print(f"workload: {args.prompts} prompts (prompt tokens {r0['prompt_tokens'][0]}..{r0['prompt_tokens'][1]}) x "
          f"{args.n} samples x {args.max_new} new tokens ({'stopping at EOS' if args.stop_at_eos else 'ignore_eos'}),"
          f" temperature 1.0; torch threads {r0['threads']}; embedded model (SmolLM2-135M-Instruct)")
    labels = {"hf": "HFEngine native bf16", "vllm": "vLLM bf16", "vllm-float32": "vLLM float32"}
    print(f"{'engine':21s} {'start s':>8s} {'tokens':>7s} {'wall s':>8s} {'tokens/s':>9s} {'tok/CPU-s':>10s} "
          f"{'peak RSS MiB':>13s}")
    for r in rows:
        print(f"{labels[r['engine']]:21s} {r['start_s']:8.1f} {r['tokens']:7d} {r['wall_s']:8.2f} "
              f"{r['tokens'] / r['wall_s']:9.1f} {r['tokens'] / r['cpu_s']:10.1f} {r['peak_rss_mib']:13.0f}")
    base = rows[0]["tokens"] / rows[0]["wall_s"]
    for r in rows[1:]:
        print(f"{labels[r['engine']]} / {labels['hf']}: {(r['tokens'] / r['wall_s']) / base:.2f}x tokens/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
