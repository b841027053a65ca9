"""Trainer variants through the training stage's entry point (pipeline/train.py) on the tiny model, one short run
each. What each variant *does* is tested step by step, much faster, in test_trainer_behaviour.py (fake scorer,
forced rewards); these runs check what only the entry point does: LoRA adapters built, trained and merged into a
plain model; the reference model loaded for beta > 0 (and copied to bf16 under bf16_master). The crash-only
combinations (bf16 autocast with a bf16 rollout copy, LoRA under bf16_master, the real process verifier) run
with -m slow."""

import json

import pytest
import torch

from pipeline.config import load_config
from pipeline.grpo.config import TrainConfig
from tests.grpo.test_train_stage import REPO, data_dir, overrides  # noqa: F401


def _run(tiny_model_dir, data_dir, tmp_path, extra):  # noqa: F811
    from pipeline.train import run

    cfg = load_config(TrainConfig, REPO / "configs/train_embedded.yaml",
                      overrides(tiny_model_dir, 1, 1) + extra, section="train")
    m = run(cfg, data_dir, tmp_path / "train")
    line = json.loads((tmp_path / "train/metrics.jsonl").read_text().splitlines()[0])
    return m, line


def _final_and_base(tiny_model_dir, tmp_path, m):
    from transformers import AutoModelForCausalLM

    final = AutoModelForCausalLM.from_pretrained(tmp_path / "train" / m.metrics["final_model"]).state_dict()
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
    assert set(final) == set(base)  # a plain model (LoRA merged, no adapter keys)
    assert all(torch.isfinite(v).all() for v in final.values())
    return final, base


def test_lora_best_of_n_trains_adapters_and_merges(tiny_model_dir, data_dir, tmp_path):  # noqa: F811
    m, line = _run(tiny_model_dir, data_dir, tmp_path,
                   ["lora.enabled=true", "lora.r=4", "mode=best_of_n", "gradient_checkpointing=true",
                    "dynamic_sampling=false", "advantage=drgrpo", "loss_agg=constant",
                    "guidance=false", "entropy_target=null"])  # (GRPO-only switches of the embedded recipe)
    assert line["trained_frac"] > 0, "no group had a best completion with reward > 0: nothing was trained"
    final, base = _final_and_base(tiny_model_dir, tmp_path, m)
    changed = {k for k in base if not torch.equal(final[k], base[k])}
    assert changed and all(k.endswith("_proj.weight") for k in changed), sorted(changed)[:5]  # only adapted modules


def test_beta_loads_the_reference_and_kl_is_measured(tiny_model_dir, data_dir, tmp_path):  # noqa: F811
    # two minibatches x two epochs: every update after the first scores a policy that has left the reference
    m, line = _run(tiny_model_dir, data_dir, tmp_path,
                   ["mixed_precision=bf16_master", "rollout_dtype=null", "mu=2", "minibatch_size=4", "grad_accum=2",
                    "beta=0.05", "native_rollout=false", "dynamic_sampling=false"])
    assert line["optimizer_steps"] == 4
    assert line["kl"] > 0  # a reference was loaded, and it is not the policy being trained
    assert line["ratio_mean"] != pytest.approx(1.0, abs=1e-4)
    _final_and_base(tiny_model_dir, tmp_path, m)


SLOW_VARIANTS = [
    ("offpolicy_kl_accum_dynamic", ["mu=2", "minibatch_size=4", "grad_accum=2", "beta=0.05", "kl_estimator=k3",
                                    "dynamic_sampling=true", "temperature_schedule=[0.7, 1.0, 1.0, 1.3]",
                                    "advantage=rloo", "loss_agg=seq_mean_token_mean"]),
    ("bf16_autocast_bf16_rollout_eager_update", ["mixed_precision=bf16", "rollout_dtype=bfloat16",
                                                 "update_attention=eager", "share_prompt_prefix=true"]),
    ("bf16_master_lora_checkpointing", ["mixed_precision=bf16_master", "lora.enabled=true", "lora.r=4",
                                        "gradient_checkpointing=true"]),
    ("process_token_credit", ["process_penalty=0.5", "reward_plugins=[tests.grpo.toy_rewards]",
                              "rewards=[{verifier: toy_parity, weight: 1.0}, {verifier: process, weight: 0.0}]"]),
]


@pytest.mark.slow
@pytest.mark.parametrize("extra", [v[1] for v in SLOW_VARIANTS], ids=[v[0] for v in SLOW_VARIANTS])
def test_variant_runs(tiny_model_dir, data_dir, tmp_path, extra):  # noqa: F811
    """Combinations of options through the entry point: the run completes and writes a finite plain model."""
    m, _ = _run(tiny_model_dir, data_dir, tmp_path, extra)
    _final_and_base(tiny_model_dir, tmp_path, m)
