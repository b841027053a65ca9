"""Training on code rows and on math + code rows together (issue 15): each row is asked with its verifier's
template, scored by its own verifier (the real sandbox for code), and the metrics report accuracy per verifier
and the code failure / reward-hack signals. The trainer runs on the tiny model; the completions it scores are
scripted per group member (a wrapper around the real Scorer), so every reward is forced, not hoped for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from data.schema import Row
from rewards.scorer import RewardSpec, Scorer
from tests.grpo import test_trainer_behaviour as behaviour
from tests.grpo.test_trainer_behaviour import G, record_update

ADD = {"entry_point": "add_3", "tests": [{"call": f"candidate({x})", "expected": str(x + 3)} for x in (1, 5, -2, 10)]}
CODE = {  # member -> completion; pass fractions 1, 0.5 (1 and 5 only: x < 6), 0 (exits first), 0 (no code)
    0: "```python\ndef add_3(x):\n    return x + 3\n```",
    1: "```python\ndef add_3(x):\n    return x + 3 if x > 0 and x < 6 else 0\n```",
    2: "```python\nimport sys\nsys.exit(0)\ndef add_3(x):\n    return x + 3\n```",
    3: "I cannot write code.",
}
MATH = {0: "\\boxed{4}", 1: "\\boxed{5}", 2: "\\boxed{4}", 3: "no answer"}  # gold 4: right, wrong, right, none


def rows() -> list[Row]:
    return [Row("m0", "What is 2 + 2?", "math", "4", "t"), Row("c0", "Write a Python function `add_3(x)`.", "code",
                                                                 ADD, "t", metadata={"level": 1})]


class ScriptedTexts:
    """The real Scorer (real math verifier, real sandbox) scoring scripted completions: member j of a math group
    answers MATH[j], of a code group CODE[j]; the texts the trainer sampled are replaced before scoring."""

    def __init__(self):
        self.inner = Scorer([RewardSpec()], workers=1, deadline_s=30.0)

    def score(self, rows, texts, lengths=None):
        scripted = [(CODE if r.verifier == "code" else MATH)[i % G] for i, r in enumerate(rows)]
        return self.inner.score(rows, scripted, lengths)

    def close(self):
        self.inner.close()


def make_trainer(tiny_model_dir, tmp_path, scorer, **changes):
    return behaviour.make_trainer(tiny_model_dir, tmp_path, scorer, rows=rows(), total_steps=1, **changes)


@pytest.fixture
def scorer():
    s = ScriptedTexts()
    yield s
    s.close()


def test_mixed_step_scores_each_row_with_its_own_verifier(tiny_model_dir, tmp_path, scorer, monkeypatch):
    trainer = make_trainer(tiny_model_dir, tmp_path, scorer)
    prompts: list[str] = []
    real_encode = trainer.engine.encode_prompts
    monkeypatch.setattr(trainer.engine, "encode_prompts", lambda ps: prompts.extend(ps) or real_encode(ps))
    calls = record_update(monkeypatch, trainer)
    before = {k: v.clone() for k, v in trainer._unwrapped().named_parameters()}
    m = trainer.train_step(1)
    by_verifier = {s.row.verifier: [] for s in calls[0]["flat"]}
    for s in calls[0]["flat"]:
        by_verifier[s.row.verifier].append(s)
    # rewards: the sandbox's pass fraction for code, the math verifier's verdict for math
    assert [s.reward for s in by_verifier["code"]] == [1.0, 0.5, 0.0, 0.0]
    assert [s.reward for s in by_verifier["math"]] == [1.0, 0.0, 1.0, 0.0]
    assert m["accuracy/code"] == 0.25 and m["accuracy/math"] == 0.5 and m["accuracy"] == 3 / 8
    # code signals: member 2 exits before the tests, member 3 wrote no code; tests passed 1 + 0.5 of 4 rows
    assert m["code/exit_before_tests"] == 0.25 and m["code/no_code"] == 0.25 and m["code/all_passed"] == 0.25
    assert m["code/partial"] == 0.25 and m["code/tests_passed_frac"] == pytest.approx(1.5 / 4)
    reasons = {k.split("/")[-1]: v for k, v in m.items() if k.startswith("reason/outcome/")}
    assert reasons == {"ok": 3, "wrong": 1, "wrong_answer": 1, "runtime_error": 1, "compile_error": 1, "no_answer": 1}
    # each prompt was asked with its verifier's template
    code_p = [p for p in prompts if "add_3" in p]
    math_p = [p for p in prompts if "2 + 2" in p]
    assert code_p and math_p
    assert all("Python" in p and "boxed" not in p for p in code_p)
    assert all("boxed" in p and "Python" not in p for p in math_p)
    # the sandbox's rewards reached the update: the passing code completion has the largest code advantage
    adv = calls[0]["adv"]
    code_idx = [i for i, s in enumerate(calls[0]["flat"]) if s.row.verifier == "code"]
    assert max(code_idx, key=lambda i: float(adv[i])) == code_idx[0]
    after = dict(trainer._unwrapped().named_parameters())
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_templates_empty_asks_every_row_with_the_run_template(tiny_model_dir, tmp_path, scorer, monkeypatch):
    trainer = make_trainer(tiny_model_dir, tmp_path, scorer, templates={})
    prompts: list[str] = []
    real_encode = trainer.engine.encode_prompts
    monkeypatch.setattr(trainer.engine, "encode_prompts", lambda ps: prompts.extend(ps) or real_encode(ps))
    trainer.train_step(1)
    assert prompts and all("boxed" in p for p in prompts)


def test_train_stage_on_code_rows_records_the_sandbox(tiny_model_dir, tmp_path):
    """The stage script path: a curated procedural_code dataset trains, and the manifest says how code ran."""
    from data.curate import CurateConfig, run as curate
    from data.sources.base import SourceSpec
    from pipeline.config import load_config
    from pipeline.grpo.config import TrainConfig
    from pipeline.train import run as train

    repo = Path(__file__).resolve().parents[2]
    ccfg = CurateConfig(sources=[SourceSpec("procedural_code", options={"n": 12, "seed": 0, "levels": [1, 2]}),
                                 SourceSpec("procedural", options={"task": "arithmetic", "n": 12, "levels": [1]})],
                        verifier_workers=1)
    ccfg.validate()
    curated = curate(ccfg, tmp_path / "curate")
    assert curated.metrics["kept"] == 24, curated.metrics
    cfg = load_config(TrainConfig, repo / "configs/train_embedded.yaml",
                      [f"model={tiny_model_dir}", "total_steps=1", "prompts_per_step=4", "group_size=2",
                       "max_new_tokens=8", "max_minutes=null", "checkpoint_every=0", "verifier_workers=2",
                       "curriculum={bucket_by: none}"], section="train")
    m = train(cfg, tmp_path / "curate", tmp_path / "train")
    assert m.metrics["train_rows_by_verifier"] == {"code": 12, "math": 12}
    assert m.metrics["sandbox_mode"] not in ("", "refused")
    line = json.loads((tmp_path / "train/metrics.jsonl").read_text().splitlines()[0])
    assert {"accuracy/code", "accuracy/math", "code/no_code", "code/exit_before_tests"} <= set(line)


@pytest.mark.parametrize("section", ["train", "difficulty", "eval"])
def test_an_unknown_template_in_templates_is_a_config_error(section):
    from data.difficulty import DifficultyConfig
    from eval.config import EvalConfig
    from pipeline.config import ConfigError
    from pipeline.grpo.config import TrainConfig

    cfg = {"train": lambda: TrainConfig(templates={"code": "nope"}),
           "difficulty": lambda: DifficultyConfig(dataset="x", templates={"code": "nope"}),
           "eval": lambda: EvalConfig(templates={"code": "nope"})}[section]()
    with pytest.raises(ConfigError, match=r"templates\.code: 'nope' is not a prompt template"):
        cfg.validate()


@pytest.mark.parametrize("section", ["train", "difficulty", "eval"])
@pytest.mark.parametrize("stop", [[""], "\n```\n", [3]], ids=["empty-string", "not-a-list", "not-a-string"])
def test_a_bad_stop_list_is_a_config_error(section, stop):
    from data.difficulty import DifficultyConfig
    from eval.config import EvalConfig
    from pipeline.config import ConfigError
    from pipeline.grpo.config import TrainConfig

    cfg = {"train": lambda: TrainConfig(stop=stop), "difficulty": lambda: DifficultyConfig(dataset="x", stop=stop),
           "eval": lambda: EvalConfig(stop=stop)}[section]()
    with pytest.raises(ConfigError, match="stop: must be a list of non-empty strings"):
        cfg.validate()


def test_eval_sampling_params_carry_the_stop_strings():
    from eval.config import EvalConfig
    from eval.samples import sampling_params

    for protocol in ("sample", "greedy"):
        cfg = EvalConfig(stop=["\n```\n"], protocol=protocol)
        assert sampling_params(cfg, seed=0).stop == ["\n```\n"]


def test_accuracy_per_source_level():
    from types import SimpleNamespace

    from pipeline.grpo.samples import Sample, verifier_metrics

    def sample(level, correct):
        row = SimpleNamespace(verifier="math", metadata={} if level is None else {"level": level}, gold="1")
        return Sample(row=row, prompt_ids=[1], ids=[2], text="", finish="stop", temp=1.0, correct=correct)

    flat = [sample(1, True), sample(1, True), sample(1, False), sample(2, False), sample(2, True), sample(None, True)]
    m = verifier_metrics(flat)
    assert m["accuracy/level=1"] == pytest.approx(2 / 3) and m["accuracy/level=2"] == 0.5
    assert m["accuracy/math"] == pytest.approx(4 / 6) and "accuracy/level=None" not in m
