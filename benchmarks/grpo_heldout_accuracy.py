"""Quick before/after accuracy for the GRPO stage: greedy decoding on a curate stage's held-out split
(per difficulty bucket) and on a seeded GSM8K test subset. A tuning aid; the evaluation stage
(scripts/04_evaluate.py) makes the reported measurement.

    python benchmarks/grpo_heldout_accuracy.py --model embedded --data runs/curate_embedded \
        --split eval --gsm8k 200 --out /tmp/base_acc.json
    python benchmarks/grpo_heldout_accuracy.py --model runs/train_embedded/model --data runs/curate_embedded

Prints accuracy per bucket (curriculum `level` buckets), overall, and on GSM8K; writes per-item
records to --out. Verifier: rewards.math (in process; the golds and outputs here are small).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def evaluate(model, tok, rows, template: str, max_new_tokens: int, batch: int) -> list[dict]:
    from pipeline.prompts import render_prompt
    from pipeline.rollout.base import SamplingParams
    from pipeline.rollout.hf import HFEngine
    from rewards.registry import get

    engine = HFEngine(model, tok)
    out = []
    for i in range(0, len(rows), batch):
        chunk = rows[i:i + batch]
        prompts = [render_prompt(tok, r.problem, template) for r in chunk]
        comps = engine.generate(prompts, SamplingParams(n=1, temperature=0.0, max_new_tokens=max_new_tokens, seed=0))
        for r, c in zip(chunk, comps):
            res = get(r.verifier)(c[0].text, r.gold)
            out.append({"id": r.id, "level": r.metadata.get("level"), "source": r.source, "score": res.score,
                        "reason": res.reason, "completion": c[0].text, "gold": r.gold})
        print(f"  {min(i + batch, len(rows))}/{len(rows)}", file=sys.stderr, flush=True)
    return out


def summarise(recs: list[dict], key) -> dict[str, float]:
    by = collections.defaultdict(list)
    for r in recs:
        by[key(r)].append(1.0 if r["score"] == 1.0 else 0.0)
    return {k: round(100 * sum(v) / len(v), 1) for k, v in sorted(by.items())} | {
        "n": {k: len(v) for k, v in sorted(by.items())}}


def main() -> int:
    import torch

    from data.schema import read_rows_parquet
    from pipeline.models import load_model_and_tokenizer

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", help="curate stage directory")
    ap.add_argument("--split", default="eval")
    ap.add_argument("--gsm8k", type=int, default=0, help="seeded GSM8K test subset size (0: skip)")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--gsm8k-max-new-tokens", type=int, default=256)
    ap.add_argument("--template", default="boxed")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, tok = load_model_and_tokenizer(a.model)
    report: dict = {"model": a.model}
    t0 = time.time()
    if a.data:
        rows = [r for r in read_rows_parquet(Path(a.data) / "dataset.parquet") if r.split == a.split]
        recs = evaluate(model, tok, rows, a.template, a.max_new_tokens, a.batch)
        report["heldout_by_bucket"] = summarise(recs, lambda r: f"{r['source']}/L{r['level']}")
        report["heldout_by_level"] = summarise(recs, lambda r: f"L{r['level']}")
        report["heldout_all"] = summarise(recs, lambda r: "all")
        report["heldout_records"] = recs
    if a.gsm8k:
        from data.benchmarks import get

        grows = get("gsm8k").load(limit=a.gsm8k, seed=0)
        grecs = evaluate(model, tok, grows, a.template, a.gsm8k_max_new_tokens, a.batch)
        report["gsm8k"] = summarise(grecs, lambda r: "all")
        report["gsm8k_records"] = grecs
    report["seconds"] = round(time.time() - t0, 1)
    print(json.dumps({k: v for k, v in report.items() if not k.endswith("records")}, indent=1))
    if a.out:
        Path(a.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
