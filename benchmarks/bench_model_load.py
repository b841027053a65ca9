"""Time resolving + loading the embedded default (first build is excluded if cached).

    python benchmarks/bench_model_load.py
"""
import time

t0 = time.perf_counter()
import torch  # noqa: E402,F401
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from pipeline.models import resolve_model  # noqa: E402

t_import = time.perf_counter() - t0
t1 = time.perf_counter()
path = resolve_model("embedded")
t_resolve = time.perf_counter() - t1
for i in range(2):
    t2 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    print(f"load {i + 1}: {time.perf_counter() - t2:.2f} s (model + tokenizer)")
print(f"imports {t_import:.2f} s, resolve (cached) {t_resolve:.3f} s, "
      f"params {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M")
