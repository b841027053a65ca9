"""Per-step completion-length percentiles (pipeline/grpo/samples.py): the interpolation against hand-computed
values, and `rollout_metrics` logging completion_len/p10, /p50, /p90 of the first round's token counts."""

from __future__ import annotations

import pytest

from data.schema import Row
from pipeline.grpo.samples import Sample, percentiles, rollout_metrics


def test_percentiles_interpolate_linearly_between_ranks():
    # n = 4: position q/100 * 3 -> p10 at 0.3 (1 + 0.3 * 1), p50 at 1.5 (2 + 0.5 * 1), p90 at 2.7 (3 + 0.7 * 1)
    assert percentiles([4, 1, 3, 2], (10, 50, 90)) == pytest.approx([1.3, 2.5, 3.7])
    # n = 10, values 10..100: positions 0.9, 4.5, 8.1 -> 19, 55, 91
    assert percentiles(list(range(100, 0, -10)), (10, 50, 90)) == pytest.approx([19.0, 55.0, 91.0])
    # n = 5 odd, uneven gaps: p50 is the middle value exactly; p10 at 0.4 -> 2 + 0.4 * 6; p90 at 3.6 -> 20 + 0.6 * 80
    assert percentiles([2, 8, 9, 20, 100], (10, 50, 90)) == pytest.approx([4.4, 9.0, 68.0])
    assert percentiles([2, 8, 9, 20, 100], (0, 100)) == [2, 100]


def test_percentiles_of_one_value_and_of_none():
    assert percentiles([7], (10, 50, 90)) == [7, 7, 7]
    with pytest.raises(ValueError):
        percentiles([], (50,))


def sample(n_tokens: int, finish: str = "stop") -> Sample:
    s = Sample(Row("r", "p", "math", "1", "t"), [1, 2], list(range(n_tokens)), "x", finish, 1.0)
    s.reward, s.reward_filled, s.objectives = 1.0, 1.0, {"math": 1.0}
    return s


def test_rollout_metrics_log_length_percentiles_beside_mean_and_truncation():
    flat = [sample(n) for n in (2, 8, 9, 20)] + [sample(100, "length")]
    m = rollout_metrics(flat, {}, 0, 1.0)
    assert (m["completion_len/p10"], m["completion_len/p50"], m["completion_len/p90"]) == pytest.approx((4.4, 9.0, 68.0))
    assert m["completion_len/mean"] == pytest.approx(27.8) and m["truncation_rate"] == pytest.approx(0.2)
