#!/usr/bin/env bash
# Install, then run the test suite: every test but the `gpu` ones (slow tests included: DeepSpeed on 2 CPU
# ranks, vLLM's CPU build, multi-machine on loopback, kill -9 resumes). Arguments go to pytest; a `-m`
# among them replaces the default selection (e.g. `bash scripts/test.sh -m "not slow and not gpu"` for the
# fast subset, which is also what a bare `.venv/bin/pytest` runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export DS_ACCELERATOR=${DS_ACCELERATOR:-cpu} TOKENIZERS_PARALLELISM=false
select=(-m "not gpu")
for arg in "$@"; do
  case "$arg" in -m|-m*) select=() ;; esac
done
exec .venv/bin/python -m pytest "${select[@]}" "$@"
