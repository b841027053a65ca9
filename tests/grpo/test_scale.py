"""Accumulation that means what it says, and ZeRO-3, on 2 CPU DeepSpeed ranks (accelerate launch, gloo).

One optimizer step per minibatch whatever `grad_accum` is: a 2-rank ZeRO-2 run with grad_accum=2 and a
2-rank ZeRO-3 run with grad_accum=2 take exactly the optimizer steps (`optimizer_steps` in metrics.jsonl, the
engine's own count) and the LR schedule of a single-process run, and their weights after step 1 equal the
grad_accum=1 run's (same samples: sampling does not depend on grad_accum or on the ZeRO stage). Before the
fix, DeepSpeed stepped on every micro-batch: 2 optimizer steps per minibatch, twice the update.
"""

import json
from pathlib import Path

import pytest
import torch

from tests.grpo.test_distributed import _skip_without_deepspeed
from tests.grpo.test_train_stage import REPO, data_dir, overrides  # noqa: F401  (fixture re-export)

STEPS = 3
EXTRA = ["warmup_steps=0", "schedule=linear"]  # an LR that changes every step: a schedule stepped twice shows


def _launch(model_dir, data, out: Path, ds: str, grad_accum: int) -> None:
    from tests.grpo.test_distributed import _launch as launch_with

    launch_with(model_dir, data, out, ds, STEPS, 1, [f"grad_accum={grad_accum}", *EXTRA])


def _log(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path).state_dict()


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.mark.slow
def test_grad_accum_makes_one_optimizer_step_per_minibatch_zero2_and_zero3(tiny_model_dir, data_dir, tmp_path):  # noqa: F811
    _skip_without_deepspeed()
    from pipeline.config import load_config
    from pipeline.grpo.config import TrainConfig
    from pipeline.train import run

    cfg = load_config(TrainConfig, REPO / "configs/train_embedded.yaml",
                      [*overrides(tiny_model_dir, STEPS, 1), "grad_accum=2", "mixed_precision=no", *EXTRA],
                      section="train")
    run(cfg, data_dir, tmp_path / "single")
    runs = {"zero2-ga1": ("configs/deepspeed/zero2.json", 1), "zero2-ga2": ("configs/deepspeed/zero2.json", 2),
            "zero3-ga2": ("configs/deepspeed/zero3.json", 2)}
    for name, (ds, ga) in runs.items():
        _launch(tiny_model_dir, data_dir, tmp_path / name, ds, ga)
    single = _log(tmp_path / "single")
    assert [r["optimizer_steps"] for r in single] == list(range(1, STEPS + 1))
    for name in runs:
        log = _log(tmp_path / name)
        assert [r["optimizer_steps"] for r in log] == list(range(1, STEPS + 1)), name
        assert [r["lr"] for r in log] == pytest.approx([r["lr"] for r in single]), name
    base = _weights(tiny_model_dir)
    ref = _weights(tmp_path / "zero2-ga1/checkpoints/step-000001")
    assert _max_diff(ref, base) > 5e-4  # one Adam step of lr 1e-3 moved the weights
    for name in ("zero2-ga2", "zero3-ga2"):
        assert _max_diff(_weights(tmp_path / name / "checkpoints/step-000001"), ref) < 1e-4, name
    final = _weights(tmp_path / "zero3-ga2/model")  # the gathered ZeRO-3 weights load with from_pretrained
    assert _max_diff(final, _weights(tmp_path / "zero2-ga2/model")) < 1e-4
