#!/usr/bin/env bash
# Install everything and run curate -> train (6 GRPO steps) -> evaluate (base vs trained) on the embedded
# default (SmolLM2-135M-Instruct, CPU), as configs/demo.yaml lists them. Outputs go to runs/demo/ (one directory
# and manifest per stage); `python scripts/status.py runs/demo` prints the lineage and headline figures.
#   DEMO_CONFIG  pipeline config (default configs/demo.yaml)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export DS_ACCELERATOR=${DS_ACCELERATOR:-cpu} TOKENIZERS_PARALLELISM=false
exec .venv/bin/python scripts/run_all.py --config "${DEMO_CONFIG:-configs/demo.yaml}" "$@"
