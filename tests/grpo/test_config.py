"""Every shipped training config loads; validate() rejects contradictions naming the field."""

from pathlib import Path

import pytest

from pipeline.config import ConfigError, load_config
from pipeline.grpo.config import TrainConfig

REPO = Path(__file__).resolve().parents[2]
CONFIGS = ["train_embedded.yaml", "r1zero_qwen2.5_0.5b.yaml", "r1zero_qwen2.5_1.5b.yaml", "drgrpo_qwen2.5_math_7b.yaml"]


@pytest.mark.parametrize("name", CONFIGS, ids=CONFIGS)
def test_shipped_configs_load(name):
    cfg = load_config(TrainConfig, REPO / "configs" / name, section="train")
    assert cfg.completions_per_step == cfg.prompts_per_step * cfg.group_size
    if cfg.deepspeed:
        assert (REPO / cfg.deepspeed).exists()


def test_drgrpo_recipe_settings():
    cfg = load_config(TrainConfig, REPO / "configs/drgrpo_qwen2.5_math_7b.yaml", section="train")
    assert (cfg.advantage, cfg.loss_agg, cfg.beta, cfg.engine) == ("drgrpo", "constant", 0.0, "vllm")


BAD = [
    ("group_of_one", ["group_size=1"], "group_size"),
    ("schedule_length", ["group_size=4", "temperature_schedule=[0.7, 1.0]"], "temperature_schedule"),
    ("minibatch_not_dividing", ["prompts_per_step=2", "group_size=4", "minibatch_size=3"], "minibatch_size"),
    ("accum_not_dividing", ["prompts_per_step=2", "group_size=4", "minibatch_size=4", "grad_accum=3"], "grad_accum"),
    ("greedy_grpo", ["temperature=0"], "temperature"),
    ("best_of_n_with_kl", ["mode=best_of_n", "beta=0.1", "dynamic_sampling=false"], "beta"),
    ("vllm_sleep_on_cpu", ["engine=vllm", "device=cpu", "vllm.enable_sleep_mode=true"], "vllm.enable_sleep_mode"),
    ("negative_beta", ["beta=-0.1"], "beta"),
    ("negative_entropy_coef", ["entropy_coef=-0.01"], "entropy_coef"),
    ("best_of_n_with_entropy_bonus", ["mode=best_of_n", "entropy_coef=0.01", "dynamic_sampling=false"],
     "entropy_coef"),
    ("zero_entropy_target", ["entropy_target=0"], "entropy_target"),
    ("entropy_target_without_a_step", ["entropy_target=0.2", "entropy_coef_step=0"], "entropy_target"),
    ("best_of_n_with_entropy_target", ["mode=best_of_n", "entropy_target=0.2", "dynamic_sampling=false"],
     "entropy_coef"),
    ("negative_release_memory_every", ["release_memory_every=-1"], "release_memory_every"),
    ("unknown_lean_attention", ["update_attention=flash"], "update_attention"),
    ("unknown_field", ["warmup_step=3"], "Did you mean .warmup_steps"),
    ("bad_advantage", ["advantage=ppo"], "advantage"),
]


@pytest.mark.parametrize("overrides,needle", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_validate_rejects(overrides, needle):
    with pytest.raises(ConfigError, match=needle):
        load_config(TrainConfig, None, overrides)


@pytest.mark.parametrize("change, world, message", [
    ({"prompts_per_step": 2, "group_size": 4, "grad_accum": 8}, 2, "grad_accum: 8 does not divide the per-process"),
    ({"prompts_per_step": 3, "group_size": 2}, 2, "do not split evenly over 2 processes"),
    ({"prompts_per_step": 4, "group_size": 2, "minibatch_size": 2}, 4, "minibatch_size: 2 completions do not split"),
], ids=["grad_accum", "prompts", "minibatch"])
def test_per_process_minibatch_is_checked_with_the_world_size(change, world, message):
    from pipeline.grpo.update import check_minibatch

    cfg = TrainConfig(**change)
    cfg.validate()  # fine for one process
    assert check_minibatch(cfg, 1) == cfg.minibatch
    with pytest.raises(ConfigError, match=message):
        check_minibatch(cfg, world)
