"""format_r1 (R1 template, with and without a prefilled <think>) and DAPO's overlong penalty."""

from __future__ import annotations

import pytest

from rewards import registry
from rewards.format import BAD_FORMAT, overlong_penalty, verify_format_r1

CASES = [
    # id, completion, options, score, extracted / problem fragment
    ("plain", "<think>2+2=4</think><answer>4</answer>", {}, 1.0, "4"),
    ("whitespace-newlines", "\n<think>\nwork\n</think>\n\n<answer>\n 4 \n</answer>\n", {}, 1.0, "4"),
    ("empty-think-allowed", "<think></think><answer>4</answer>", {}, 1.0, "4"),
    ("prefilled-auto", "so 2+2=4\n</think>\n<answer>4</answer>", {}, 1.0, "4"),
    ("prefilled-explicit", "so 2+2=4</think><answer>4</answer>", {"prefilled_think": True}, 1.0, "4"),
    ("prefilled-but-reopened", "<think>again</think><answer>4</answer>", {"prefilled_think": True}, 0.0,
     "already opened"),
    ("not-prefilled-missing-open", "2+2=4</think><answer>4</answer>", {"prefilled_think": False}, 0.0,
     "<think>"),
    ("no-tags", "The answer is 4.", {}, 0.0, "<think>"),
    ("answer-missing", "<think>hm</think> 4", {}, 0.0, "<answer>"),
    ("empty-answer", "<think>hm</think><answer>  </answer>", {}, 0.0, "empty"),
    ("two-answers", "<think>a</think><answer>4</answer><answer>5</answer>", {}, 0.0, "one <answer>"),
    ("text-between", "<think>a</think> so <answer>4</answer>", {}, 0.0, "followed by"),
    ("text-after", "<think>a</think><answer>4</answer> bye", {}, 0.0, "after"),
    ("text-after-allowed", "<think>a</think><answer>4</answer> bye", {"allow_trailing": True}, 1.0, "4"),
    ("text-before-think", "Sure! <think>a</think><answer>4</answer>", {}, 0.0, "before"),
    ("answer-inside-think", "<think><answer>4</answer></think><answer>4</answer>", {}, 0.0, "exactly one"),
    ("wrong-order", "<answer>4</answer><think>a</think>", {}, 0.0, "before <think>"),
    ("nested-think", "<think>a<think>b</think></think><answer>4</answer>", {}, 0.0, "<think>"),
]


@pytest.mark.parametrize("completion,options,score,expect", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_format_r1(completion, options, score, expect):
    res = verify_format_r1(completion, None, **options)
    assert res.score == score
    if score == 1.0:
        assert res.reason == "ok" and res.extracted == expect
    else:
        assert res.reason == BAD_FORMAT and expect in res.details["problem"]


def test_registered_as_format_r1():
    assert registry.get("format_r1") is verify_format_r1


@pytest.mark.parametrize("length,max_len,cache_len,expected", [
    (100, 4096, 512, 0.0),
    (3584, 4096, 512, 0.0),  # exactly at the start of the punishment interval
    (3840, 4096, 512, -0.5),
    (3900, 4096, 512, -0.6171875),
    (4096, 4096, 512, -1.0),
    (5000, 4096, 512, -1.0),
    (4096, 4096, 0, 0.0),  # no soft interval: 0 up to max_len
    (4097, 4096, 0, -1.0),
], ids=["short", "interval-start", "middle", "dapo-example", "at-max", "beyond-max", "hard-edge-in", "hard-edge-out"])
def test_overlong_penalty(length, max_len, cache_len, expected):
    assert overlong_penalty(length, max_len, cache_len) == pytest.approx(expected)


def test_overlong_penalty_is_monotone():
    vals = [overlong_penalty(n, 1000, 200) for n in range(0, 1200, 7)]
    assert all(a >= b for a, b in zip(vals, vals[1:]))


@pytest.mark.parametrize("max_len,cache_len", [(0, 0), (100, 200), (100, -1)], ids=["zero-max", "cache-over-max", "neg-cache"])
def test_overlong_penalty_rejects_bad_config(max_len, cache_len):
    with pytest.raises(ValueError):
        overlong_penalty(10, max_len, cache_len)
