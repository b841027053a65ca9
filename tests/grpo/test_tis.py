"""Truncated importance sampling wired end to end: the sampler's log-probs reach the loss aligned with the
trainer's tokens, at the sampling temperature. Sampling and scoring with the same float32 model, the weights
are 1; sampling from a bf16 copy, they move off 1 by the copy's rounding and stay within the cap."""

import pytest


def _trainer(tiny_model_dir, tmp_path, **changes):
    from data.curriculum import Curriculum, CurriculumConfig
    from data.schema import Row
    from pipeline.grpo.config import RewardSpec, TrainConfig
    from pipeline.grpo.trainer import GRPOTrainer
    from pipeline.models import load_model_and_tokenizer

    model, tok = load_model_and_tokenizer(str(tiny_model_dir))
    cfg = TrainConfig(model=str(tiny_model_dir), prompts_per_step=2, group_size=4, max_new_tokens=8, lr=1e-3,
                      total_steps=1, checkpoint_every=0, samples_every=0, verifier_workers=1,
                      rewards=[RewardSpec(verifier="toy_parity")], reward_plugins=["tests.grpo.toy_rewards"],
                      advantage="drgrpo", dynamic_sampling=False, seed=0, native_rollout=False, **changes)
    cfg.validate()
    rows = [Row(id=f"r{i}", problem=f"What is {i} + {i}?", verifier="math", gold=str(2 * i), source="t") for i in range(2)]
    return GRPOTrainer(cfg, model, tok, Curriculum.from_dataset(rows, CurriculumConfig(bucket_by="none")), tmp_path)


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_same_model_sampler_gives_unit_weights(tiny_model_dir, tmp_path, temperature):
    trainer = _trainer(tiny_model_dir, tmp_path, temperature=temperature)
    try:
        m = trainer.train_step(1)
    finally:
        trainer.scorer.close()
    assert m["tis/weight_mean"] == pytest.approx(1.0, abs=1e-4)  # misaligned or untempered log-probs would not be 1
    assert m["tis/capped_frac"] == 0.0


def test_bf16_sampler_mismatch_is_weighted_and_capped(tiny_model_dir, tmp_path):
    trainer = _trainer(tiny_model_dir, tmp_path, temperature=1.0, rollout_dtype="bfloat16", tis_cap=1.001)
    try:
        m = trainer.train_step(1)
    finally:
        trainer.scorer.close()
    assert m["tis/weight_mean"] != pytest.approx(1.0, abs=1e-6)  # the bf16 copy is not the float32 policy
    assert 0 < m["tis/capped_frac"] < 1  # some tokens the trainer likes more than the sampler hit the cap
    assert m["tis/weight_mean"] <= 1.001


def test_tis_off_asks_the_engine_for_no_logprobs(tiny_model_dir, tmp_path):
    trainer = _trainer(tiny_model_dir, tmp_path, temperature=1.0, tis_cap=None)
    try:
        m = trainer.train_step(1)
    finally:
        trainer.scorer.close()
    assert trainer.engine.return_logprobs is False and "tis/weight_mean" not in m
