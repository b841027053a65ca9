"""Curriculum: buckets, schedules, determinism and exact resume from saved state."""

from __future__ import annotations

import random

import pytest

from data.curriculum import Curriculum, CurriculumConfig, bucket_rows
from data.schema import Row


def _rows(n=60):
    out = []
    for i in range(n):
        out.append(Row(f"r{i}", f"p{i}", "math", "1", "s", "train", {"level": 1 + i % 3},
                       difficulty=[1.0, 0.75, 0.5, 0.25, 0.0][i % 5]))
    return out


@pytest.mark.parametrize("by,expected", [
    ("level", {"L1": 20, "L2": 20, "L3": 20}),
    ("difficulty", {"d0": 24, "d1": 12, "d2": 24}),
    ("none", {"all": 60}),
    ("auto", {"d0": 24, "d1": 12, "d2": 24}),
], ids=["level", "difficulty", "none", "auto-prefers-difficulty"])
def test_buckets(by, expected):
    assert {k: len(v) for k, v in bucket_rows(_rows(), by).items()} == expected
    assert list(bucket_rows(_rows(), by)) == list(expected)  # easy-to-hard order


def test_easy_to_hard_opens_buckets_over_steps():
    cur = Curriculum.from_dataset(_rows(), CurriculumConfig(bucket_by="level", schedule="easy_to_hard", ramp_steps=10))
    assert cur.open_buckets(0) == ["L1"] and cur.open_buckets(5) == ["L1", "L2"]
    assert cur.open_buckets(10) == ["L1", "L2", "L3"] == cur.open_buckets(1000)
    assert {r.metadata["level"] for r in cur.sample(0, 30)} == {1}
    assert {r.metadata["level"] for r in cur.sample(10, 60)} == {1, 2, 3}


def test_band_keeps_only_informative_pass_rates():
    cur = Curriculum.from_dataset(_rows(), CurriculumConfig(schedule="band", band_low=0.2, band_high=0.8))
    seen = {r.difficulty for r in cur.sample(0, 100)}
    assert seen == {0.25, 0.5, 0.75}


def test_band_without_difficulty_is_an_error():
    rows = [Row("a", "p", "math", "1", "s")]
    with pytest.raises(ValueError, match="band schedule needs pass rates"):
        Curriculum.from_dataset(rows, CurriculumConfig(schedule="band"))


def test_sampling_is_without_replacement_within_a_bucket_epoch():
    cur = Curriculum.from_dataset(_rows(), CurriculumConfig(bucket_by="none"))
    ids = [r.id for r in cur.sample(0, 60)]
    assert len(set(ids)) == 60


def test_deterministic_and_exact_resume_from_state():
    cfg = CurriculumConfig(bucket_by="level", schedule="easy_to_hard", ramp_steps=5, seed=3)
    a = Curriculum.from_dataset(_rows(), cfg)
    full = [[r.id for r in a.sample(s, 7)] for s in range(12)]
    b = Curriculum.from_dataset(_rows(), cfg)
    for s in range(6):
        b.sample(s, 7)
    state = b.state_dict()
    c = Curriculum.from_dataset(_rows(), cfg)
    c.load_state_dict(state)
    assert [[r.id for r in c.sample(s, 7)] for s in range(6, 12)] == full[6:]
    other = Curriculum.from_dataset(_rows(), CurriculumConfig(bucket_by="level", seed=4))
    assert [r.id for r in other.sample(0, 7)] != full[0]


def test_explicit_rng_and_state_mismatch():
    cur = Curriculum.from_dataset(_rows(), CurriculumConfig(bucket_by="level"))
    assert len(cur.sample(0, 5, random.Random(1))) == 5
    small = Curriculum.from_dataset(_rows(30), CurriculumConfig(bucket_by="level"))
    with pytest.raises(ValueError, match="saved for buckets"):
        small.load_state_dict(cur.state_dict())
