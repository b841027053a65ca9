"""Every shipped training recipe runs one step here, through the real entry point.

Each `configs/*.yaml` with a `train:` section is loaded as shipped; then the embedded model, `device=cpu` and
tiny sizes are swapped in (1 prompt per process x 2 completions, 8 new tokens, one step). The recipe keeps its
rollout engine (vLLM's CPU build where it names vLLM), its DeepSpeed stage (2 CPU ranks through `accelerate
launch`), its dtype, KL, template, rewards and curriculum. `grad_accum` > 1 stays > 1 (2 micro-batches), so
accumulation under the recipe's ZeRO stage is exercised too: exactly one optimizer step must be logged.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import load_config, load_yaml
from pipeline.grpo.config import TrainConfig
from tests.grpo.test_train_stage import data_dir  # noqa: F401  (fixture re-export)

REPO = Path(__file__).resolve().parent.parent
RECIPES = [p for p in sorted((REPO / "configs").glob("*.yaml")) if "train" in load_yaml(p)]
# A recipe that cannot run on this CPU says why here, in one line (none today).
CANNOT_RUN_ON_CPU: dict[str, str] = {}


def _tiny(cfg: TrainConfig, world: int) -> list[str]:
    per_rank = world * 2 // world  # completions per process in the one minibatch
    out = ["model=embedded", "device=cpu", f"prompts_per_step={world}", "group_size=2", "max_new_tokens=8",
           "minibatch_size=null", f"grad_accum={per_rank if cfg.grad_accum > 1 else 1}", "total_steps=1",
           "checkpoint_every=0", "max_minutes=null", "verifier_workers=1", "samples_every=0"]
    if cfg.engine == "vllm":
        out += ["vllm.max_model_len=512", "vllm.kv_cache_gb=1", "vllm.enforce_eager=true"]
    return out


def test_every_training_recipe_is_listed():
    names = {p.name for p in RECIPES}
    assert {"train_embedded.yaml", "r1zero_qwen2.5_0.5b.yaml", "drgrpo_qwen2.5_math_7b.yaml"} <= names
    assert set(CANNOT_RUN_ON_CPU) <= names


@pytest.mark.slow
@pytest.mark.parametrize("recipe", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_runs_one_step_on_cpu(recipe, data_dir, tmp_path):  # noqa: F811
    if recipe.name in CANNOT_RUN_ON_CPU:
        pytest.skip(CANNOT_RUN_ON_CPU[recipe.name])
    shipped = load_config(TrainConfig, recipe, section="train")
    if shipped.engine == "vllm":
        pytest.importorskip("vllm", reason="vLLM is not installed (bash scripts/setup.sh installs its CPU build)")
    world = 2 if shipped.deepspeed else 1
    out = tmp_path / "train"
    cmd = [str(REPO / "scripts/03_train.py"), "--config", str(recipe), "--data", str(data_dir), "--out", str(out),
           *_tiny(shipped, world)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "DS_ACCELERATOR": "cpu"}
    env.pop("ACCELERATE_USE_CPU", None)
    if shipped.deepspeed:
        ds = str(REPO / shipped.deepspeed)
        cmd = [str(Path(sys.executable).parent / "accelerate"), "launch", "--num_processes", "2", "--num_machines",
               "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--use_deepspeed",
               "--deepspeed_config_file", ds, *cmd, f"deepspeed={ds}"]
    else:
        cmd = [sys.executable, *cmd]
    res = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, (res.stdout[-3000:], res.stderr[-6000:])
    from pipeline.manifest import load_manifest

    m = load_manifest(out)
    assert m.metrics["steps"] == 1 and m.config["engine"] == shipped.engine
    assert m.config["deepspeed"] == (ds if shipped.deepspeed else None)
    log = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["optimizer_steps"] for r in log] == [1]
    assert (out / "model/config.json").exists()
