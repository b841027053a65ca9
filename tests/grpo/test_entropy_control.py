"""Adaptive entropy control (pipeline/grpo/entropy_control.py): the coefficient's update rule against hand
values, and through the trainer: logged per step, moved by the step's entropy, restored on resume."""

from __future__ import annotations

import pytest

from pipeline.grpo.entropy_control import next_entropy_coef
from tests.grpo.test_trainer_behaviour import FLAT, FakeScorer, by_member, make_trainer

# id, coef, entropy, target, step_size, expected
CASES = [
    ("below_target_rises", 0.0, 0.10, 0.2, 0.001, 0.001),
    ("below_target_rises_again", 0.004, 0.15, 0.2, 0.001, 0.005),
    ("above_target_falls", 0.004, 0.35, 0.2, 0.001, 0.003),
    ("at_target_falls", 0.004, 0.2, 0.2, 0.001, 0.003),
    ("never_below_zero", 0.0005, 0.9, 0.2, 0.001, 0.0),
    ("no_target_keeps_the_fixed_coef", 0.01, 0.05, None, 0.001, 0.01),
    ("no_reading_keeps_it", 0.004, None, 0.2, 0.001, 0.004),
    ("nan_reading_keeps_it", 0.004, float("nan"), 0.2, 0.001, 0.004),
]


@pytest.mark.parametrize("coef,entropy,target,step_size,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_next_entropy_coef(coef, entropy, target, step_size, expected):
    assert next_entropy_coef(coef, entropy, target, step_size) == pytest.approx(expected)


MIXED = [1.0, 0.0, 1.0, 0.0]  # every group has variance: rows train whatever the coefficient


@pytest.mark.parametrize("target,start,expected", [(50.0, 0.0, [0.0, 0.25, 0.5]), (1e-6, 0.5, [0.5, 0.25, 0.0])],
                         ids=["below_target_rises", "above_target_falls"])
def test_trainer_moves_the_coefficient_by_the_steps_entropy(tiny_model_dir, tmp_path, target, start, expected):
    """Target 50 nats is above any entropy (the coefficient rises each step); 1e-6 is below (it falls to 0)."""
    tables = [[MIXED, MIXED]] * 3
    trainer = make_trainer(tiny_model_dir, tmp_path, FakeScorer(lambda c, g, j, t: tables[0][g][j]),
                           entropy_target=target, entropy_coef=start, entropy_coef_step=0.25, total_steps=3)
    logged = [trainer.train_step(s)["entropy_coef"] for s in (1, 2, 3)]
    assert logged == pytest.approx(expected)


def test_a_positive_coefficient_trains_flat_groups(tiny_model_dir, tmp_path):
    """Step 1 runs at coefficient 0: flat groups are skipped; step 2 at 0.25 (below target): they train."""
    trainer = make_trainer(tiny_model_dir, tmp_path, FakeScorer(by_member([FLAT, FLAT], [FLAT, FLAT])),
                           entropy_target=50.0, entropy_coef_step=0.25)
    first = trainer.train_step(1)
    assert first["active_frac"] == 0.0 and "entropy" not in first  # nothing trained: no reading, coefficient kept
    trainer.update.entropy_coef = 0.25
    second = trainer.train_step(2)
    assert second["entropy_coef"] == 0.25 and second["active_frac"] == 1.0 and second["entropy"] > 0


def test_resume_restores_the_coefficient(tiny_model_dir, tmp_path):
    trainer = make_trainer(tiny_model_dir, tmp_path, FakeScorer(lambda c, g, j, t: MIXED[j]),
                           entropy_target=50.0, entropy_coef_step=0.25)
    trainer.train_step(1)
    trainer.step = 1
    saved = trainer.save()
    assert trainer.update.entropy_coef == 0.25
    fresh = make_trainer(tiny_model_dir, tmp_path, FakeScorer(lambda c, g, j, t: MIXED[j]),
                         entropy_target=50.0, entropy_coef_step=0.25)
    assert fresh.update.entropy_coef == 0.0
    fresh.resume(saved)
    assert fresh.update.entropy_coef == 0.25 and fresh.train_step(2)["entropy_coef"] == 0.25
