"""Benchmark modules: registry, local loading, seeded subsets, the hub code path on local files."""

import json

import pytest

from eval.benchmarks import registry
from eval.benchmarks.source import last_boxed, load_hub, seeded_subset

MATH_BENCHMARKS = {  # name -> (problems, original top-level file for the hub mapper)
    "aime24": (30, "aime24.jsonl"),
    "aime25": (30, "aime25.jsonl"),
    "amc23": (40, "amc23.jsonl"),
    "math500": (500, "math500.jsonl"),
    "gsm8k": (1319, "gsm8k_test.jsonl"),
    "minerva": (272, "minerva_math.jsonl"),
    "olympiadbench": (675, "olympiadbench.jsonl"),
}


def test_registry_lists_every_benchmark_once():
    assert set(MATH_BENCHMARKS) | {"humaneval", "mbpp"} == set(registry.names())
    assert "jsonl" in registry.names(include_generic=True) and "jsonl" not in registry.names()
    with pytest.raises(KeyError, match="Did you mean 'math500'"):
        registry.get("math5000")


@pytest.mark.parametrize("name", sorted(MATH_BENCHMARKS))
def test_local_load_counts_and_rows(benchmark_dir, name):
    bench = registry.get(name)
    rows = bench.load(data_dir=benchmark_dir)
    assert bench.default_template == "boxed"
    assert len(rows) == MATH_BENCHMARKS[name][0]
    assert len({r.id for r in rows}) == len(rows)
    assert all(r.verifier == "math" and r.split == "test" and r.source == name for r in rows)
    assert all(isinstance(r.gold, str) and r.gold.strip() for r in rows)


@pytest.mark.parametrize("name", ["math500", "gsm8k"])
def test_seeded_subsets_are_reproducible(benchmark_dir, name):
    bench = registry.get(name)
    a = [r.id for r in bench.load(data_dir=benchmark_dir, limit=20, seed=0)]
    b = [r.id for r in bench.load(data_dir=benchmark_dir, limit=20, seed=0)]
    c = [r.id for r in bench.load(data_dir=benchmark_dir, limit=20, seed=1)]
    full = [r.id for r in bench.load(data_dir=benchmark_dir)]
    assert a == b and len(a) == 20 and a != c
    assert a == [i for i in full if i in set(a)]  # original order kept


@pytest.mark.parametrize("name", sorted(MATH_BENCHMARKS))
def test_hub_code_path_on_original_records(benchmark_dir, name):
    """datasets.load_dataset + the hub mapper, on the original-format local copy, gives the unified golds."""
    mod = __import__(f"eval.benchmarks.{name}", fromlist=["from_hub"])
    records = load_hub("json", data_files=str(benchmark_dir / MATH_BENCHMARKS[name][1]), split="train")
    hub_rows = [mod.from_hub(r, i) for i, r in enumerate(records)]
    local_rows = registry.get(name).load(data_dir=benchmark_dir)
    assert [r.gold for r in hub_rows] == [r.gold for r in local_rows]
    assert [r.problem.strip()[:50] for r in hub_rows] == [r.problem.strip()[:50] for r in local_rows]


def test_jsonl_benchmark_field_mapping(tmp_path):
    p = tmp_path / "mine.jsonl"
    p.write_text("\n".join(json.dumps({"uid": f"q{i}", "q": f"What is {i}+{i}?", "a": str(2 * i), "extra": i})
                           for i in range(6)))
    rows = registry.get("jsonl").load(path=str(p), name="mine", problem_field="q", gold_field="a", id_field="uid",
                                      limit=3, seed=0)
    assert len(rows) == 3 and all(r.id.startswith("mine/q") and r.source == "mine" for r in rows)
    r0 = next(r for r in registry.get("jsonl").load(path=str(p), name="mine", problem_field="q", gold_field="a")
              if r.id == "mine/2")
    assert (r0.problem, r0.gold, r0.metadata, r0.verifier) == ("What is 2+2?", "4", {"uid": "q2", "extra": 2}, "math")
    with pytest.raises(KeyError, match="lacks field"):
        registry.get("jsonl").load(path=str(p), problem_field="question")


@pytest.mark.parametrize(
    "text, expected",
    [("so \\boxed{\\frac{1}{2}}.", "\\frac{1}{2}"), ("\\boxed{1} then \\fbox{2}", "2"), ("no box", None),
     ("\\boxed{a{b}c} and \\boxed{x^{2}}", "x^{2}"), ("\\boxed{unclosed", None)],
    ids=["frac", "fbox-last", "absent", "nested-last", "unbalanced"],
)
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


def test_seeded_subset_edge_cases():
    assert seeded_subset([1, 2, 3], None) == [1, 2, 3]
    assert seeded_subset([1, 2, 3], 10) == [1, 2, 3]
    assert seeded_subset(list(range(100)), 5, seed=7) == seeded_subset(list(range(100)), 5, seed=7)


def test_explicit_data_dir_without_the_file_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no unified/math500.jsonl"):
        registry.get("math500").load(data_dir=tmp_path)
