"""The one reward path (rewards/scorer.py): weighted objectives, min-form process penalty, overlong, skip
semantics, row options, and the answered signal, as training, evaluation and difficulty all use it."""

from __future__ import annotations

import pytest

from data.schema import Row
from pipeline.config import ConfigError
from rewards.scorer import RewardSpec, Scorer, check_specs

PLUGINS = ["tests.rewards.slow_verifiers"]  # test_echo: 1.0 when the stripped completion equals the gold
SPECS = [RewardSpec("row", 1.0), RewardSpec("format_r1", 0.1), RewardSpec("process", 0.2),
         RewardSpec("overlong", 1.0, {"max_len": 100, "cache_len": 20})]


@pytest.fixture(scope="module")
def scorer():
    with Scorer(SPECS, workers=2, deadline_s=5.0, plugins=PLUGINS) as s:
        yield s


GOOD = "<think>2 + 2 = 4</think><answer>4</answer>"
BAD_STEP = "<think>2 + 2 = 5</think><answer>4</answer>"
# id, completion, gold, length, reward, per-objective scores (unweighted)
CASES = [
    ("all-good", GOOD, GOOD, 10, 1.1, {"outcome": 1.0, "format_r1": 1.0, "process": 0.0, "overlong": 0.0}),
    ("false-step-penalised", BAD_STEP, BAD_STEP, 10, 0.9,
     {"outcome": 1.0, "format_r1": 1.0, "process": -1.0, "overlong": 0.0}),
    ("wrong-outcome-stays-low", BAD_STEP, "other", 10, -0.1,
     {"outcome": 0.0, "format_r1": 1.0, "process": -1.0, "overlong": 0.0}),
    ("overlong-soft", GOOD, GOOD, 90, 0.6, {"outcome": 1.0, "format_r1": 1.0, "process": 0.0, "overlong": -0.5}),
]


@pytest.mark.parametrize("completion,gold,length,reward,objectives", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_weighted_objectives(scorer, completion, gold, length, reward, objectives):
    s = scorer.score([{"verifier": "test_echo", "gold": gold}], [completion], [length])
    assert {k: v[0] for k, v in s.per_objective.items()} == pytest.approx(objectives)
    assert s.reward[0] == pytest.approx(reward)


@pytest.mark.parametrize("filler", ["<answer>9</answer>", "<think>1 = 1. 2 = 2. 3 = 3.</think><answer>9</answer>"],
                         ids=["no-checkable-step", "true-filler-steps"])
def test_filler_earns_no_process_reward(filler):
    """Min-form: only a false step moves the reward (down); text with nothing or only trivially true steps to
    check earns exactly what its outcome earns (the old path gave +weight for 'no false step')."""
    with Scorer([RewardSpec("row"), RewardSpec("process", 0.5)], workers=1, plugins=PLUGINS) as s:
        got = s.score([{"verifier": "test_echo", "gold": "4"}] * 2, [filler, "4"])
    assert got.per_objective["process"] == [0.0, 0.0]
    assert got.reward == [0.0, 1.0]


def test_process_penalty_cannot_outweigh_the_outcome():
    with pytest.raises(ConfigError, match="must weigh less than the outcome"):
        check_specs([RewardSpec("row", 1.0), RewardSpec("process", 1.0)])
    check_specs([RewardSpec("row", 1.0), RewardSpec("process", 0.5)])


def test_skipped_outcome_drops_the_completion_even_with_format_credit(scorer):
    rows = [{"verifier": "test_raise", "gold": "x"}, Row("r1", "p", "test_echo", GOOD, "src")]
    s = scorer.score(rows, [GOOD, GOOD], [10, 10])
    assert s.reward[0] is None and s.reasons["outcome"][0] == "internal_error"
    assert s.per_objective["format_r1"][0] == 1.0  # judged, but no format-only reward without an outcome
    assert s.reward[1] == pytest.approx(1.1) and s.correct == [False, True]


def test_row_options_reach_the_verifier():
    row = Row("r2", "p", "format_r1", None, "src", metadata={"verifier_options": {"prefilled_think": False}})
    with Scorer([RewardSpec("row")], workers=0) as s:
        assert s.score([row], ["x</think><answer>4</answer>"]).reward == [0.0]  # not prefilled: <think> required
        assert s.score([{**{"verifier": "format_r1", "gold": None}, "options": {"prefilled_think": True}}],
                       ["x</think><answer>4</answer>"]).reward == [1.0]


def test_answered_signal_shares_one_check(monkeypatch):
    from rewards.base import VerifyResult

    with Scorer([RewardSpec("row", 1.0), RewardSpec("row", 0.2, signal="answered")], workers=0) as s:
        calls = []
        canned = [VerifyResult(1.0, "ok"), VerifyResult(0.0, "wrong"), VerifyResult(0.0, "no_answer"),
                  VerifyResult(None, "gold_unparsable")]
        monkeypatch.setattr(s, "verify", lambda items: calls.append(len(items)) or canned)
        got = s.score([{"verifier": "math", "gold": "4"}] * 4, ["a", "b", "c", "d"])
    assert calls == [4]  # both objectives read the same verifier results
    assert got.per_objective["outcome_answered"] == [1.0, 1.0, 0.0, None]
    assert got.reward == [pytest.approx(1.2), pytest.approx(0.2), 0.0, None]
    assert got.reason_counts()["outcome/no_answer"] == 1


@pytest.mark.parametrize("spec,match", [
    (RewardSpec("formatr1"), "format_r1"),
    (RewardSpec("overlong", 1.0, {"max_len": 10, "cache_len": 20}), "cache_len"),
    (RewardSpec("row", -1.0), "weight"),
], ids=["unknown-name-did-you-mean", "overlong-bad-config", "negative-weight"])
def test_spec_validation(spec, match):
    with pytest.raises(ConfigError, match=match):
        check_specs([spec] if spec.verifier != "overlong" else [RewardSpec(), spec])


def test_overlong_needs_lengths(scorer):
    with pytest.raises(ValueError, match="length"):
        scorer.score([{"verifier": "test_echo", "gold": "a"}], ["a"])


def test_procedural_rows_refuse_restated_arithmetic():
    """The reward hack a 135M policy found ("The answer is $18 - 14$." for 4) scores 0 on procedural rows (their
    row options carry require_evaluated) through the real verifier; a computed answer still scores 1."""
    from data.sources.base import SourceSpec
    from data.sources.procedural import load_procedural

    row = next(load_procedural(SourceSpec(kind="procedural", name="p", options={"task": "arithmetic", "n": 1,
                                                                                  "levels": [2]})))
    expr = row.problem.split("$")[1].replace("\\times", "*")
    texts = [f"The answer is ${expr}$.", f"${expr} = {row.gold}$. The answer is ${row.gold}$."]
    with Scorer([RewardSpec("row"), RewardSpec("row", 0.05, signal="answered")], workers=1) as s:
        got = s.score([row, row], texts)
    assert got.reasons["outcome"] == ["unevaluated", "ok"] and got.reward == [0.0, pytest.approx(1.05)]
