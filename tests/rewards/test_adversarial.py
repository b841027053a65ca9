"""Adversarial completions through the pool: each returns score 0 with a reason inside its deadline;
the caller never hangs or crashes; a batch of 100 finishes within (deadline x items / workers) + 20%."""

from __future__ import annotations

import os
import time

import pytest

import tests.rewards.slow_verifiers  # noqa: F401  (test_busy: a C-level hang no signal interrupts)
from rewards.base import Reason
from rewards.pool import ScoreItem, VerifierPool
from tests.rewards.adversarial_cases import GOLD, MATH_CASES, OTHER_CASES

pytest.importorskip("rewards.math", reason="the math verifier is not available")

DEADLINE, WORKERS, SLACK = 2.0, 2, 1.0


@pytest.fixture(scope="module")
def pool():
    with VerifierPool(workers=WORKERS, deadline_s=DEADLINE, memory_mb=1024) as p:
        yield p


@pytest.mark.parametrize("verifier,completion", [c[1:] for c in MATH_CASES], ids=[c[0] for c in MATH_CASES])
def test_math_adversarial_scores_zero_in_time(pool, verifier, completion):
    t0 = time.monotonic()
    res = pool.score(verifier, completion, GOLD)
    elapsed = time.monotonic() - t0
    assert res.score == 0.0, res
    assert res.reason and res.reason not in (Reason.OK, Reason.INTERNAL_ERROR), res
    assert elapsed < DEADLINE + SLACK, f"{elapsed:.2f} s"


def test_no_injected_code_ran(pool):
    assert not os.path.exists("/tmp/rlvr_pwned")


@pytest.mark.parametrize("verifier,completion", [c[1:] for c in OTHER_CASES], ids=[c[0] for c in OTHER_CASES])
def test_other_verifiers_return_typed_results_in_time(pool, verifier, completion):
    t0 = time.monotonic()
    res = pool.score(verifier, completion, GOLD)
    elapsed = time.monotonic() - t0
    assert res.score in (0.0, 1.0) and res.reason != Reason.INTERNAL_ERROR, res
    assert elapsed < DEADLINE + SLACK, f"{elapsed:.2f} s"


def test_c_level_hang_times_out(pool):
    t0 = time.monotonic()
    res = pool.score("test_busy", "x", GOLD, {"digits_exp": 9}, deadline_s=0.5)  # a per-item deadline
    assert (res.score, res.reason) == (0.0, Reason.TIMEOUT)
    assert time.monotonic() - t0 < 0.5 + SLACK


def _batch(cases, n: int = 100) -> list[ScoreItem]:
    items = []
    for i, (_, verifier, completion) in zip(range(n), cases * (n // len(cases) + 1)):
        busy = verifier == "test_busy"
        items.append(ScoreItem(verifier, completion if busy else f"{completion} {i}", GOLD,
                               {"digits_exp": 9} if busy else {}))
    return items


def _check_batch(pool, items) -> None:
    t0 = time.monotonic()
    res = pool.score_batch(items)
    elapsed = time.monotonic() - t0
    bound = DEADLINE * len(items) / WORKERS * 1.2
    assert len(res) == len(items) and all(r.score == 0.0 for r in res)
    assert elapsed <= bound, f"{elapsed:.1f} s > {bound:.1f} s"


def test_batch_of_100_cheap_adversarial_within_bound(pool):
    _check_batch(pool, _batch([c for c in MATH_CASES if not c[0].startswith("megabyte")]))


@pytest.mark.slow
def test_batch_of_100_all_cases_and_hangs_within_bound(pool):
    _check_batch(pool, _batch(MATH_CASES + [("busy", "test_busy", "x")]))
