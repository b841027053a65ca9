#!/usr/bin/env bash
# Install the code sandbox's system dependency (bubblewrap) when missing.
# Idempotent and silent when bwrap is already installed; needs root (otherwise prints what to run).
# The sandbox also uses setpriv/util-linux and Debian's /usr/bin/python3 (present on Debian/Ubuntu).
# Usage: scripts/setup_sandbox.sh        Check: python -m rewards.sandbox.probe
set -euo pipefail
if command -v bwrap >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup_sandbox: bubblewrap is missing; as root run: apt-get update && apt-get install -y bubblewrap" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup_sandbox: no apt-get on this host; install bubblewrap with the system package manager" >&2
  exit 1
fi
echo "setup_sandbox: installing bubblewrap" >&2
log=$(mktemp)
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update && apt-get install -y bubblewrap; } >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "setup_sandbox: apt-get failed" >&2
  exit 1
fi
rm -f "$log"
command -v bwrap >/dev/null 2>&1 || { echo "setup_sandbox: bwrap still missing after install" >&2; exit 1; }
