"""Stage 1, curation: sources -> validated, deduplicated, decontaminated dataset + manifest.

    python scripts/01_curate.py --config configs/curate_demo.yaml --out runs/curate_demo [key=value ...] [--force]

Overrides address the `curate:` section, e.g. `decontam.ngram=13` or `verifier_workers=0`.
See data/curate.py for what is read and written.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pipeline.allocator import preload_malloc  # noqa: E402

preload_malloc(__name__)  # restarts once under tcmalloc where installed; not when a test imports the script

from data.curate import CurateConfig, run  # noqa: E402
from pipeline.cli import run_section_stage  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    return run_section_stage(__doc__, "curate", CurateConfig, run, "decontam.ngram=13", lambda m: (
        f"rows in {m['rows_in']}: kept {m['kept']}, quarantined {m['quarantined']}, duplicates {m['duplicates']}, "
        f"contaminated {m['contaminated']}"), argv)


if __name__ == "__main__":
    from pipeline.cli import guarded

    sys.exit(guarded(main))
