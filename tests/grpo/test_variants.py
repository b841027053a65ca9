"""Trainer variants end to end on the tiny model (one short run each): off-policy epochs with KL and accumulation,
dynamic sampling, overlong filtering, per-member temperatures; LoRA with best-of-N and gradient checkpointing;
bf16 compute with float32 master weights (with KL and accumulation; with LoRA and checkpointing)."""

import json

import pytest
import torch

from pipeline.config import load_config
from pipeline.grpo.config import TrainConfig
from tests.grpo.test_train_stage import REPO, data_dir, overrides  # noqa: F401

VARIANTS = [
    ("offpolicy_kl_accum_dynamic", ["mu=2", "minibatch_size=4", "grad_accum=2", "beta=0.05", "kl_estimator=k3",
                                    "dynamic_sampling=true",
                                    "temperature_schedule=[0.7, 1.0, 1.0, 1.3]", "advantage=rloo",
                                    "loss_agg=seq_mean_token_mean"]),
    ("lora_best_of_n_checkpointing_overlong", ["overlong_filter=true", "dynamic_sampling=false", "lora.enabled=true", "lora.r=4", "mode=best_of_n",
                                      "gradient_checkpointing=true", "advantage=drgrpo", "loss_agg=constant"]),
    ("bf16_autocast_bf16_rollout_eager_update", ["mixed_precision=bf16", "rollout_dtype=bfloat16",
                                                 "update_attention=eager", "share_prompt_prefix=true"]),
    ("bf16_master_offpolicy_kl_accum", ["mixed_precision=bf16_master", "rollout_dtype=null", "mu=2",
                                        "minibatch_size=4", "grad_accum=2", "beta=0.05", "native_rollout=false"]),
    ("bf16_master_lora_checkpointing", ["mixed_precision=bf16_master", "lora.enabled=true", "lora.r=4",
                                        "gradient_checkpointing=true"]),
    ("process_token_credit", ["process_penalty=0.5", "reward_plugins=[tests.grpo.toy_rewards]",
                              "rewards=[{verifier: toy_parity, weight: 1.0}, {verifier: process, weight: 0.0}]"]),
]


@pytest.mark.parametrize("extra", [v[1] for v in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_variant_runs(tiny_model_dir, data_dir, tmp_path, extra):  # noqa: F811
    from transformers import AutoModelForCausalLM

    from pipeline.train import run

    cfg = load_config(TrainConfig, REPO / "configs/train_embedded.yaml",
                      overrides(tiny_model_dir, 1, 1) + extra, section="train")
    m = run(cfg, data_dir, tmp_path / "train")
    line = json.loads((tmp_path / "train/metrics.jsonl").read_text().splitlines()[0])
    if cfg.beta > 0:
        assert "kl" in line and line["ratio_mean"] > 0
    final = AutoModelForCausalLM.from_pretrained(tmp_path / "train" / m.metrics["final_model"])
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert set(final.state_dict()) == set(base.state_dict())  # LoRA is merged into a plain model
    assert all(torch.isfinite(v).all() for v in final.state_dict().values())
