"""Temperature over training in the trainer, on the tiny model with a fake scorer: each step's temperatures reach
the engine's SamplingParams, the update scores every completion at the temperature it was sampled at, and
metrics.jsonl logs the step's base temperature; without the block a run samples exactly as before."""

from __future__ import annotations

import pytest

from pipeline.grpo import update as update_mod
from pipeline.grpo.metrics import read_metrics
from pipeline.grpo.temperature import TemperatureOverTraining
from tests.grpo.test_trainer_behaviour import FakeScorer, by_member, make_trainer

VARIED = [[1, 0, 1, 0], [0, 1, 0, 1]]


def record_sampling(monkeypatch, trainer) -> list:
    """(temperature, n, seed) of every engine.generate call, in order."""
    calls: list = []
    real = trainer.engine.generate

    def generate(prompts, params):
        calls.append((params.temperature, params.n, params.seed))
        return real(prompts, params)

    monkeypatch.setattr(trainer.engine, "generate", generate)
    return calls


def record_scoring_temperatures(monkeypatch) -> list:
    """The temperatures the update's log-prob forwards divide the logits by, one list per call."""
    seen: list = []
    real = update_mod.completion_logprobs

    def wrapped(model, batch, temperature, *args, **kwargs):
        seen.append([float(t) for t in temperature])
        return real(model, batch, temperature, *args, **kwargs)

    monkeypatch.setattr(update_mod, "completion_logprobs", wrapped)
    return seen


def test_linear_schedule_reaches_sampler_update_and_metrics(tiny_model_dir, tmp_path, monkeypatch):
    scorer = FakeScorer(by_member(VARIED, VARIED))
    trainer = make_trainer(tiny_model_dir, tmp_path, scorer, total_steps=2,
                           temperature_over_training=TemperatureOverTraining("linear", start=1.0, end=0.5))
    sampled, scored = record_sampling(monkeypatch, trainer), record_scoring_temperatures(monkeypatch)
    per_step: list = []
    real_step = trainer.train_step

    def train_step(step):
        n_sampled, n_scored = len(sampled), len(scored)
        out = real_step(step)
        per_step.append(({t for t, _, _ in sampled[n_sampled:]}, {t for ts in scored[n_scored:] for t in ts}))
        return out

    monkeypatch.setattr(trainer, "train_step", train_step)
    trainer.train(progress=False)
    assert per_step == [({1.0}, {1.0}), ({0.5}, {0.5})]  # step 1 at start, step 2 (= total_steps) at end
    assert [n for _, n, _ in sampled] == [4, 4]  # the whole group in one call per step
    assert [r["temperature"] for r in read_metrics(tmp_path)] == [1.0, 0.5]


def test_members_scale_with_the_schedule(tiny_model_dir, tmp_path, monkeypatch):
    scorer = FakeScorer(by_member(VARIED))
    trainer = make_trainer(tiny_model_dir, tmp_path, scorer, total_steps=2, temperature_schedule=[0.5, 1.0, 1.0, 1.5],
                           temperature_over_training=TemperatureOverTraining("linear", start=1.0, end=0.5))
    sampled, scored = record_sampling(monkeypatch, trainer), record_scoring_temperatures(monkeypatch)
    m = trainer.train_step(2)
    assert sorted((t, n) for t, n, _ in sampled) == [(0.25, 1), (0.5, 2), (0.75, 1)]
    assert sorted(t for ts in scored for t in ts) == sorted([0.25, 0.5, 0.5, 0.75] * 2)  # each as it was sampled
    assert m["temperature"] == 0.5


@pytest.mark.parametrize("schedule", [[], [0.5, 0.7, 0.7, 1.5]], ids=["one_temperature", "per_member"])
def test_without_the_block_sampling_is_unchanged(tiny_model_dir, tmp_path, monkeypatch, schedule):
    scorer = FakeScorer(by_member(VARIED, VARIED))
    trainer = make_trainer(tiny_model_dir, tmp_path, scorer, total_steps=2, temperature=0.7,
                           temperature_schedule=schedule)
    sampled = record_sampling(monkeypatch, trainer)
    trainer.train(progress=False)
    temps = sorted(set(schedule or [0.7]))
    # the seed of the k-th distinct temperature at step s (round 0, rank 0), as before temperature schedules
    expected = [(t, (schedule or [0.7] * 4).count(t), (0 * 1_000_003 + s * 1009 + k * 7) % 2**31)
                for s in (1, 2) for k, t in enumerate(temps)]
    assert sampled == expected  # the config's temperatures exactly (no float drift), the same seeds
    assert [r["temperature"] for r in read_metrics(tmp_path)] == [0.7, 0.7]
