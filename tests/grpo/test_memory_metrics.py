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


@pytest.mark.parametrize("every, expected", [(0, []), (1, [1, 2, 3]), (2, [2])], ids=["off", "every_step", "every_2"])
def test_the_trainer_releases_heap_memory_every_n_steps(tiny_model_dir, tmp_path, monkeypatch, every, expected):
    from pipeline.grpo import trainer as trainer_mod
    from tests.grpo.test_trainer_behaviour import FakeScorer, by_member, make_trainer

    trainer = make_trainer(tiny_model_dir, tmp_path, FakeScorer(by_member(*[[[1, 0, 0, 1], [0, 1, 1, 0]]] * 3)),
                           total_steps=3, release_memory_every=every)
    calls = []
    monkeypatch.setattr(trainer_mod, "release_free_memory", lambda: calls.append(trainer.step))
    trainer.train(progress=False)
    assert calls == expected
