"""Stage 3, training: GRPO on a curated (or difficulty-annotated) dataset -> model/ + manifest.

    python scripts/03_train.py --config configs/train_embedded.yaml --data runs/curate_embedded \
        --out runs/train [key=value ...] [--force]

Overrides address the `train:` section (e.g. `total_steps=20 lr=5e-6 curriculum.schedule=easy_to_hard`).
Re-running the same command after an interruption resumes from the newest checkpoint.
Multi-process (DeepSpeed ZeRO through accelerate):
    accelerate launch --num_processes 2 scripts/03_train.py ... deepspeed=configs/deepspeed/zero2.json
See pipeline/train.py for what is read and written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.config import ConfigError, load_config, load_yaml  # noqa: E402
from pipeline.grpo.config import TrainConfig  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="YAML file (a `train:` section or a bare TrainConfig)")
    ap.add_argument("--data", required=True, help="curate or difficulty stage output directory")
    ap.add_argument("--out", required=True, help="output directory of the stage")
    ap.add_argument("--force", action="store_true", help="start over even when output exists")
    ap.add_argument("overrides", nargs="*", help="key=value overrides, e.g. total_steps=20")
    args = ap.parse_args(argv)
    try:
        section = "train" if "train" in load_yaml(args.config) else None
        cfg = load_config(TrainConfig, args.config, args.overrides, section=section)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    from pipeline.grpo.distributed import is_distributed, run_distributed
    from pipeline.train import run

    if is_distributed():
        m = run_distributed(cfg, args.data, args.out, force=args.force)
    else:
        m = run(cfg, args.data, args.out, force=args.force)
    if m is not None:
        print(f"trained {m.metrics['steps']} steps; final model: {Path(args.out) / m.metrics['final_model']}")
    return 0


if __name__ == "__main__":
    from pipeline.cli import guarded

    sys.exit(guarded(main))
