#!/usr/bin/env bash
# Install everything into ./.venv (idempotent; a second run takes seconds).
#   TORCH_SPEC   torch requirement to install first (default torch==2.13.0, the CPU build;
#                on a GPU machine set e.g. TORCH_SPEC="torch==2.6.0" and EXTRAS="dev,vllm")
#   EXTRAS       project extras (default "dev": pytest + deepspeed)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
EXTRAS=${EXTRAS:-dev}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check "$TORCH_SPEC"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[${EXTRAS}]"
# The code sandbox wants bubblewrap (Debian package); installs it when we are root and it is missing.
if [ -f scripts/setup_sandbox.sh ]; then
  bash scripts/setup_sandbox.sh || echo "warning: sandbox setup failed; code verification will refuse to run" >&2
fi
echo "setup: ok ($(.venv/bin/python -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'))"
