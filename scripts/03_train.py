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

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pipeline.allocator import preload_malloc  # noqa: E402

preload_malloc(__name__)  # restarts once under tcmalloc where installed; not when a test imports the script

from pipeline.cli import section_config, stage_args  # noqa: E402
from pipeline.grpo.config import TrainConfig  # noqa: E402


def _data_arg(ap) -> None:
    ap.add_argument("--data", required=True, help="curate or difficulty stage output directory")


def main(argv: list[str] | None = None) -> int:
    args = stage_args(__doc__, "train", "total_steps=20 lr=5e-6", argv, extra=_data_arg)
    cfg = section_config(TrainConfig, "train", args)
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
