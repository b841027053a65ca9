"""Off-policy guidance (`guidance: true`) on the tiny model with the real scorer: a group nobody solved gets the
row's worked solution as its last member, the update raises that solution's likelihood (without guidance the
same all-wrong step leaves every weight as it was), a solution the verifier refuses never enters, and the
demonstration's missing sampler log-probs give TIS weight 1 instead of an error."""

from __future__ import annotations

import math

import pytest
import torch

GOLDS = ["-66", "-151"]  # the random tiny model never writes these in 8 tokens


def _trainer(tiny_model_dir, tmp_path, solutions, verifier="math", **changes):
    from data.curriculum import Curriculum, CurriculumConfig
    from data.schema import Row
    from pipeline.grpo.config import TrainConfig
    from pipeline.grpo.trainer import GRPOTrainer
    from pipeline.models import load_model_and_tokenizer

    model, tok = load_model_and_tokenizer(str(tiny_model_dir))
    cfg = TrainConfig(model=str(tiny_model_dir), template="boxed", prompts_per_step=2, group_size=4,
                      max_new_tokens=8, lr=1e-3, total_steps=1, checkpoint_every=0, samples_every=0,
                      verifier_workers=1, reward_plugins=["tests.grpo.toy_rewards"], advantage="grpo", dynamic_sampling=False, seed=0,
                      **changes)
    cfg.validate()
    rows = [Row(id=f"r{i}", problem=p, verifier=verifier, gold=g, source="t", metadata={"solution": s})
            for i, (p, g, s) in enumerate(zip(["What is $14 - 32 - 48$?", "What is $11 + 20 - 26 \\times 7$?"],
                                                GOLDS, solutions))]
    trainer = GRPOTrainer(cfg, model, tok, Curriculum.from_dataset(rows, CurriculumConfig(bucket_by="none")), tmp_path)
    return trainer, rows


def _demo_logprob(trainer, row) -> float:
    """Sum of the policy's log-probs of the row's rendered worked solution after its prompt."""
    from pipeline.grpo.batch import sequence_logprobs
    from pipeline.grpo.guidance import demonstration
    from pipeline.grpo.samples import Sample
    from pipeline.prompts import render_prompt

    prompt_ids = trainer.engine.encode_prompts([render_prompt(trainer.tok, row.problem, "boxed")])[0]
    demo = demonstration(Sample(row, prompt_ids, [], "", "stop", 1.0), trainer.tok, "boxed")
    with torch.no_grad():
        lp, mask = sequence_logprobs(trainer.backend.policy(), [prompt_ids], [demo.ids], pad_id=trainer.tok.pad_token_id)
    return float((lp * mask).sum())


SOLUTIONS = ["14 - 32 = -18\n-18 - 48 = -66", "26 \\times 7 = 182\n11 + 20 = 31\n31 - 182 = -151"]


def test_unsolved_groups_get_the_solution_and_it_becomes_likelier(tiny_model_dir, tmp_path):
    trainer, rows = _trainer(tiny_model_dir, tmp_path, SOLUTIONS, guidance=True)
    try:
        before = [_demo_logprob(trainer, r) for r in rows]
        m = trainer.train_step(1)
        after = [_demo_logprob(trainer, r) for r in rows]
    finally:
        trainer.scorer.close()
    assert m["accuracy"] == 0.0  # the policy's own samples: metrics never count the demonstrations
    assert (m["guidance/groups"], m["guidance/rejected"]) == (2, 0)
    assert m["zero_variance_frac"] == 0.0  # each group now has one correct member
    assert math.isfinite(m["tis/weight_mean"])  # tis_cap is on: the demonstration's NaN sampler log-probs -> 1
    assert all(a > b + 1.0 for a, b in zip(after, before)), (before, after)


def test_without_guidance_the_same_step_changes_nothing(tiny_model_dir, tmp_path):
    trainer, rows = _trainer(tiny_model_dir, tmp_path, SOLUTIONS, guidance=False)
    try:
        w0 = [p.detach().clone() for p in trainer.backend.master().parameters()]
        m = trainer.train_step(1)
    finally:
        trainer.scorer.close()
    assert "guidance/groups" not in m and m["zero_variance_frac"] == 1.0
    assert all(torch.equal(a, b) for a, b in zip(w0, trainer.backend.master().parameters()))


def test_a_solution_the_verifier_refuses_never_enters(tiny_model_dir, tmp_path):
    trainer, _ = _trainer(tiny_model_dir, tmp_path, SOLUTIONS, verifier="toy_never", guidance=True)
    try:
        w0 = [p.detach().clone() for p in trainer.backend.master().parameters()]
        m = trainer.train_step(1)
    finally:
        trainer.scorer.close()
    assert (m["guidance/groups"], m["guidance/rejected"]) == (0, 2) and m["zero_variance_frac"] == 1.0
    assert all(torch.equal(a, b) for a, b in zip(w0, trainer.backend.master().parameters()))


def test_guidance_is_refused_in_best_of_n_mode():
    from pipeline.config import ConfigError
    from pipeline.grpo.config import TrainConfig

    with pytest.raises(ConfigError, match="guidance"):
        TrainConfig(model="m", guidance=True, mode="best_of_n").validate()
