"""Stage 1, curation: sources -> validated, deduplicated, decontaminated dataset + manifest.

    python scripts/01_curate.py --config configs/curate_demo.yaml --out runs/curate_demo [key=value ...] [--force]

Overrides address the `curate:` section, e.g. `decontam.ngram=13` or `verifier_workers=0`.
See data/curate.py for what is read and written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data.curate import CurateConfig, run  # noqa: E402
from pipeline.config import ConfigError, load_config, load_yaml  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="YAML file (a `curate:` section or a bare CurateConfig)")
    ap.add_argument("--out", required=True, help="output directory of the stage")
    ap.add_argument("--force", action="store_true", help="re-run even when the output is up to date")
    ap.add_argument("overrides", nargs="*", help="key=value overrides, e.g. decontam.ngram=13")
    args = ap.parse_args(argv)
    try:
        section = "curate" if "curate" in load_yaml(args.config) else None
        cfg = load_config(CurateConfig, args.config, args.overrides, section=section)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    m = run(cfg, args.out, force=args.force)
    print(f"rows in {m.metrics['rows_in']}: kept {m.metrics['kept']}, quarantined {m.metrics['quarantined']}, "
          f"duplicates {m.metrics['duplicates']}, contaminated {m.metrics['contaminated']}")
    return 0


if __name__ == "__main__":
    from pipeline.cli import guarded

    sys.exit(guarded(main))
