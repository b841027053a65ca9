"""R1-Zero's template end to end at the seams: the r1_think prompt ends inside the think block, a completion that
continues it earns the R1 format reward and its <answer> is what the math verifier checks, and the report's
training plot shows the format-reward rate beside accuracy in a multi-objective run."""

import pytest

from pipeline.prompts import TEMPLATES, render_prompt
from rewards.format import verify_format_r1
from rewards.registry import get as get_verifier


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_r1_think_is_r1_with_think_prefilled(tok):
    plain, think = render_prompt(tok, "What is 2+2?", "r1"), render_prompt(tok, "What is 2+2?", "r1_think")
    assert think == plain + "<think>" and TEMPLATES["r1"]["system"] == TEMPLATES["r1_think"]["system"]
    assert "<think>" not in plain.split("What is 2+2?")[-1]


@pytest.mark.parametrize("completion, fmt, answer_score", [
    (" 2 plus 2 is 4 </think> <answer>4</answer>", 1.0, 1.0),
    (" 2 plus 2 is 4 </think> <answer>\\boxed{4}</answer>", 1.0, 1.0),
    (" 2 plus 2 is 5 </think> <answer>5</answer>", 1.0, 0.0),
    (" the answer is 4", 0.0, None),                               # no tags: no format credit
    ("<think> again </think> <answer>4</answer>", 0.0, 1.0),       # a second <think> after the prefill
], ids=["well-formed", "boxed-inside-answer", "well-formed-wrong", "no-tags", "reopened-think"])
def test_a_completion_after_the_prefill_is_scored_by_format_and_answer(completion, fmt, answer_score):
    assert verify_format_r1(completion, prefilled_think=True).score == fmt  # as the r1_think recipes set it
    res = get_verifier("math")(completion, "4")
    if answer_score is not None:
        assert res.score == answer_score, res


def test_the_training_plot_shows_each_objective_in_a_multi_objective_run():
    from eval.report import training_curve_keys

    recs = [{"step": s, "reward/mean": 0.1 * s, "accuracy": 0.05 * s, "reward/outcome/mean": 0.05 * s,
             "reward/format_r1/mean": 0.2 * s, "completion_len/mean": 30.0, "kl": 0.0, "entropy": 1.0,
             "zero_variance_frac": 0.1, "truncation_rate": 0.0} for s in range(1, 5)]
    keys = training_curve_keys(recs)
    assert keys[:4] == ["reward/mean", "reward/format_r1/mean", "reward/outcome/mean", "accuracy"]
    single = [{k: v for k, v in r.items() if k != "reward/format_r1/mean"} for r in recs]
    assert not any(k.startswith("reward/") and k != "reward/mean" for k in training_curve_keys(single))
