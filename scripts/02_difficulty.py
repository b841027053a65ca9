"""Stage 2, difficulty: the base model's pass rate over k samples per problem (resumable after a kill).

    python scripts/02_difficulty.py --config configs/difficulty_embedded.yaml --out runs/difficulty \
        dataset=runs/curate_embedded [key=value ...] [--force]

Overrides address the `difficulty:` section (e.g. `k=8 limit=64`). See data/difficulty.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pipeline.allocator import preload_malloc  # noqa: E402

preload_malloc(__name__)  # restarts once under tcmalloc where installed; not when a test imports the script

from data.difficulty import DifficultyConfig, run  # noqa: E402
from pipeline.cli import run_section_stage  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    return run_section_stage(__doc__, "difficulty", DifficultyConfig, run, "k=8 limit=64", lambda m: (
        f"estimated {m['estimated']} problems: mean pass rate {m['mean_pass_rate']}, resumed "
        f"{m['resumed_problems']}, computed {m['computed_problems']}"), argv)


if __name__ == "__main__":
    from pipeline.cli import guarded

    sys.exit(guarded(main))
