"""Two CPU processes under accelerate + DeepSpeed ZeRO-2 (gloo) train the tiny model through the real entry point."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.grpo.test_train_stage import REPO, data_dir, overrides  # noqa: F401  (fixture re-export)


@pytest.mark.slow
@pytest.mark.parametrize("ds_config", ["configs/deepspeed/zero2.json"], ids=["zero2"])
def test_two_process_deepspeed_cpu(tiny_model_dir, data_dir, tmp_path, ds_config):  # noqa: F811
    pytest.importorskip("deepspeed")
    if shutil.which("accelerate") is None and not (Path(sys.executable).parent / "accelerate").exists():
        pytest.skip("accelerate CLI not installed")
    launcher = str(Path(sys.executable).parent / "accelerate")
    env = {**os.environ, "PYTHONPATH": str(REPO), "DS_ACCELERATOR": "cpu", "ACCELERATE_USE_CPU": "1",
           "OMP_NUM_THREADS": "1", "CCL_WORKER_COUNT": "1"}
    cmd = [launcher, "launch", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--use_deepspeed", "--deepspeed_config_file", str(REPO / ds_config),
           str(REPO / "scripts/03_train.py"), "--config", str(REPO / "configs/train_embedded.yaml"),
           "--data", str(data_dir), "--out", str(tmp_path / "train"),
           *overrides(tiny_model_dir, 2, 1), f"deepspeed={REPO / ds_config}", "num_threads=1"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert res.returncode == 0, (res.stdout[-3000:], res.stderr[-5000:])
    assert "deepspeed" in (res.stdout + res.stderr).lower()  # the engine really came up
    from pipeline.manifest import load_manifest

    m = load_manifest(tmp_path / "train")
    assert m.metrics["steps"] == 2
    assert (tmp_path / "train/model/config.json").exists()
