"""Evaluation's benchmark names (eval.benchmarks.registry over data/benchmarks.py) and the user JSONL benchmark.

The benchmark table itself (local/hub loading, pinned rows, decontamination) is tested in tests/data/test_benchmarks.py.
"""

import json

import pytest

from data import benchmarks as table
from eval.benchmarks import registry

LISTED = ["aime24", "aime25", "amc23", "math500", "gsm8k", "minerva", "olympiadbench", "humaneval", "mbpp"]


def test_registry_lists_every_benchmark_once():
    assert registry.names() == LISTED  # table order, for reports
    assert registry.names(include_generic=True) == LISTED + ["jsonl"]
    assert set(table.names()) - set(LISTED) == {"math", "hmmt"}  # evaluated only when named
    for name in ("math", "hmmt", "jsonl"):
        registry.check(name)
    with pytest.raises(KeyError, match="Did you mean 'math500'"):
        registry.get("math5000")


@pytest.mark.parametrize("name", LISTED)
def test_handles_are_the_table_rows(name):
    bench = registry.get(name)
    assert bench is table.get(name) and bench.name == name
    assert bench.default_template == ("code" if name in ("humaneval", "mbpp") else "boxed")


def test_jsonl_benchmark_field_mapping(tmp_path):
    p = tmp_path / "mine.jsonl"
    p.write_text("\n".join(json.dumps({"uid": f"q{i}", "q": f"What is {i}+{i}?", "a": str(2 * i), "extra": i})
                           for i in range(6)))
    jsonl = registry.get("jsonl")
    assert jsonl.default_template == "boxed"
    rows = jsonl.load(path=str(p), name="mine", problem_field="q", gold_field="a", id_field="uid", limit=3, seed=0)
    assert len(rows) == 3 and all(r.id.startswith("mine/q") and r.source == "mine" for r in rows)
    r0 = next(r for r in jsonl.load(path=str(p), name="mine", problem_field="q", gold_field="a") if r.id == "mine/2")
    assert (r0.problem, r0.gold, r0.metadata, r0.verifier) == ("What is 2+2?", "4", {"uid": "q2", "extra": 2}, "math")
    with pytest.raises(KeyError, match="mine.jsonl:1: record lacks field"):
        jsonl.load(path=str(p), problem_field="question")


def test_jsonl_benchmark_names_a_malformed_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"problem": "1+1?", "answer": "2"}\n\n{"problem": \n')
    with pytest.raises(ValueError, match="bad.jsonl:3: malformed JSON"):
        registry.get("jsonl").load(path=str(p))
