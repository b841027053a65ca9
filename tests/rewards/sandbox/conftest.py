"""Fixtures for the sandbox tests (the shared `sandbox` fixture lives in tests/conftest.py)."""

from __future__ import annotations

import pytest

from rewards.sandbox import Sandbox
from rewards.sandbox.runner import UID_BASE, UID_RANGE, uid_processes


@pytest.fixture(scope="session")
def per_uid_sandbox(sandbox) -> Sandbox:
    if not sandbox.mode.per_slot_uid:
        pytest.skip("per-slot uids need a root host (mode %s)" % sandbox.mode.name)
    return sandbox


def live_slot_processes() -> dict[int, list[int]]:
    """Live processes owned by any sandbox slot uid (host-side view)."""
    out = {}
    for uid in range(UID_BASE, UID_BASE + UID_RANGE):
        pids = uid_processes(uid)
        if pids:
            out[uid] = pids
    return out
