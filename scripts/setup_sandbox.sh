#!/usr/bin/env bash
# Install the code sandbox's system dependency (bubblewrap) when missing.
# Idempotent and quiet when already installed; needs root (or prints what to run).
# Usage: scripts/setup_sandbox.sh
set -euo pipefail
if command -v bwrap >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup_sandbox: bubblewrap is missing; run as root: apt-get update && apt-get install -y bubblewrap" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup_sandbox: no apt-get on this host; install bubblewrap with your package manager" >&2
  exit 1
fi
echo "setup_sandbox: installing bubblewrap" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq bubblewrap >/dev/null
command -v bwrap >/dev/null 2>&1 || { echo "setup_sandbox: bwrap still missing after install" >&2; exit 1; }
