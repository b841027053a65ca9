#!/usr/bin/env python
"""Print a run directory's lineage: python scripts/status.py runs/demo"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pipeline.status import main  # noqa: E402

sys.exit(main())
