#!/usr/bin/env python
"""Run every stage in order: python scripts/run_all.py --config configs/demo.yaml"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pipeline.run_all import main  # noqa: E402

sys.exit(main())
