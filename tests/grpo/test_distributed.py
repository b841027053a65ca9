"""Two CPU processes under accelerate + DeepSpeed ZeRO-2 (gloo) train the tiny model through the real entry point;
a run stopped after a checkpoint and resumed (partitioned optimizer state restored from the checkpoint's
deepspeed/ directory) logs the same steps as an uninterrupted run."""

import contextlib
import os
import signal
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.grpo.test_train_stage import REPO, _metrics, data_dir, overrides  # noqa: F401  (fixture re-export)


def _launch_cmd(tiny_model_dir, data_dir, out: Path, ds_config: str, steps: int, ckpt_every: int,
                extra: list[str] = ()):
    launcher = str(Path(sys.executable).parent / "accelerate")
    env = {**os.environ, "PYTHONPATH": str(REPO), "DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": "1",
           "CCL_WORKER_COUNT": "1"}
    env.pop("ACCELERATE_USE_CPU", None)  # it would make accelerate drop DeepSpeed for plain multi-CPU DDP
    cmd = [launcher, "launch", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--use_deepspeed", "--deepspeed_config_file", str(REPO / ds_config),
           str(REPO / "scripts/03_train.py"), "--config", str(REPO / "configs/train_embedded.yaml"),
           "--data", str(data_dir), "--out", str(out),
           *overrides(tiny_model_dir, steps, ckpt_every), f"deepspeed={REPO / ds_config}", "num_threads=1",
           "mixed_precision=no", *extra]
    return cmd, env


def _launch(*args) -> str:
    cmd, env = _launch_cmd(*args)
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert res.returncode == 0, (res.stdout[-3000:], res.stderr[-5000:])
    return res.stdout + res.stderr


def _skip_without_deepspeed():
    pytest.importorskip("deepspeed")
    if shutil.which("accelerate") is None and not (Path(sys.executable).parent / "accelerate").exists():
        pytest.skip("accelerate CLI not installed")


@pytest.mark.slow
@pytest.mark.parametrize("ds_config", ["configs/deepspeed/zero2.json"], ids=["zero2"])
def test_two_process_deepspeed_cpu(tiny_model_dir, data_dir, tmp_path, ds_config):  # noqa: F811
    _skip_without_deepspeed()
    log = _launch(tiny_model_dir, data_dir, tmp_path / "train", ds_config, 2, 1)
    assert "deepspeed" in log.lower()  # the engine really came up
    from pipeline.manifest import load_manifest

    m = load_manifest(tmp_path / "train")
    assert m.metrics["steps"] == 2
    assert (tmp_path / "train/model/config.json").exists()
    ckpt = tmp_path / "train/checkpoints/step-000002"
    shards = list((ckpt / "deepspeed").rglob("*optim_states.pt"))
    assert len(shards) == 2, sorted(str(p.relative_to(ckpt)) for p in ckpt.rglob("*"))  # one ZeRO shard per rank


@pytest.mark.slow
@pytest.mark.parametrize("ds", ["configs/deepspeed/zero2.json", "configs/deepspeed/zero3.json"],
                         ids=["zero2", "zero3"])
def test_deepspeed_kill_and_resume_matches_uninterrupted(tiny_model_dir, data_dir, tmp_path, ds):  # noqa: F811
    _skip_without_deepspeed()
    steps = 12
    _launch(tiny_model_dir, data_dir, tmp_path / "ref", ds, steps, 2)
    out = tmp_path / "killed"
    cmd, env = _launch_cmd(tiny_model_dir, data_dir, out, ds, steps, 2)
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 600
    while not (out / "checkpoints/step-000002/COMPLETE").exists():
        assert proc.poll() is None and time.time() < deadline, "run ended before its first checkpoint"
        time.sleep(0.01)
    # torch's launcher starts each rank in its own session: kill -9 the launcher and every descendant
    import psutil

    victims = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 30
    def alive(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    while any(alive(p) for p in victims[1:]):
        assert time.time() < deadline, "ranks survived SIGKILL"
        time.sleep(0.05)
    assert not (out / "manifest.json").exists(), "the run finished before the kill; raise `steps`"
    log = _launch(tiny_model_dir, data_dir, out, ds, steps, 2)
    assert "resumed from" in log
    got, want = _metrics(out / "metrics.jsonl"), _metrics(tmp_path / "ref/metrics.jsonl")
    assert [r["step"] for r in got] == list(range(1, steps + 1))
    assert got == want  # the Adam moments came back: the steps after the resume equal the uninterrupted run's


@pytest.mark.parametrize("change, message", [
    ({"beta": 0.04}, "ZeRO-3 with beta > 0 is not supported"),
    ({"lora": {"enabled": True}}, "LoRA with ZeRO-3 is not supported"),
], ids=["reference-model", "lora"])
def test_zero3_refusals_are_one_clear_line(change, message):
    from pipeline.config import ConfigError, from_dict
    from pipeline.grpo.config import TrainConfig
    from pipeline.grpo.distributed import make_accelerator

    cfg = from_dict(TrainConfig, {"deepspeed": str(REPO / "configs/deepspeed/zero3.json"), **change})
    with pytest.raises(ConfigError, match=message):
        make_accelerator(cfg)


def test_bf16_master_with_deepspeed_is_refused():
    from pipeline.config import ConfigError, from_dict
    from pipeline.grpo.config import TrainConfig

    with pytest.raises(ConfigError, match="bf16_master is not for DeepSpeed"):
        from_dict(TrainConfig, {"deepspeed": str(REPO / "configs/deepspeed/zero3.json"),
                               "mixed_precision": "bf16_master"})


def test_deepspeed_launch_without_a_deepspeed_config_is_refused(monkeypatch):
    from pipeline.config import ConfigError
    from pipeline.grpo.config import TrainConfig
    from pipeline.grpo.distributed import make_accelerator

    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")  # what `accelerate launch --use_deepspeed` sets
    with pytest.raises(ConfigError, match="train config has no deepspeed: key"):
        make_accelerator(TrainConfig())


def test_checkpoint_missing_a_ranks_shard_is_refused(tmp_path):
    """A machine whose --out is not shared leaves its ZeRO shard on its own disk: no COMPLETE without it."""
    from pipeline.grpo.backend import AccelerateBackend

    backend = AccelerateBackend.__new__(AccelerateBackend)  # only the fields check_engine reads
    backend.deepspeed, backend.world = True, 2
    shard_dir = tmp_path / "deepspeed/pytorch_model"
    shard_dir.mkdir(parents=True)
    (shard_dir / "bf16_zero_pp_rank_0_mp_rank_00_optim_states.pt").write_bytes(b"x")
    with pytest.raises(RuntimeError, match="holds 1 of 2 ranks' ZeRO optimizer shards"):
        backend.check_engine(tmp_path)
    (shard_dir / "bf16_zero_pp_rank_1_mp_rank_00_optim_states.pt").write_bytes(b"x")
    backend.check_engine(tmp_path)


def test_plain_ddp_backend_restores_its_step_count(tmp_path):
    """The accelerate backend without DeepSpeed (plain DDP) restores optimizer state and step count on resume
    (its step count was a read-only property that resume tried to assign)."""
    import torch

    from pipeline.grpo.backend import AccelerateBackend

    p = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.AdamW([p])
    p.grad = torch.ones(2)
    opt.step()
    backend = AccelerateBackend.__new__(AccelerateBackend)  # only the fields load/state read
    backend.deepspeed, backend.optimizer, backend._steps = False, torch.optim.AdamW([p]), 0
    backend.load(tmp_path, {"optimizer": opt.state_dict(), "optimizer_steps": 7})
    assert backend.optimizer_steps == 7 and backend.state()["optimizer_steps"] == 7
    assert backend.optimizer.state_dict()["state"][0]["step"] == 1
