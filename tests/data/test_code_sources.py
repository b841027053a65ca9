"""Code-problem sources for curation: `hub_code` (data/sources/hub_code.py) in each record format, and the MBPP
train/validation splits of the benchmark table as curation sources.

`hub_code` cases are tiny JSONL files in tmp_path loaded with `options: {builder: json, data_files: ...}`, so the
real Hugging Face loading code runs on local files. Every row's `metadata["reference"]` runs in the sandbox as a
completion against its gold (score 1); a broken record is a BadRecord naming "json:<file>#<i>".
"""

from __future__ import annotations

import json

import pytest

from data import registry
from data.schema import Row
from data.sources.base import BadRecord, SourceSpec

pytest.importorskip("datasets")

ADD = "def add(a, b):\n    return a + b\n"
TREE = ("class Node:\n    def __init__(self, v):\n        self.v, self.left, self.right = v, None, None\n"
        "def height(n):\n    return 0 if n is None else 1 + max(height(n.left), height(n.right))\n")
HE_PROMPT = 'def add(a: int, b: int) -> int:\n    """Add two integers."""\n'
HE_TEST = ("\n\nMETADATA = {}\n\n\ndef check(candidate):\n    assert candidate(1, 2) == 3\n"
           "    assert candidate(0, 0) == 0\n    for x in range(3):\n        assert candidate(x, x) == 2 * x\n")
SUM_PROGRAM = "a, b = map(int, input().split())\nprint(a + b)\n"
SOLUTION_STARTER = "class Solution:\n    def total(self, nums: List[int]) -> int:\n        "


def _apps(pid, question, solutions, io, starter=""):
    return {"problem_id": pid, "question": question, "solutions": json.dumps(solutions),
            "input_output": io if isinstance(io, str) else json.dumps(io), "starter_code": starter,
            "difficulty": "introductory"}


# id -> (format, extra options, records, expected per record: ("row", entry_point, test kind) | ("bad", reason))
CASES = {
    "mbpp": ("mbpp", {}, [
        {"task_id": 1, "text": "Write a function to add two numbers.", "code": ADD, "test_setup_code": "",
         "test_list": ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"], "test_imports": []},
        {"task_id": 2, "text": "Write a function for the height of a binary tree.", "code": TREE,
         "test_setup_code": "root = Node(1)\nroot.left = Node(2)", "test_list": ["assert height(root) == 2"],
         "test_imports": []},
        {"task_id": 3, "text": "Add two numbers.", "code": ADD, "test_setup_code": "",
         "test_list": ["assert add(1, 2) =="], "test_imports": []},
        {"task_id": 4, "text": "Add two numbers.", "test_setup_code": "", "test_list": ["assert add(1, 2) == 3"],
         "test_imports": []},
        {"task_id": 5, "text": "Add two numbers.", "code": "def add(a, b)\n    return a + b", "test_setup_code": "",
         "test_list": ["assert add(1, 2) == 3"], "test_imports": []},
    ], [("row", "add", "call"), ("row", "height", "script"), ("bad", "bad_tests"), ("bad", "missing_field"),
        ("bad", "bad_reference")]),
    "humaneval": ("humaneval", {}, [
        {"task_id": "HumanEval/0", "prompt": HE_PROMPT, "canonical_solution": "    return a + b\n", "test": HE_TEST,
         "entry_point": "add"},
        {"task_id": "HumanEval/1", "prompt": HE_PROMPT, "canonical_solution": "    return a + b\n",
         "test": "assert add(1, 2) == 3\n", "entry_point": "add"},
        {"task_id": "HumanEval/2", "prompt": HE_PROMPT, "canonical_solution": "    return a + b\n", "test": HE_TEST},
    ], [("row", "add", "call+script"), ("bad", "bad_tests"), ("bad", "missing_field")]),
    "apps": ("apps", {}, [
        _apps(10, "Read two integers and print their sum.", [SUM_PROGRAM],
              {"inputs": ["1 2\n", "5 7\n"], "outputs": ["3\n", "12\n"]}),
        _apps(11, "Return the larger of two integers.", ["def larger(a, b):\n    return max(a, b)\n"],
              {"fn_name": "larger", "inputs": [[1, 2], [5, 3]], "outputs": [[2], [5]]}, "def larger(a, b):\n\t"),
        _apps(12, "Return the sum of a list.", [SOLUTION_STARTER + "return sum(nums)\n"],
              {"fn_name": "total", "inputs": [[[1, 2, 3]], [[]]], "outputs": [6, 0]}, SOLUTION_STARTER),
        _apps(13, "Broken tests.", [SUM_PROGRAM], "not json"),
        _apps(14, "Unequal tests.", [SUM_PROGRAM], {"inputs": ["1 2\n"], "outputs": []}),
    ], [("row", None, "stdio"), ("row", "larger", "call"), ("row", None, "call"), ("bad", "bad_tests"),
        ("bad", "bad_tests")]),
    "code_contests": ("apps", {"problem_key": "description", "tests_key": ["public_tests", "private_tests"]}, [
        {"name": "1A. Sum", "description": "Print a+b.", "public_tests": {"input": ["1 2\n"], "output": ["3\n"]},
         "private_tests": {"input": ["2 2\n", "0 5\n"], "output": ["4\n", "5\n"]},
         "solutions": {"language": [2, 3], "solution": ["int main() {}", SUM_PROGRAM]}},
        {"name": "1B. None", "description": "No tests.", "public_tests": {"input": [], "output": []},
         "private_tests": {"input": [], "output": []}, "solutions": {"language": [3], "solution": [SUM_PROGRAM]}},
    ], [("row", None, "stdio"), ("bad", "bad_tests")]),
}


def _write(tmp_path, records, name="data.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def _load(kind, **kw):
    return list(registry.get(kind)(SourceSpec(kind=kind, verifier="code", **kw)))


def _hub_code(path, fmt, **options):
    return _load("hub_code", options={"builder": "json", "data_files": path, "format": fmt, **options})


def _scores(rows, sandbox, completions=None):
    from rewards.code import verify_code_batch

    completions = completions or [r.metadata["reference"] for r in rows]
    return [res.score for res in verify_code_batch([(c, r.gold, {}) for c, r in zip(completions, rows)], sandbox)]


def test_hub_code_is_a_registered_source():
    assert "hub_code" in registry.names()


@pytest.mark.parametrize("case", sorted(CASES))
def test_hub_code_formats(tmp_path, sandbox, case):
    fmt, options, records, expected = CASES[case]
    path = _write(tmp_path, records)
    items = _hub_code(path, fmt, **options)
    assert len(items) == len(records)
    for i, (item, want) in enumerate(zip(items, expected)):
        if want[0] == "bad":
            assert isinstance(item, BadRecord), (i, item)
            assert (item.reason, item.origin, item.source) == (want[1], f"json:{path}#{i}", "hub_code"), item
            continue
        assert isinstance(item, Row), (i, item)
        gold, kind = item.gold, want[2]
        assert item.verifier == "code" and item.metadata["origin"] == f"json:{path}#{i}"
        assert gold.get("entry_point") == want[1] and item.metadata.get("entry_point") == want[1]
        assert isinstance(item.metadata["reference"], str) and item.metadata["reference"].strip()
        if kind == "stdio":
            assert all(set(t) == {"input", "output"} for t in gold["tests"]) and not gold.get("scripts")
        if "call" in kind:
            assert gold["tests"] and all("call" in t and "expected" in t for t in gold["tests"])
        assert bool(gold.get("scripts")) == ("script" in kind)
    rows = [x for x in items if isinstance(x, Row)]
    assert _scores(rows, sandbox) == [1.0] * len(rows)


def test_mbpp_format_problem_shows_asserts_and_ids_come_from_the_record(tmp_path):
    fmt, _, records, _ = CASES["mbpp"]
    row = _hub_code(_write(tmp_path, records), fmt)[0]
    assert row.id == "hub_code/1" and "assert add(1, 2) == 3" in row.problem
    assert row.problem.startswith("Write a function to add two numbers.")
    assert row.gold["tests"] == [{"call": "add(1, 2)", "expected": "3"}, {"call": "add(-1, 1)", "expected": "0"}]


def test_apps_call_tests_unwrap_outputs_and_bind_solution_methods(tmp_path, sandbox):
    _, _, records, _ = CASES["apps"]
    rows = [x for x in _hub_code(_write(tmp_path, records), "apps") if isinstance(x, Row)]
    stdio, larger, total = rows
    assert larger.gold["tests"] == [{"call": "candidate(1, 2)", "expected": "2"},
                                    {"call": "candidate(5, 3)", "expected": "5"}]
    assert total.gold["tests"][0] == {"call": "Solution().total([1, 2, 3])", "expected": "6"}
    assert "class Solution" in total.problem and "def larger(a, b):" in larger.problem
    assert (stdio.metadata["difficulty"], stdio.id) == ("introductory", "hub_code/10")
    wrong = ["print(0)\n", "def larger(a, b):\n    return a\n", SOLUTION_STARTER + "return 0\n"]
    assert all(s < 1.0 for s in _scores(rows, sandbox, wrong))
    wrapped = _hub_code(_write(tmp_path, records[1:2], "one.jsonl"), "apps", unwrap_outputs=False)[0]
    assert wrapped.gold["tests"][0]["expected"] == "[2]"


def test_apps_without_solutions_keeps_the_row_unless_a_reference_is_required(tmp_path):
    path = _write(tmp_path, [_apps(20, "Print 1.", [], {"inputs": [""], "outputs": ["1\n"]})])
    (row,) = _hub_code(path, "apps")
    assert isinstance(row, Row) and "reference" not in row.metadata
    (bad,) = _hub_code(path, "apps", require_reference=True)
    assert isinstance(bad, BadRecord) and bad.reason == "missing_reference"


def test_code_contests_style_concatenates_test_keys_and_takes_the_python3_solution(tmp_path):
    _, options, records, _ = CASES["code_contests"]
    row = _hub_code(_write(tmp_path, records), "apps", **options)[0]
    assert [t["input"] for t in row.gold["tests"]] == ["1 2\n", "2 2\n", "0 5\n"]
    assert row.metadata["reference"] == SUM_PROGRAM and row.id == "hub_code/1A. Sum"
    capped = _hub_code(_write(tmp_path, records, "c.jsonl"), "apps", max_tests=2, **options)[0]
    assert len(capped.gold["tests"]) == 2


def test_limit_counts_rows_and_unknown_format_is_a_config_error(tmp_path):
    fmt, _, records, _ = CASES["mbpp"]
    path = _write(tmp_path, records)
    assert [r.id for r in _load("hub_code", limit=1, options={"builder": "json", "data_files": path,
                                                                "format": fmt})] == ["hub_code/1"]
    with pytest.raises(ValueError, match="options.format"):
        _hub_code(path, "leetcode")


@pytest.mark.benchdata
@pytest.mark.parametrize("prefer", ["unified", "original"])
@pytest.mark.parametrize("split,task_ids,count", [("train", range(601, 975), 120), ("validation", range(511, 601), 43)],
                         ids=["train", "validation"])
def test_mbpp_splits_as_curation_sources(benchmark_dir, sandbox, split, task_ids, count, prefer):
    """MBPP sanitized's train (601-974) and validation (511-600) task ids, each row with its reference."""
    items = _load("mbpp", options={"split": split, "data_dir": str(benchmark_dir), "prefer": prefer})
    assert all(isinstance(x, Row) for x in items) and len(items) == count
    assert all(r.metadata["task_id"] in task_ids and r.metadata["mbpp_split"] == split for r in items)
    assert all(r.metadata["reference"] == r.metadata["reference_code"] for r in items)
    assert _scores(items[:4], sandbox) == [1.0] * 4


@pytest.mark.benchdata
def test_humaneval_rows_carry_a_runnable_reference(benchmark_dir, sandbox):
    rows = _load("humaneval", options={"data_dir": str(benchmark_dir)})[:3]
    assert all(r.metadata["reference"] == r.problem + r.metadata["canonical_solution"] for r in rows)
    assert _scores(rows, sandbox) == [1.0] * 3
