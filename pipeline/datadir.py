"""Where local benchmark/training data lives (offline copies of hub datasets).

`RLVR_DATA_DIR` wins; otherwise `../shared/benchmarks` next to the repository root is used
when it exists; otherwise None, and loaders fall back to Hugging Face hub names.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    for cand in (explicit, os.environ.get("RLVR_DATA_DIR"), REPO_ROOT.parent / "shared" / "benchmarks"):
        if cand and Path(cand).is_dir():
            return Path(cand).resolve()
    return None
