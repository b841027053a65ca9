"""Temperature over training (pipeline/grpo/temperature.py): the schedules against hand-computed values, the
composition with per-member temperatures, the constant default (exactly `temperature`), and the config checks."""

from __future__ import annotations

import re

import pytest

from pipeline.config import ConfigError, load_config
from pipeline.grpo.config import TrainConfig
from pipeline.grpo.temperature import (TemperatureOverTraining, base_temperature, member_temperatures,
                                       temperature_at)


# -- temperature_at: hand-computed values -----------------------------------------------------------------
def test_constant_is_start_at_every_step():
    assert [temperature_at(s, "constant", 0.7, 0.1, 5) for s in (1, 3, 5, 9)] == [0.7] * 4


def test_linear_ends_midpoint_and_clamp():
    # steps = 5: f = (step - 1) / 4 -> 0, 0.25, 0.5, 0.75, 1
    t = [temperature_at(s, "linear", 1.0, 0.6, 5) for s in range(1, 8)]
    assert t[0] == 1.0 and t[4] == 0.6  # exact at both ends
    assert t[1:4] == pytest.approx([0.9, 0.8, 0.7])  # midpoint (step 3) = (1.0 + 0.6) / 2
    assert t[5:] == [0.6, 0.6]  # held at `end` after `steps`
    assert temperature_at(0, "linear", 1.0, 0.6, 5) == 1.0  # (before step 1: start)


def test_linear_rising():
    assert temperature_at(2, "linear", 0.5, 1.5, 3) == pytest.approx(1.0)


def test_cosine_ends_midpoint_quarters_and_clamp():
    # steps = 5, start 1.0, end 0.6: T = 0.6 + 0.4 * (1 + cos(pi f)) / 2
    t = [temperature_at(s, "cosine", 1.0, 0.6, 5) for s in range(1, 8)]
    assert t[0] == 1.0 and t[4] == 0.6
    assert t[2] == pytest.approx(0.8)  # f = 1/2: cos = 0, the midpoint
    assert t[1] == pytest.approx(0.6 + 0.2 * (1 + 2 ** -0.5))  # f = 1/4: cos = 1/sqrt(2) -> 0.94142...
    assert t[1] == pytest.approx(0.9414213562)
    assert t[3] == pytest.approx(0.6 + 0.2 * (1 - 2 ** -0.5))  # f = 3/4 -> 0.65857...
    assert t[5:] == [0.6, 0.6]


def test_one_step_schedule_is_at_end_from_step_one():
    assert temperature_at(1, "linear", 1.0, 0.5, 1) == 0.5 == temperature_at(1, "cosine", 1.0, 0.5, 1)


def test_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="exp"):
        temperature_at(1, "exp", 1.0, 0.5, 2)


# -- the config: base and member temperatures ----------------------------------------------------------
def cfg(**kw) -> TrainConfig:
    base = dict(group_size=4, total_steps=3, temperature=1.0)
    base.update(kw)
    c = TrainConfig(**base)
    c.validate()
    return c


def test_constant_default_is_exactly_the_configured_temperatures():
    c = cfg(temperature=0.7)
    assert [base_temperature(c, s) for s in (1, 2, 3)] == [0.7] * 3
    assert member_temperatures(c, 2) == [0.7] * 4
    odd = [0.1, 0.7, 0.3 + 0.4, 1.3]  # returned as configured (not recomputed through a ratio)
    c = cfg(temperature=0.7, temperature_schedule=odd)
    assert member_temperatures(c, 3) == odd


def test_steps_default_to_total_steps_and_start_to_temperature():
    c = cfg(temperature=0.8, total_steps=3, temperature_over_training=TemperatureOverTraining("linear", end=0.4))
    assert [base_temperature(c, s) for s in (1, 2, 3)] == pytest.approx([0.8, 0.6, 0.4])
    c = cfg(total_steps=9, temperature_over_training=TemperatureOverTraining("linear", 1.0, 0.5, steps=2))
    assert [base_temperature(c, s) for s in (1, 2, 9)] == [1.0, 0.5, 0.5]


def test_members_keep_their_ratio_to_temperature():
    c = cfg(temperature=1.0, temperature_schedule=[0.5, 1.0, 1.0, 1.5],
            temperature_over_training=TemperatureOverTraining("linear", 1.0, 0.5, steps=2))
    assert member_temperatures(c, 1) == [0.5, 1.0, 1.0, 1.5]
    assert member_temperatures(c, 2) == pytest.approx([0.25, 0.5, 0.5, 0.75])
    c = cfg(temperature=0.5, temperature_schedule=[0.25, 0.5, 0.5, 1.0],  # ratios 0.5, 1, 1, 2 to 0.5
            temperature_over_training=TemperatureOverTraining("cosine", 1.0, 0.6, steps=3))
    assert member_temperatures(c, 1) == pytest.approx([0.5, 1.0, 1.0, 2.0])
    assert member_temperatures(c, 2) == pytest.approx([0.4, 0.8, 0.8, 1.6])


def test_yaml_block_loads(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("train:\n  temperature_over_training: {schedule: cosine, start: 1.0, end: 0.7}\n")
    c = load_config(TrainConfig, p, section="train")
    assert c.temperature_over_training == TemperatureOverTraining("cosine", 1.0, 0.7, None)
    assert load_config(TrainConfig, None).temperature_over_training == TemperatureOverTraining()


BAD = [
    ("unknown_schedule", ["temperature_over_training.schedule=exp"], "temperature_over_training.schedule"),
    ("zero_end", ["temperature_over_training.schedule=linear", "temperature_over_training.end=0"],
     "temperature_over_training.end"),
    ("negative_start", ["temperature_over_training.schedule=cosine", "temperature_over_training.start=-1",
                        "temperature_over_training.end=0.5"], "temperature_over_training.start"),
    ("no_end", ["temperature_over_training.schedule=linear"], "temperature_over_training.end"),
    ("zero_steps", ["temperature_over_training.schedule=linear", "temperature_over_training.end=0.5",
                    "temperature_over_training.steps=0"], "temperature_over_training.steps"),
    ("constant_with_end", ["temperature_over_training.end=0.5"], "temperature_over_training"),
    ("members_over_greedy", ["mode=best_of_n", "temperature=0", "group_size=2", "temperature_schedule=[0.5, 1.0]",
                             "temperature_over_training.schedule=linear", "temperature_over_training.start=1.0",
                             "temperature_over_training.end=0.5"], "ratio to `temperature`"),
    ("unknown_key", ["temperature_over_training.stop=3"], "temperature_over_training.stop"),
]


@pytest.mark.parametrize("overrides,message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_config_errors_name_the_field(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(TrainConfig, None, overrides)
