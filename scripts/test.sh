#!/usr/bin/env bash
# Install and run the default test suite (slow and gpu tests are opt-in: -m slow / -m gpu).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export DS_ACCELERATOR=${DS_ACCELERATOR:-cpu} TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest "$@"
