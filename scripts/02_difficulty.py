"""Stage 2, difficulty: the base model's pass rate over k samples per problem (resumable after a kill).

    python scripts/02_difficulty.py --config configs/difficulty_embedded.yaml --out runs/difficulty \
        dataset=runs/curate_embedded [key=value ...] [--force]

Overrides address the `difficulty:` section (e.g. `k=8 limit=64`). See data/difficulty.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data.difficulty import DifficultyConfig, run  # noqa: E402
from pipeline.config import ConfigError, load_config, load_yaml  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="YAML file (a `difficulty:` section or a bare DifficultyConfig)")
    ap.add_argument("--out", required=True, help="output directory of the stage")
    ap.add_argument("--force", action="store_true", help="re-run even when the output is up to date")
    ap.add_argument("overrides", nargs="*", help="key=value overrides, e.g. k=8 limit=64")
    args = ap.parse_args(argv)
    try:
        section = "difficulty" if "difficulty" in load_yaml(args.config) else None
        cfg = load_config(DifficultyConfig, args.config, args.overrides, section=section)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    m = run(cfg, args.out, force=args.force)
    print(f"estimated {m.metrics['estimated']} problems: mean pass rate {m.metrics['mean_pass_rate']}, "
          f"resumed {m.metrics['resumed_problems']}, computed {m.metrics['computed_problems']}")
    return 0


if __name__ == "__main__":
    from pipeline.cli import guarded

    sys.exit(guarded(main))
