"""Stage 2, difficulty: the base model's pass rate over k samples per problem (resumable after a kill).

    python scripts/02_difficulty.py --config configs/difficulty_embedded.yaml --out runs/difficulty \
        dataset=runs/curate_embedded [key=value ...] [--force]

Overrides address the `difficulty:` section (e.g. `k=8 limit=64`). See data/difficulty.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data.difficulty import DifficultyConfig, run  # noqa: E402
from pipeline.cli import section_config, stage_args  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    args = stage_args(__doc__, "difficulty", "k=8 limit=64", argv)
    cfg = section_config(DifficultyConfig, "difficulty", args)
    m = run(cfg, args.out, force=args.force)
    print(f"estimated {m.metrics['estimated']} problems: mean pass rate {m.metrics['mean_pass_rate']}, "
          f"resumed {m.metrics['resumed_problems']}, computed {m.metrics['computed_problems']}")
    return 0


if __name__ == "__main__":
    from pipeline.cli import guarded

    sys.exit(guarded(main))
