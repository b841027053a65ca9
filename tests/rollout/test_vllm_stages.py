"""The stages with `engine=vllm`, run as the user runs them (the stage scripts, in a subprocess each) on the
embedded model: a few training steps, an evaluation, a difficulty estimate. Each must exit 0 and record vLLM in its
manifest. On a CPU machine this is vLLM's CPU build. Skipped, with the reason, when vLLM is not installed.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # vLLM engine starts (~10 s each): run by scripts/test.sh / CI, not the default pytest


@pytest.fixture(autouse=True, scope="module")
def _needs_vllm():
    """Skip when vLLM is missing; imported here, not at collection (importing it costs seconds even when the
    default run deselects these tests)."""
    pytest.importorskip("vllm", reason="vLLM is not installed (bash scripts/setup.sh installs its CPU build)")

from pipeline.manifest import load_manifest  # noqa: E402
from tests.data.test_difficulty import curated  # noqa: E402,F401  (fixture re-export)
from tests.grpo.test_train_stage import data_dir  # noqa: E402,F401  (fixture re-export)

REPO = Path(__file__).resolve().parents[2]
VLLM_SMALL = ["vllm.max_model_len=512", "vllm.kv_cache_gb=0.5"]


def run_script(script: str, *args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **(env_extra or {})}
    res = subprocess.run([sys.executable, str(REPO / "scripts" / script), *args], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, (res.stdout[-3000:], res.stderr[-6000:])
    return res


def test_training_steps_with_vllm(data_dir, tmp_path):  # noqa: F811
    """Two GRPO steps of the embedded recipe (vLLM samples from the policy, or its bf16 copy under bf16_master, synced
    each step), with the toy parity reward so that groups have non-zero advantages and the update (and its TIS
    weights) runs."""
    out = tmp_path / "train"
    run_script("03_train.py", "--config", str(REPO / "configs/train_embedded.yaml"), "--data", str(data_dir),
               "--out", str(out), "model=embedded", "engine=vllm", "device=cpu", "total_steps=2",
               "prompts_per_step=2", "group_size=4", "max_new_tokens=16", "dynamic_sampling=false",
               "reward_plugins=[tests.grpo.toy_rewards]", "rewards=[{verifier: toy_parity, weight: 1.0}]",
               "checkpoint_every=0", "max_minutes=null", "samples_every=0", "verifier_workers=1",
               *VLLM_SMALL)
    m = load_manifest(out)
    assert m.metrics["steps"] == 2 and m.config["engine"] == "vllm" and m.config["vllm"]["kv_cache_gb"] == 0.5
    log = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2]
    # the sampler's log-probs (vLLM, bf16) agree with the trainer's: importance weights near 1
    assert all(0.5 < r["tis/weight_mean"] <= 2.0 for r in log), log
    assert (out / "model/config.json").exists()


def test_evaluation_with_vllm(benchmark_dir, tmp_path):
    out = tmp_path / "eval"
    run_script("04_evaluate.py", "--config", str(REPO / "configs/eval_demo.yaml"), "--out", str(out),
               "engine=vllm", "benchmarks=[gsm8k]", "limits={gsm8k: 2}", "n=1", "k=[1]", "max_new_tokens=16",
               "verifier_workers=1", *VLLM_SMALL, env_extra={"RLVR_DATA_DIR": str(benchmark_dir)})
    m = load_manifest(out)
    assert m.config["engine"] == "vllm" and m.config["vllm"]["gpu_memory_utilization"] == 0.85
    rows = [json.loads(x) for x in (out / "samples/base/gsm8k.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(isinstance(r["completion"], str) for r in rows)


def test_difficulty_with_vllm(curated, tmp_path):  # noqa: F811
    out = tmp_path / "difficulty"
    res = run_script("02_difficulty.py", "--config", str(REPO / "configs/difficulty_embedded.yaml"), "--out",
                     str(out), f"dataset={curated}", "engine=vllm", "k=2", "limit=3", "max_new_tokens=16", *VLLM_SMALL)
    m = load_manifest(out)
    assert m.config["engine"] == "vllm" and m.metrics["estimated"] == 3, res.stdout
