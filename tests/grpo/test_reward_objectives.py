"""Reward objectives named in a training config reach the trainer: the overlong penalty trains, with the
completions' token lengths, and the process objective is only ever a penalty."""


def _step(tiny_model_dir, tmp_path, rewards: list[dict], lr: float = 1e-2):
    """One GRPO step of the tiny model on two arithmetic rows under `rewards`: (metrics, weights before, model)."""
    from data.curriculum import Curriculum, CurriculumConfig
    from data.schema import Row
    from pipeline.config import from_dict
    from pipeline.grpo.config import TrainConfig
    from pipeline.grpo.trainer import GRPOTrainer
    from pipeline.models import load_model_and_tokenizer

    cfg = from_dict(TrainConfig, {
        "model": str(tiny_model_dir), "prompts_per_step": 2, "group_size": 4, "max_new_tokens": 8, "lr": lr,
        "total_steps": 1, "checkpoint_every": 0, "samples_every": 0, "verifier_workers": 1, "seed": 0,
        "dynamic_sampling": False, "reward_plugins": ["tests.grpo.toy_rewards"], "rewards": rewards})
    model, tok = load_model_and_tokenizer(str(tiny_model_dir))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    rows = [Row(id=f"r{i}", problem=f"What is {i} + {i}?", verifier="math", gold=str(2 * i), source="t") for i in range(2)]
    trainer = GRPOTrainer(cfg, model, tok, Curriculum.from_dataset(rows, CurriculumConfig(bucket_by="none")), tmp_path)
    try:
        return trainer.train_step(1), before, model
    finally:
        trainer.scorer.close()


def test_a_config_naming_the_overlong_penalty_trains(tiny_model_dir, tmp_path):
    import torch

    m, before, model = _step(tiny_model_dir, tmp_path, [
        {"verifier": "toy_parity", "weight": 1.0},
        {"verifier": "overlong", "weight": 0.5, "options": {"max_len": 8, "cache_len": 4}}])
    # the random tiny model rarely stops before 8 tokens: each truncated completion scores -1 on overlong (5 to 7
    # tokens: partly), so the objective's mean is at most minus the truncation rate
    assert m["reward/overlong/mean"] <= -m["truncation_rate"] < 0
    assert any(not torch.equal(p, before[n]) for n, p in model.named_parameters())


def test_process_objective_in_training_gives_no_reward_for_text_without_false_steps(tiny_model_dir, tmp_path):
    """The tiny model's text has no (or no false) checkable step: the min-form process objective adds nothing
    to the reward (the old path paid +weight for 'no false step', filler included)."""
    m, _, _ = _step(tiny_model_dir, tmp_path, [{"verifier": "toy_parity", "weight": 1.0},
                                               {"verifier": "process", "weight": 0.5}])
    assert m["reward/process/mean"] <= 0.0  # only ever a penalty
    assert m["reward/mean"] <= m["reward/toy_parity/mean"] + 1e-9
