#!/usr/bin/env python
"""Stage 4: evaluate models on benchmarks (eval/evaluate.py tells the whole story).

    python scripts/04_evaluate.py --config configs/eval_demo.yaml --out runs/eval
    python scripts/04_evaluate.py --config configs/eval_demo.yaml --model base=embedded \\
        --model trained=runs/demo/train --out runs/demo/evaluate
    python scripts/04_evaluate.py --config configs/eval_full.yaml --model Qwen/Qwen2.5-Math-7B \\
        --out runs/eval_full engine=vllm n=16          # key=value overrides any config field

--model LABEL=SPEC (repeatable) replaces the config's `models`; SPEC is a training stage
directory, "embedded", a model directory or a hub name. Without a label the first model is
"base" and the second "trained". Re-running an identical command is a no-op; after a kill it
resumes; --force starts over.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pipeline.allocator import preload_malloc  # noqa: E402

preload_malloc(__name__)  # restarts once under tcmalloc where installed; not when a test imports the script

from eval.benchmarks.registry import names  # noqa: E402
from eval.config import EvalConfig  # noqa: E402
from eval.evaluate import run  # noqa: E402
from pipeline.config import ConfigError, load_config  # noqa: E402

AUTO_LABELS = ("base", "trained")


def model_overrides(specs: list[str]) -> dict[str, str]:
    models: dict[str, str] = {}
    for i, spec in enumerate(specs):
        label, _, target = spec.partition("=") if "=" in spec else ("", "", spec)
        label = label or (AUTO_LABELS[i] if i < len(AUTO_LABELS) else f"model{i + 1}")
        if label in models:
            raise ConfigError(f"--model: label {label!r} given twice")
        models[label] = target
    return models


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 epilog=f"benchmarks: {', '.join(names(include_generic=True))}")
    ap.add_argument("--config", help="YAML config (fields of eval.config.EvalConfig)")
    ap.add_argument("--model", action="append", default=[], help="LABEL=SPEC or SPEC (repeatable)")
    ap.add_argument("--out", required=True, help="output directory of this stage")
    ap.add_argument("--force", action="store_true", help="recompute even when up to date")
    ap.add_argument("overrides", nargs="*", help="config overrides key=value, e.g. n=8 limits.math500=50")
    a = ap.parse_args(argv)
    try:
        cfg = load_config(EvalConfig, a.config, a.overrides)
        if a.model:
            cfg.models = model_overrides(a.model)
            cfg.validate()
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    run(cfg, a.out, force=a.force)
    print(f"report: {Path(a.out) / 'report.md'}")
    return 0


if __name__ == "__main__":
    from pipeline.cli import guarded

    sys.exit(guarded(main))
