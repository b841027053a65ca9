"""Weighted multi-objective rewards: outcome + format + overlong + process penalty, skip semantics."""

from __future__ import annotations

import pytest

import tests.rewards.slow_verifiers  # noqa: F401  (test_echo as a stand-in outcome verifier)
from data.schema import Row
from rewards.combine import RewardSpec, combine, combine_batch
from rewards.pool import VerifierPool

SPECS = [RewardSpec("outcome", 1.0), RewardSpec("format_r1", 0.1), RewardSpec("process", 0.2),
         RewardSpec("overlong", 1.0, {"max_len": 100, "cache_len": 20})]


@pytest.fixture(scope="module")
def pool():
    with VerifierPool(workers=2, deadline_s=2.0) as p:
        yield p


GOOD = "<think>2 + 2 = 4</think><answer>4</answer>"
BAD_STEP = "<think>2 + 2 = 5</think><answer>4</answer>"
# id, completion, gold, length, total, components
CASES = [
    ("all-good", GOOD, "<think>2 + 2 = 4</think><answer>4</answer>", 10, 1.1,
     {"outcome": 1.0, "format_r1": 0.1, "process": 0.0, "overlong": 0.0}),
    ("false-step-penalised", BAD_STEP, BAD_STEP, 10, 0.9,
     {"outcome": 1.0, "format_r1": 0.1, "process": -0.2, "overlong": 0.0}),
    ("wrong-outcome-stays-low", BAD_STEP, "other", 10, -0.1,
     {"outcome": 0.0, "format_r1": 0.1, "process": -0.2, "overlong": 0.0}),
    ("overlong-soft", GOOD, GOOD, 90, 0.6,
     {"outcome": 1.0, "format_r1": 0.1, "process": 0.0, "overlong": -0.5}),
]


@pytest.mark.parametrize("completion,gold,length,total,components", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_weighted_components(pool, completion, gold, length, total, components):
    row = {"verifier": "test_echo", "gold": gold}
    r = combine(pool, row, completion, SPECS, length=length)
    assert r.components == pytest.approx(components)
    assert r.total == pytest.approx(total)


def test_process_never_turns_wrong_outcome_positive(pool):
    filler = "<think>1 = 1. 2 = 2. 3 = 3.</think><answer>9</answer>"
    r = combine(pool, {"verifier": "test_echo", "gold": "4"}, filler, [RewardSpec("outcome"), RewardSpec("process", 0.5)])
    assert r.total == 0.0


def test_skipped_outcome_skips_the_row(pool):
    rows = [{"verifier": "test_raise", "gold": "x"}, Row("r1", "p", "test_echo", "a", "src")]
    out = combine_batch(pool, rows, ["a", "a"], [RewardSpec("outcome"), RewardSpec("format_r1", 0.1)])
    assert out[0].total is None and out[0].results["outcome"].reason == "internal_error"
    assert out[1].total == pytest.approx(1.0)


def test_row_options_reach_the_verifier(pool):
    row = Row("r2", "p", "format_r1", None, "src", metadata={"verifier_options": {"prefilled_think": False}})
    r = combine(pool, row, "x</think><answer>4</answer>", [RewardSpec("outcome")])
    assert r.total == 0.0  # not prefilled: the opening <think> is required


@pytest.mark.parametrize("spec,match", [
    (RewardSpec("formatr1"), "format_r1"),
    (RewardSpec("overlong", 1.0, {"max_len": 10, "cache_len": 20}), "cache_len"),
    (RewardSpec("outcome", -1.0), "weight"),
], ids=["unknown-name-did-you-mean", "overlong-bad-config", "negative-weight"])
def test_spec_validation(spec, match):
    with pytest.raises((KeyError, ValueError), match=match):
        spec.validate()


def test_overlong_needs_lengths(pool):
    with pytest.raises(ValueError, match="length"):
        combine(pool, {"verifier": "test_echo", "gold": "a"}, "a", [RewardSpec("outcome"), SPECS[3]])
