"""Resident-memory readings (pipeline/grpo/metrics.py: memory_mib): the peak follows real allocations, never
falls between readings, and is never below the current reading, even when the kernel's approximate counters
report a lower VmHWM on a later read."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pipeline.grpo import metrics

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")


def test_peak_follows_an_allocation_and_stays_above_the_current_reading():
    first = metrics.memory_mib()
    block = bytearray(96 << 20)  # 96 MiB, written so the pages are resident
    for i in range(0, len(block), 4096):
        block[i] = 1
    second = metrics.memory_mib()
    del block
    third = metrics.memory_mib()
    assert second["mem/rss_mib"] >= first["mem/rss_mib"] + 90  # (the peak rises only past the earlier peak)
    assert third["mem/peak_rss_mib"] >= second["mem/peak_rss_mib"]
    for r in (first, second, third):
        assert 0 < r["mem/rss_mib"] <= r["mem/peak_rss_mib"]


def test_a_lower_kernel_peak_on_a_later_read_does_not_lower_the_reported_peak(monkeypatch):
    before = metrics.memory_mib()["mem/peak_rss_mib"]
    low = "VmHWM:\t    1024 kB\nVmRSS:\t    2048 kB\n"  # approximate counters: RSS above the stale peak
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: low)
    after = metrics.memory_mib()
    assert after == {"mem/rss_mib": 2.0, "mem/peak_rss_mib": before}
