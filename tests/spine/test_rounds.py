"""Iterative GRPO rounds in run_all: the plan (order, round directories, `{name}` = newest output, next-round
arguments, a kept reference), config validation, training-stage directories as models, and (slow) a real
2-round run on the tiny model that is killed in round 2, resumes, and shows both rounds in `status`."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import ConfigError
from pipeline.run_all import RoundsConfig, RunAllConfig, StageEntry, commands
from pipeline.stage import StageResult, run_stage
from tests.grpo.test_train_stage import data_dir, kill_at  # noqa: F401  (data_dir: fixture re-export)

REPO = Path(__file__).resolve().parents[2]


def _cfg(count=2, repeat=("difficulty", "train"), reset_reference=True) -> RunAllConfig:
    cfg = RunAllConfig(run_dir="unused", stages=[
        StageEntry("curate", "scripts/01_curate.py", ["--config", "c.yaml"]),
        StageEntry("difficulty", "scripts/02_difficulty.py", ["dataset={curate}"]),
        StageEntry("train", "scripts/03_train.py", ["--data", "{difficulty}"]),
        StageEntry("evaluate", "scripts/04_evaluate.py", ["trained={train}"]),
    ], rounds=RoundsConfig(count=count, repeat=list(repeat), reset_reference=reset_reference,
                           next_round_args={"difficulty": ["model={train}"], "train": ["model={train}"]}))
    cfg.validate()
    return cfg


def _plan(cfg, run_dir):
    return [(s.name, r, [a.replace(str(run_dir) + "/", "") for a in cmd[2:]]) for s, r, cmd in commands(cfg, run_dir)]


def test_two_rounds_run_in_order_each_from_the_newest_policy(tmp_path):
    assert _plan(_cfg(), tmp_path) == [
        ("curate", 0, ["--config", "c.yaml", "--out", "curate"]),
        ("difficulty", 1, ["dataset=curate", "--out", "round1/difficulty"]),
        ("train", 1, ["--data", "round1/difficulty", "--out", "round1/train"]),
        ("difficulty", 2, ["dataset=curate", "model=round1/train", "--out", "round2/difficulty"]),
        ("train", 2, ["--data", "round2/difficulty", "model=round1/train", "--out", "round2/train"]),
        ("evaluate", 0, ["trained=round2/train", "--out", "evaluate"]),
    ]


def test_one_round_keeps_the_flat_layout(tmp_path):
    outs = [cmd[-1] for _, _, cmd in commands(_cfg(count=1), tmp_path)]
    assert outs == [str(tmp_path / n) for n in ("curate", "difficulty", "train", "evaluate")]


def test_a_kept_reference_is_round_ones_starting_model(tmp_path):
    run_stage("train", tmp_path / "round1/train", {"model": "embedded", "lr": 1e-6},
              lambda ctx: StageResult({}))
    train2 = [cmd for s, r, cmd in commands(_cfg(reset_reference=False), tmp_path) if (s.name, r) == ("train", 2)]
    assert train2 and "ref_model=embedded" in train2[0] and f"model={tmp_path}/round1/train" in train2[0]
    reset = [cmd for s, r, cmd in commands(_cfg(), tmp_path) if (s.name, r) == ("train", 2)]
    assert not any(a.startswith("ref_model=") for a in reset[0])


@pytest.mark.parametrize("change, message", [
    (dict(count=0), "rounds.count: must be >= 1"),
    (dict(repeat=[]), "rounds.repeat: name the stages"),
    (dict(repeat=["difficulty", "evaluate"]), "must be consecutive stages"),
    (dict(repeat=["train", "difficulty"]), "must be consecutive stages"),
    (dict(repeat=["difficulty", "trian"]), "'trian' is not a stage name"),
], ids=["zero", "nothing-repeated", "gap", "reversed", "typo"])
def test_bad_rounds_are_config_errors(change, message):
    cfg = _cfg()
    for k, v in change.items():
        setattr(cfg.rounds, k, v)
    with pytest.raises(ConfigError, match=message):
        cfg.validate()


def test_a_training_stage_directory_names_its_final_model(tiny_model_dir, tmp_path):
    import shutil

    from pipeline.models import policy_input, resolve_model

    def body(ctx):
        shutil.copytree(tiny_model_dir, ctx.out_dir / "model")
        return StageResult({"model": None}, {"final_model": "model"})

    run_stage("train", tmp_path / "train", {"x": 1}, body)
    assert resolve_model(str(tmp_path / "train")) == str((tmp_path / "train/model").resolve())
    assert policy_input(str(tmp_path / "train")) == {"policy": str(tmp_path / "train")}
    assert policy_input(str(tiny_model_dir)) == {}  # a plain model directory is not a stage
    (tmp_path / "train/model/config.json").write_text("{}")  # tampered: the manifest no longer matches
    from pipeline.manifest import ManifestError

    with pytest.raises(ManifestError):
        resolve_model(str(tmp_path / "train"))


# -- a real 2-round run on the tiny model, killed in round 2 ---------------------------------------
def _write_configs(tmp_path: Path, model: Path, data: Path) -> Path:
    (tmp_path / "difficulty.yaml").write_text(
        f"difficulty:\n  dataset: {data}\n  model: {model}\n  k: 2\n  max_new_tokens: 8\n  batch_problems: 4\n"
        "  verifier_workers: 1\n  temperature: 1.0\n")
    (tmp_path / "train.yaml").write_text(
        f"train:\n  model: {model}\n  prompts_per_step: 2\n  group_size: 4\n  max_new_tokens: 8\n  lr: 0.001\n"
        "  total_steps: 8\n  checkpoint_every: 2\n  verifier_workers: 1\n  samples_every: 0\n  warmup_steps: 1\n"
        "  reward_plugins: [tests.grpo.toy_rewards]\n  rewards: [{verifier: toy_parity, weight: 1.0}]\n"
        "  curriculum: {bucket_by: difficulty, schedule: uniform}\n  freeze_embeddings: false\n"
        "  mixed_precision: 'no'\n")
    cfg = tmp_path / "rounds.yaml"
    cfg.write_text(
        f"run_dir: {tmp_path / 'run'}\n"
        "rounds: {count: 2, repeat: [difficulty, train], "
        "next_round_args: {difficulty: ['model={train}'], train: ['model={train}']}}\n"
        "stages:\n"
        f"  - {{name: difficulty, script: scripts/02_difficulty.py, args: [--config, {tmp_path}/difficulty.yaml]}}\n"
        f"  - {{name: train, script: scripts/03_train.py, args: [--config, {tmp_path}/train.yaml, --data, "
        "'{difficulty}']}\n")
    return cfg


@pytest.mark.slow
def test_two_rounds_finish_after_a_kill_in_round_two(tiny_model_dir, data_dir, tmp_path):  # noqa: F811
    from pipeline.manifest import load_manifest
    from pipeline.status import status

    cfg = _write_configs(tmp_path, tiny_model_dir, data_dir)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(REPO / "scripts/run_all.py"), "--config", str(cfg)]
    run = tmp_path / "run"
    kill_at(cmd, env, run / "round2/train/checkpoints/step-000002/COMPLETE", 400,
            "run ended before round 2's first checkpoint")
    assert not (run / "round2/train/manifest.json").exists(), "round 2 finished before the kill"
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = res.stdout + res.stderr
    assert out.count("up to date") == 3  # round 1 and round 2's difficulty are not redone
    assert "resumed from" in out
    r1, r2 = load_manifest(run / "round1/train"), load_manifest(run / "round2/train")
    assert r2.metrics["resumed_from_step"] >= 2 and r2.metrics["steps"] == 8
    assert {i.name: i.stage for i in r2.inputs} == {"dataset": "difficulty", "policy": "train"}
    assert Path(next(i.path for i in r2.inputs if i.name == "policy")).parent == (run / "round1/train").resolve()
    assert r2.config["model"] == str(run / "round1/train") and r1.config["model"] == str(tiny_model_dir)
    d2 = load_manifest(run / "round2/difficulty")
    assert {i.name for i in d2.inputs} == {"dataset", "policy"}
    buf = io.StringIO()
    assert status(run, out=buf) == 0
    lines = [line.split()[:2] for line in buf.getvalue().splitlines() if not line.startswith(" ")]
    assert lines == [["difficulty", "round1/difficulty"], ["train", "round1/train"],
                     ["difficulty", "round2/difficulty"], ["train", "round2/train"]]
