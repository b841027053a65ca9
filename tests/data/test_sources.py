"""Sources: registry, JSONL/Parquet/hub loaders, benchmark adapters, procedural generators."""

from __future__ import annotations

import json

import pytest

from data import registry
from data.schema import Row, write_rows_parquet
from data.sources.base import BadRecord, SourceSpec
from data.sources.procedural import TASKS, countdown_max, generate


def _load(kind, **kw):
    return list(registry.get(kind)(SourceSpec(kind=kind, **kw)))


def test_registry_lists_every_builtin_and_suggests_names():
    assert {"jsonl", "parquet", "hub", "gsm8k", "math", "aime24", "procedural", "reasoning_gym"} <= set(registry.names())
    with pytest.raises(KeyError, match="Did you mean 'procedural'"):
        registry.get("procedurall")


def test_jsonl_malformed_lines_are_reported_with_file_and_line(tmp_path):
    p = tmp_path / "train.jsonl"
    p.write_text('{"problem": "1+1?", "answer": "2"}\n{"problem": "oops", \n\n{"question": "no answer"}\n'
                 '{"id": "x", "problem": "2+2?", "answer": 4}\n')
    items = _load("jsonl", path=str(p))
    bad = [x for x in items if isinstance(x, BadRecord)]
    rows = [x for x in items if isinstance(x, Row)]
    assert [(b.origin, b.reason) for b in bad] == [(f"{p}:2", "malformed_json"), (f"{p}:4", "missing_field")]
    assert [(r.id, r.gold, r.metadata["origin"]) for r in rows] == [("jsonl/train/0", "2", f"{p}:1"),
                                                                     ("jsonl/x", "4", f"{p}:5")]


def test_parquet_roundtrip_of_curated_rows(tmp_path):
    rows = [Row("a/1", "What is 2+3?", "math", "5", "a", "train", {"level": 2}, 0.5)]
    write_rows_parquet(tmp_path / "d.parquet", rows)
    (got,) = _load("parquet", name="a", path=str(tmp_path / "d.parquet"))
    assert (got.id, got.gold, got.metadata["level"], got.difficulty) == ("a/1", "5", 2, 0.5)


def test_hub_source_reads_a_local_saved_copy(tmp_path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list([{"question": "Tom has 3 apples and buys 4. How many?", "answer": "3+4=7\n#### 7"},
                                     {"question": "broken", "answer": "no final answer"}])
    ds.save_to_disk(str(tmp_path / "saved"))
    items = _load("hub", name="gsm", path=str(tmp_path / "saved"),
                  options={"problem_key": "question", "answer_regex": r"####\s*(.*)$"})
    assert isinstance(items[0], Row) and items[0].gold == "7"
    assert isinstance(items[1], BadRecord) and items[1].reason == "answer_not_found"


@pytest.mark.parametrize("kind,options,count,first_gold", [
    ("gsm8k", {"split": "train"}, 7473, "72"),
    ("gsm8k", {"split": "test"}, 1319, None),
    ("math", {"split": "train"}, 7500, "0"),
    ("math500", {}, 500, "\\left( 3, \\frac{\\pi}{2} \\right)"),
    ("aime24", {}, 30, "204"),
    ("aime25", {}, 30, "70"),
    ("amc23", {}, 40, "27"),
    ("minerva", {}, 272, "1.6"),
    ("olympiadbench", {}, 675, None),
    ("hmmt", {}, 30, "103"),
], ids=lambda v: str(v) if not isinstance(v, dict) else "-".join(map(str, v.values())) or "default")
def test_benchmark_adapters_read_the_local_data_dir(benchmark_dir, kind, options, count, first_gold):
    items = _load(kind, options={**options, "data_dir": str(benchmark_dir)})
    rows = [x for x in items if isinstance(x, Row)]
    assert len(items) == count
    assert all(r.problem and r.source == kind for r in rows)
    if first_gold is not None:
        assert rows[0].gold == first_gold


@pytest.mark.parametrize("prefer", ["unified", "original"])
def test_math_adapter_keeps_level_and_subject(benchmark_dir, prefer):
    rows = [x for x in _load("math", options={"split": "train", "prefer": prefer, "data_dir": str(benchmark_dir)})
            if isinstance(x, Row)]
    assert rows[0].metadata["level"] == 5 and rows[0].metadata["subject"] == "Algebra"
    assert {r.metadata.get("level") for r in rows} >= {1, 2, 3, 4, 5}


@pytest.mark.parametrize("nums,expected", [([1, 1], 2), ([2, 3, 4], 24), ([1, 2, 3], 9), ([1, 1, 1], 3), ([5], 5)],
                         ids=["ones", "product", "sum-then-product", "all-ones", "single"])
def test_countdown_max(nums, expected):
    assert countdown_max(nums) == expected


@pytest.mark.parametrize("task", sorted(TASKS))
def test_procedural_items_are_pure_functions_of_seed_and_index(task):
    assert generate(task, 3, 7, 11) == generate(task, 3, 7, 11)
    assert generate(task, 3, 7, 11) != generate(task, 3, 8, 11)


def test_procedural_limit_keeps_the_same_items():
    full = _load("procedural", options={"task": "mix", "n": 20, "seed": 3})
    part = _load("procedural", limit=8, options={"task": "mix", "n": 20, "seed": 3})
    assert [r.problem for r in part] == [r.problem for r in full[:8]]
    assert {r.metadata["task"] for r in full} == set(TASKS)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_procedural_golds_verify_under_the_math_verifier(task):
    verify = pytest.importorskip("rewards.math").verify_math
    for level in range(1, 6):
        for i in range(5):
            problem, gold = generate(task, level, 0, i)
            assert verify(f"The answer is \\boxed{{{gold}}}.", gold).score == 1.0, (problem, gold)
            assert verify("\\boxed{123456789}", gold).score == 0.0, (problem, gold)


def test_linear_gold_solves_the_equation():
    import sympy
    from sympy.parsing.sympy_parser import implicit_multiplication, parse_expr, standard_transformations

    tr = standard_transformations + (implicit_multiplication,)
    for level in range(1, 6):
        for i in range(5):
            problem, gold = generate("linear", level, 0, i)
            lhs, rhs = problem.split("$")[3].split("=")
            diff = parse_expr(lhs, transformations=tr) - parse_expr(rhs, transformations=tr)
            assert diff.subs(sympy.Symbol("x"), int(gold)) == 0, problem


def test_reasoning_gym_source_skips_cleanly_when_missing():
    from data.sources.base import SourceUnavailable

    try:
        import reasoning_gym  # noqa: F401
    except ImportError:
        with pytest.raises(SourceUnavailable, match="reasoning-gym is not installed"):
            _load("reasoning_gym")
    else:
        rows = _load("reasoning_gym", options={"dataset": "basic_arithmetic", "size": 3})
        assert len(rows) == 3
