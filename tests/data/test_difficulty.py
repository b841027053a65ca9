"""Difficulty stage: pass rates through the rollout engine, and resume after a kill without
recomputing finished problems (fast: tiny model + simulated kill; slow: embedded model + SIGKILL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import data.difficulty as difficulty
from data.curate import CurateConfig
from data.curate import run as run_curate
from data.difficulty import DifficultyConfig, load_progress
from data.schema import read_rows_parquet
from data.sources.base import SourceSpec

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    pytest.importorskip("rewards.math")
    out = tmp_path_factory.mktemp("curated") / "curate"
    cfg = CurateConfig(sources=[SourceSpec(kind="procedural", name="arith", options={"task": "arithmetic", "n": 12}),
                                SourceSpec(kind="procedural", name="held", split="eval",
                                           options={"task": "linear", "n": 3, "seed": 9})],
                       verifier_workers=0)
    run_curate(cfg, out)
    return out


class _Killed(BaseException):
    """Stands in for SIGKILL: not an Exception, so nothing in the stage can swallow it."""


class _Counting:
    """Wraps an engine: counts prompts generated, optionally dies after `die_after` calls."""

    def __init__(self, engine, log, die_after=None):
        self.engine, self.log, self.die_after = engine, log, die_after

    def generate(self, prompts, params):
        if self.die_after is not None and len(self.log) >= self.die_after:
            raise _Killed("simulated kill")
        self.log.append(len(prompts))
        return self.engine.generate(prompts, params)


_REAL_MAKE_ENGINE = difficulty.make_engine


def _patch(monkeypatch, log, die_after=None):
    monkeypatch.setattr(difficulty, "make_engine",
                        lambda *a, **k: _Counting(_REAL_MAKE_ENGINE(*a, **k), log, die_after))


def test_resume_after_kill_does_not_recompute_finished_problems(curated, tiny_model_dir, tmp_path, monkeypatch):
    cfg = DifficultyConfig(dataset=str(curated), model=str(tiny_model_dir), k=2, max_new_tokens=4,
                           batch_problems=4, limit=10, template="plain")
    out = tmp_path / "diff"
    first: list[int] = []
    _patch(monkeypatch, first, die_after=2)
    with pytest.raises(_Killed):
        difficulty.run(cfg, out)
    assert first == [4, 4] and not (out / "manifest.json").exists()
    before = (out / difficulty.PROGRESS).read_text()
    assert len(before.splitlines()) == 8
    with open(out / difficulty.PROGRESS, "a") as f:
        f.write('{"id": "torn line from the ki')  # a write cut by the kill
    second: list[int] = []
    _patch(monkeypatch, second)
    m = difficulty.run(cfg, out)
    assert second == [2]  # only the 2 unfinished problems were generated
    assert (m.metrics["resumed_problems"], m.metrics["computed_problems"], m.metrics["estimated"]) == (8, 2, 10)
    assert (out / difficulty.PROGRESS).read_text().startswith(before)
    rows = read_rows_parquet(out / difficulty.DATASET)
    estimated = [r for r in rows if r.difficulty is not None]
    assert len(rows) == 15 and len(estimated) == 10 and all(0 <= r.difficulty <= 1 for r in estimated)
    assert m.metrics["balanced"] and m.metrics["samples"] == 20
    third: list[int] = []
    _patch(monkeypatch, third)
    assert difficulty.run(cfg, out).run_id == m.run_id and third == []  # up to date: nothing generated


def test_filters_always_and_never_solved(curated, tiny_model_dir, tmp_path, monkeypatch):
    cfg = DifficultyConfig(dataset=str(curated), model=str(tiny_model_dir), k=2, max_new_tokens=2,
                           batch_problems=8, limit=4, template="plain", drop_never_solved=True)
    m = difficulty.run(cfg, tmp_path / "diff")
    # a random-weight model never solves arithmetic in 2 tokens: all 4 are dropped as never solved
    assert m.metrics["never_solved"] == 4 and m.metrics["filtered"] == {"never_solved": 4}
    assert m.metrics["rows_out"] == 15 - 4 and m.metrics["balanced"]


def test_load_progress_drops_torn_lines(tmp_path):
    p = tmp_path / "progress.jsonl"
    p.write_text('{"id": "a", "pass_rate": 0.5}\n{"id": "b", "pass')
    assert list(load_progress(p)) == ["a"]
    assert p.read_text() == '{"id": "a", "pass_rate": 0.5}\n'


def test_shipped_difficulty_config_loads():
    from pipeline.config import load_config

    cfg = load_config(DifficultyConfig, REPO / "configs" / "difficulty_embedded.yaml", section="difficulty")
    assert (cfg.model, cfg.k, cfg.limit) == ("embedded", 4, 64)


@pytest.mark.slow
def test_embedded_model_sigkill_midway_then_resume(tmp_path):
    """Real kill: the CLI on the embedded model is SIGKILLed after its first batch, then re-run."""
    env = {**os.environ, "RLVR_CACHE": os.environ.get("RLVR_CACHE", "/tmp/rlvrcache")}
    cur = tmp_path / "cur"
    subprocess.run([sys.executable, "scripts/01_curate.py", "--config", "configs/curate_embedded.yaml", "--out", str(cur)],
                   cwd=REPO, env=env, check=True, capture_output=True)
    cmd = [sys.executable, "scripts/02_difficulty.py", "--config", "configs/difficulty_embedded.yaml",
           "--out", str(tmp_path / "diff"), f"dataset={cur}", "limit=8", "batch_problems=2", "k=2", "max_new_tokens=16"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    progress = tmp_path / "diff" / "progress.jsonl"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if progress.exists() and len(progress.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(load_progress(progress))
    assert 2 <= done_before < 8, "kill must land midway"
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=True)
    m = json.loads((tmp_path / "diff" / "manifest.json").read_text())["metrics"]
    assert (m["resumed_problems"], m["computed_problems"]) == (done_before, 8 - done_before), res.stdout


def test_row_verifier_options_change_the_pass_rate():
    """Difficulty is estimated on the verdicts training uses: a row's `require_evaluated` (procedural rows set it)
    turns the restated problem `$18 - 14$` for gold 4 from a pass into a fail (it was ignored here before)."""
    from data.schema import Row
    from pipeline.rollout.base import Completion
    from rewards.scorer import Scorer

    class Replay:  # the completions a policy gave, replayed: the scorer is under test, not sampling
        def generate(self, prompts, params):
            return [[Completion("The answer is $18 - 14$.", [1], "stop"), Completion("$18 - 14 = 4$", [1], "stop")]
                    for _ in prompts]

    class Tok:
        def apply_chat_template(self, messages, **kw):
            return messages[-1]["content"]

    plain = Row("a", "What is 18 - 14?", "math", "4", "t")
    strict = Row("b", "What is 18 - 14?", "math", "4", "t", metadata={"verifier_options": {"require_evaluated": True}})
    cfg = DifficultyConfig(k=2)
    with Scorer(workers=0) as scorer:
        recs = difficulty.estimate_batch(Replay(), Tok(), [plain, strict], cfg, scorer, batch=0)
    assert [r["pass_rate"] for r in recs] == [1.0, 0.5]
    assert recs[1]["reasons"] == ["unevaluated", "ok"]
