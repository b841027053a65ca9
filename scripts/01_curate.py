"""Stage 1, curation: sources -> validated, deduplicated, decontaminated dataset + manifest.

    python scripts/01_curate.py --config configs/curate_demo.yaml --out runs/curate_demo [key=value ...] [--force]

Overrides address the `curate:` section, e.g. `decontam.ngram=13` or `verifier_workers=0`.
See data/curate.py for what is read and written.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data.curate import CurateConfig, run  # noqa: E402
from pipeline.cli import section_config, stage_args  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    args = stage_args(__doc__, "curate", "decontam.ngram=13", argv)
    cfg = section_config(CurateConfig, "curate", args)
    m = run(cfg, args.out, force=args.force)
    print(f"rows in {m.metrics['rows_in']}: kept {m.metrics['kept']}, quarantined {m.metrics['quarantined']}, "
          f"duplicates {m.metrics['duplicates']}, contaminated {m.metrics['contaminated']}")
    return 0


if __name__ == "__main__":
    from pipeline.cli import guarded

    sys.exit(guarded(main))
