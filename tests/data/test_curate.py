"""The curation stage end to end on planted data: every bad line, duplicate and contaminant is
caught, reported with where it came from, and the row accounting balances."""

from __future__ import annotations

import json

import pytest

from data.curate import CurateConfig, run
from data.dedup import DedupConfig
from data.schema import read_rows_parquet
from data.sources.base import SourceSpec
from pipeline.config import ConfigError, from_dict
from pipeline.manifest import load_manifest

BENCH_ITEM = ("Let $f(x) = 3x^2 - 5$. What is the value of $f(f(1))$ when the function is applied to its own "
              "output one more time?")
GOOD = [
    "Tom has 3 red apples and 4 green apples. How many apples does Tom have?",
    "A freight train travels at a steady 60 miles per hour for 3 hours across the plains before it stops at the "
    "station in the next town. How far does it travel in that time?",
    "Sara reads 12 pages a day for 5 days. How many pages does she read?",
    "What is the sum of the interior angles of a pentagon, in degrees?",
]


def _write_train(path):
    lines = [json.dumps({"id": f"g{i}", "problem": p, "answer": str(10 + i)}) for i, p in enumerate(GOOD)]
    lines += [
        '{"id": "broken", "problem": "unterminated',                                                # line 5
        json.dumps({"id": "noans", "problem": "Where is the answer?"}),                              # line 6
        json.dumps({"id": "badgold", "problem": "Compute something.", "answer": "\\frac{"}),         # line 7
        json.dumps({"id": "dup_exact", "problem": GOOD[0].upper(), "answer": "7"}),                 # line 8
        json.dumps({"id": "dup_near", "problem": GOOD[1].replace("freight", "cargo").replace("travel in", "go in"), "answer": "180"}),
        json.dumps({"id": "contam", "problem": "Suppose " + BENCH_ITEM.replace("What is", "Find"), "answer": "7"}),
        json.dumps({"id": "g0", "problem": "Same id as the first row.", "answer": "1"}),            # line 11
        json.dumps({"id": "evalcopy", "problem": "What is $17 + 25$?", "answer": "42"}),             # line 12
        json.dumps({"id": "empty", "problem": "   ", "answer": "3"}),                                # line 13
    ]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def cfg(tmp_path):
    _write_train(tmp_path / "train.jsonl")
    (tmp_path / "bench.jsonl").write_text(json.dumps({"id": "b1", "problem": BENCH_ITEM, "answer": "7"}) + "\n")
    (tmp_path / "eval.jsonl").write_text(json.dumps({"id": "e1", "problem": "What is $17 + 25$?", "answer": "42"}) + "\n")
    return CurateConfig(
        sources=[SourceSpec(kind="jsonl", name="mine", path=str(tmp_path / "train.jsonl")),
                 SourceSpec(kind="procedural", name="arith", options={"task": "arithmetic", "n": 30, "levels": [3, 4]}),
                 SourceSpec(kind="jsonl", name="held_out", split="eval", path=str(tmp_path / "eval.jsonl"))],
        decontaminate_against=[SourceSpec(kind="jsonl", name="bench", split="test", path=str(tmp_path / "bench.jsonl"))],
        verifier_workers=0, dedup=DedupConfig())


def _jsonl(path):
    return [json.loads(l) for l in path.read_text().splitlines()]


def test_planted_problems_are_caught_and_counts_balance(cfg, tmp_path):
    pytest.importorskip("rewards.math")
    out = tmp_path / "out"
    m = run(cfg, out)
    met = m.metrics
    assert met["balanced"] and met["rows_in"] == 13 + 30 + 1
    assert met["rows_in"] == met["kept"] + met["quarantined"] + met["duplicates"] + met["contaminated"]
    assert met["per_quarantine_reason"] == {"duplicate_id": 1, "gold_unparsable": 1, "malformed_json": 1,
                                            "missing_field": 1, "schema": 1}
    assert met["per_removal_reason"] == {"contaminated:bench": 1, "contaminated:eval_split": 1,
                                         "duplicate_exact": 1, "duplicate_near": 1}
    assert met["per_source"]["mine"] == {"rows_in": 13, "kept": 4, "quarantined": 5, "duplicates": 2,
                                         "contaminated": 2, "balanced": True}
    src = str(tmp_path / "train.jsonl")
    quarantine = {(q["origin"], q["reason"]) for q in _jsonl(out / "quarantine.jsonl")}
    assert quarantine == {(f"{src}:5", "malformed_json"), (f"{src}:6", "missing_field"),
                          (f"{src}:7", "gold_unparsable"), (f"{src}:11", "duplicate_id"), (f"{src}:13", "schema")}
    removed = {r["row_id"]: r for r in _jsonl(out / "removed.jsonl")}
    assert removed["mine/dup_exact"]["duplicate_of"] == "mine/g0" and removed["mine/dup_exact"]["origin"] == f"{src}:8"
    assert removed["mine/dup_near"]["kind"] == "near" and removed["mine/dup_near"]["duplicate_of"] == "mine/g1"
    assert removed["mine/contam"]["benchmark_id"] == "bench/b1"
    assert removed["mine/contam"]["benchmark_origin"] == f"{tmp_path / 'bench.jsonl'}:1"
    assert removed["mine/evalcopy"]["benchmark"] == "eval_split"
    report = json.loads((out / "decontamination_report.json").read_text())
    assert report["per_benchmark"] == {"bench": 1, "eval_split": 1}
    rows = read_rows_parquet(out / "dataset.parquet")
    assert len(rows) == met["kept"] and {r.split for r in rows} == {"train", "eval"}
    assert all(r.metadata["origin"] for r in rows)
    assert load_manifest(out).artifact("dataset.parquet").rows == met["kept"]


def test_rerun_is_up_to_date_and_force_reruns(cfg, tmp_path, capsys):
    pytest.importorskip("rewards.math")
    first = run(cfg, tmp_path / "out")
    again = run(cfg, tmp_path / "out")
    assert again.run_id == first.run_id and "up to date" in capsys.readouterr().out
    assert run(cfg, tmp_path / "out", force=True).run_id != first.run_id


def test_planted_real_benchmark_items_are_caught(benchmark_dir, tmp_path):
    import dataclasses

    from data import registry

    m500 = [r for r in registry.get("math500")(SourceSpec(kind="math500", split="test"))][:3]
    aime = [r for r in registry.get("aime24")(SourceSpec(kind="aime24", split="test"))][:2]
    planted = [{"id": f"p{i}", "problem": "Here is a problem. " + r.problem.replace("Find", "Determine"), "answer": r.gold}
               for i, r in enumerate(m500 + aime)]
    (tmp_path / "planted.jsonl").write_text("".join(json.dumps(p) + "\n" for p in planted))
    cfg = CurateConfig(sources=[SourceSpec(kind="jsonl", name="planted", path=str(tmp_path / "planted.jsonl")),
                                SourceSpec(kind="procedural", options={"n": 20})],
                       decontaminate_against=[SourceSpec(kind="math500"), SourceSpec(kind="aime24")],
                       self_check_verifiers=[], verifier_workers=0, data_dir=str(benchmark_dir))
    m = run(cfg, tmp_path / "out")
    removed = {r["row_id"]: r["benchmark_id"] for r in _jsonl(tmp_path / "out" / "removed.jsonl")}
    assert removed == {f"planted/p{i}": r.id for i, r in enumerate(m500 + aime)}
    assert m.metrics["per_source"]["procedural"]["kept"] == 20
    assert dataclasses.asdict(cfg)["data_dir"] == str(benchmark_dir)


@pytest.mark.parametrize("data,match", [
    ({"sources": []}, "at least one source"),
    ({"sources": [{"kind": "procedurall"}]}, "unknown source 'procedurall'"),
    ({"sources": [{"kind": "gsm8k"}, {"kind": "gsm8k"}]}, "labels must be unique"),
    ({"sources": [{"kind": "gsm8k", "split": "dev"}]}, "split"),
    ({"sources": [{"kind": "gsm8k"}], "dedup": {"bands": 7}}, "dedup.bands"),
    ({"sources": [{"kind": "gsm8k"}], "decontam": {"ngram": 0}}, "decontam.ngram"),
], ids=["no-sources", "unknown-kind", "duplicate-label", "bad-split", "bad-bands", "bad-ngram"])
def test_config_errors_name_the_field(data, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(CurateConfig, data)


@pytest.mark.parametrize("name", ["curate_demo.yaml", "curate_embedded.yaml", "curate_local.yaml"])
def test_shipped_curate_configs_load(name):
    from pathlib import Path

    from pipeline.config import load_config

    cfg = load_config(CurateConfig, Path(__file__).resolve().parents[2] / "configs" / name, section="curate")
    assert cfg.sources


def test_reward_plugins_key_lets_rows_name_a_plugin_verifier():
    """The same `reward_plugins` key as training and evaluation: curation knows a plugin's verifier."""
    from data.schema import Row
    from data.validate import validate_rows

    rows = [Row("p1", "What is 1 + 2?", "toy_parity", "3", "t")]
    valid, bad = validate_rows(rows, self_check=[], workers=1, plugins=["tests.grpo.toy_rewards"])
    assert [r.id for r in valid] == ["p1"] and bad == []
