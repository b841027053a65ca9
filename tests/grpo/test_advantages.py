"""Group advantages against hand-computed values."""

import math

import pytest
import torch

from pipeline.grpo.advantages import group_advantages, process_reward_adjustment, zero_variance_mask

S3 = math.sqrt(1 / 3)  # unbiased std of [1, 0, 0, 1]

CASES = [
    ("grpo_mean_std", [[1.0, 0.0, 0.0, 1.0]], "grpo", [[0.5 / S3, -0.5 / S3, -0.5 / S3, 0.5 / S3]]),
    ("drgrpo_no_std", [[1.0, 0.0, 0.0, 1.0]], "drgrpo", [[0.5, -0.5, -0.5, 0.5]]),
    ("rloo_leave_one_out", [[1.0, 0.0, 0.0, 0.0]], "rloo", [[1.0, -1 / 3, -1 / 3, -1 / 3]]),
    ("grpo_all_equal_is_zero", [[1.0, 1.0, 1.0]], "grpo", [[0.0, 0.0, 0.0]]),
    ("drgrpo_two_groups", [[2.0, 0.0], [0.5, 0.5]], "drgrpo", [[1.0, -1.0], [0.0, 0.0]]),
    ("rloo_graded", [[3.0, 0.0, 0.0]], "rloo", [[3.0, -1.5, -1.5]]),
]


@pytest.mark.parametrize("rewards,kind,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_group_advantages(rewards, kind, expected):
    got = group_advantages(torch.tensor(rewards), kind, eps=1e-9)
    assert torch.allclose(got, torch.tensor(expected), atol=1e-5), got


@pytest.mark.parametrize("kind", ["grpo", "drgrpo", "rloo"])
def test_equal_rewards_give_exactly_zero(kind):
    """1.05 (correct + a 0.05 format credit) x 8: the float mean is 1.0500001; the advantage must still be 0."""
    got = group_advantages(torch.full((2, 8), 1.05), kind)
    assert bool((got == 0).all()), got


def test_grpo_eps_in_denominator():
    got = group_advantages(torch.tensor([[1.0, 0.0]]), "grpo", eps=0.1)
    std = math.sqrt(0.5)
    assert got[0, 0].item() == pytest.approx(0.5 / (std + 0.1), rel=1e-6)


def test_unknown_kind_and_bad_shape():
    with pytest.raises(ValueError, match="unknown advantage"):
        group_advantages(torch.zeros(1, 2), "ppo")
    with pytest.raises(ValueError, match=r"\(P, G\)"):
        group_advantages(torch.zeros(4), "grpo")


def test_zero_variance_mask():
    m = zero_variance_mask(torch.tensor([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]))
    assert m.tolist() == [True, False, True]


def test_process_reward_penalises_first_error_span_only():
    adv = torch.tensor([1.0, -1.0])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.float32)
    got = process_reward_adjustment(adv, mask, [None, (1, 3)], penalty=0.5)
    assert got.tolist() == [[1.0, 1.0, 1.0, 1.0], [-1.0, -1.5, -1.5, 0.0]]
