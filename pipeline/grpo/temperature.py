"""Sampling temperature over training: the step's base temperature, and each group member's.

The `temperature_over_training:` block (TrainConfig.temperature_over_training documents it) moves the base
temperature T(step) from `start` to `end` over `steps` training steps; steps are numbered from 1, as the trainer
numbers them. With f = (step - 1) / (steps - 1) clamped to [0, 1] (f = 1 when steps == 1):

    constant   T = start                                        (start: the config's `temperature`)
    linear     T = start + (end - start) * f                    (a straight line from start to end)
    cosine     T = end + (start - end) * (1 + cos(pi * f)) / 2  (flat at both ends, (start + end) / 2 halfway)

Step 1 samples at `start`, step `steps` and every later step at `end`. Per-member temperatures keep their ratio
to the configured `temperature`: member j samples at t_j * (T(step) / temperature).

    temperature_at(2, "linear", start=1.0, end=0.5, steps=3)   # 0.75
    member_temperatures(cfg, step)                              # [t_1 .. t_G]: sampled at, and scored at
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

from pipeline.config import ConfigError

SCHEDULES = ("constant", "linear", "cosine")


@dataclasses.dataclass
class TemperatureOverTraining:
    schedule: Literal["constant", "linear", "cosine"] = "constant"
    """Shape of the base temperature over the steps."""
    start: float | None = None
    """Base temperature at step 1 (null: `temperature`); linear / cosine only."""
    end: float | None = None
    """Base temperature from step `steps` on; required by linear / cosine."""
    steps: int | None = None
    """Steps from start to end (null: total_steps)."""


def temperature_at(step: int, schedule: str, start: float, end: float, steps: int) -> float:
    """The base temperature of training step `step` (1-based) under `schedule` (formulas in the module doc)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown temperature schedule {schedule!r} (known: {', '.join(SCHEDULES)})")
    if schedule == "constant":
        return start
    f = 1.0 if steps <= 1 else min(1.0, max(0.0, (step - 1) / (steps - 1)))  # progress in [0, 1]
    if f == 0.0:
        return start
    if f == 1.0:
        return end
    if schedule == "linear":
        return start + (end - start) * f
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * f))


def base_temperature(cfg, step: int) -> float:
    """The step's base temperature for a TrainConfig `cfg` (exactly `cfg.temperature` under the constant default)."""
    tot = cfg.temperature_over_training
    if tot.schedule == "constant":
        return cfg.temperature
    start = cfg.temperature if tot.start is None else tot.start
    return temperature_at(step, tot.schedule, start, tot.end, tot.steps or cfg.total_steps)


def member_temperatures(cfg, step: int) -> list[float]:
    """Each group member's temperature at `step`: T(step) for all, or t_j * (T(step) / temperature) with a
    per-member `temperature_schedule` (under the constant default: t_j exactly)."""
    base = base_temperature(cfg, step)
    if not cfg.temperature_schedule:
        return [base] * cfg.group_size
    ratio = 1.0 if cfg.temperature_over_training.schedule == "constant" else base / cfg.temperature
    return [t * ratio for t in cfg.temperature_schedule]


def check(tot: TemperatureOverTraining, temperature: float, per_member: bool) -> None:
    """ConfigError naming the field when the block is inconsistent (with itself or the config's temperatures)."""
    name = "temperature_over_training"
    if tot.schedule not in SCHEDULES:
        raise ConfigError(f"{name}.schedule: {tot.schedule!r} is not one of {list(SCHEDULES)}")
    if tot.steps is not None and tot.steps < 1:
        raise ConfigError(f"{name}.steps: must be >= 1 (or null for total_steps)")
    if tot.schedule == "constant":
        if tot.start is not None or tot.end is not None:
            raise ConfigError(f"{name}: a constant schedule samples at `temperature`; start/end are for linear "
                              "or cosine")
        return
    if tot.end is None:
        raise ConfigError(f"{name}.end: a {tot.schedule} schedule needs an end temperature")
    start = temperature if tot.start is None else tot.start
    for key, v in (("start", start), ("end", tot.end)):
        if not v > 0:
            raise ConfigError(f"{name}.{key}: must be > 0 (got {v})")
    if per_member and not temperature > 0:
        raise ConfigError(f"{name}: per-member temperatures keep their ratio to `temperature`, which must be > 0")
