"""Code rows at curation: every reference solution runs in the sandbox, a failing one is quarantined with
the verifier's reason; a HumanEval / MBPP test problem planted in a training source is removed as contaminated.

The rows are JSONL lines already in Row form (`gold` tests dict, `verifier: code`, `metadata.reference`),
read by the jsonl source and run through `data.curate.curate_rows` / `run`, so the stage's own path is tested.
"""

from __future__ import annotations

import json

import pytest

from data.curate import CurateConfig, curate_rows, run
from data.sources.base import SourceSpec

ADD = {"entry_point": "add", "timeout_s": 1,
       "tests": [{"call": "candidate(1, 2)", "expected": "3"}, {"call": "candidate(-1, 1)", "expected": "0"},
                 {"call": "candidate(2, 0)", "expected": "2"}]}
ECHO_SUM = {"tests": [{"input": "1 2\n", "output": "3\n"}, {"input": "10 -4\n", "output": "6\n"}]}
GOOD_ADD = "def add(a, b):\n    return a + b\n"

# id, problem, gold, reference, expected quarantine reason (None: kept), detail fragment
CASES = [
    ("ok_function", "Write a Python function add(a, b) returning the sum of two integers.", ADD, GOOD_ADD,
     None, ""),
    ("ok_stdio", "Read two integers from standard input and print their total on one line.", ECHO_SUM,
     "a, b = map(int, input().split())\nprint(a + b)\n", None, ""),
    ("wrong_answer", "Implement add(a, b) for the accounting module; it adds the two amounts.", ADD,
     "def add(a, b):\n    return a - b\n", "reference_failed:wrong_answer", "passed 1/3 tests"),
    ("infinite_loop", "Provide add(a, b), a helper combining two counters by addition.", {**ADD, "timeout_s": 0.3},
     "def add(a, b):\n    while True:\n        pass\n", "reference_failed:timeout", "passed 0/3 tests"),
    ("syntax_error", "Define add(a, b) so that the scoreboard can total two scores.", ADD,
     "def add(a, b)\n    return a + b\n", "reference_failed:compile_error", "passed 0/3 tests"),
    ("raises", "Give add(a, b) for merging two tallies into one number.", ADD,
     "def add(a, b):\n    raise ValueError('no')\n", "reference_failed:runtime_error", "runtime_error x3"),
    ("bad_gold", "Return the sum of two numbers from add(a, b) in the billing code.",
     {"entry_point": "add", "tests": [{"call": "candidate(1, 2)", "expected": "open("}]}, GOOD_ADD,
     "reference_unjudged:gold_unparsable", "not a constant"),
]
EXTRA = [  # the same (gold, reference) as ok_function under other ids: checked once; one row with no reference
    {"id": "same_gold_a", "problem": "Sum two ints in a function called add; keep it short.", "gold": ADD,
     "metadata": {"reference": GOOD_ADD}},
    {"id": "same_gold_b", "problem": "A one-line add(a, b) for the unit converter that totals its inputs.",
     "gold": ADD, "metadata": {"reference": GOOD_ADD}},
    {"id": "no_reference", "problem": "Write add(a, b) in the style of the standard library.", "gold": ADD},
]


def _write_source(path) -> None:
    recs = [{"id": i, "problem": p, "gold": g, "metadata": {"reference": ref}} for i, p, g, ref, *_ in CASES]
    path.write_text("".join(json.dumps({**r, "verifier": "code"}) + "\n" for r in recs + EXTRA))


def _cfg(path, workers: int, **kw) -> CurateConfig:
    return CurateConfig(sources=[SourceSpec(kind="jsonl", name="code", path=str(path))], verifier_workers=workers, **kw)


@pytest.fixture(scope="module", params=[0, 2], ids=["in_process", "pool"])
def curated(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("code_rows") / "code.jsonl"
    _write_source(path)
    return path, curate_rows(_cfg(path, request.param), log=lambda *a: None)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_reference_is_run_and_a_failing_one_quarantined(curated, case):
    path, res = curated
    rid, _, _, _, reason, detail = case
    line = 1 + [c[0] for c in CASES].index(rid)
    quarantined = {q.row_id: q for q in res["quarantined"]}
    kept = {r.id for r in res["kept"]}
    if reason is None:
        assert f"code/{rid}" in kept and f"code/{rid}" not in quarantined
        return
    q = quarantined[f"code/{rid}"]
    assert (q.reason, q.source, q.origin) == (reason, "code", f"{path}:{line}")
    assert detail in q.detail, q.detail
    assert f"code/{rid}" not in kept


def test_one_check_per_distinct_reference_and_rows_without_one_are_counted(curated):
    _, res = curated
    assert {"code/same_gold_a", "code/same_gold_b", "code/no_reference"} <= {r.id for r in res["kept"]}
    assert res["validation"] == {"code_rows": len(CASES) + 3, "code_rows_without_reference": 1,
                                 "code_rows_unchecked": 0, "code_references_run": len(CASES),
                                 "code_references_failed": sum(c[4] is not None for c in CASES)}


def test_quarantine_file_of_the_stage_names_row_origin_and_reason(tmp_path):
    path = tmp_path / "code.jsonl"
    _write_source(path)
    m = run(_cfg(path, 0), tmp_path / "out")
    lines = [json.loads(x) for x in (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()]
    wrong = next(q for q in lines if q["row_id"] == "code/wrong_answer")
    assert wrong["reason"] == "reference_failed:wrong_answer" and wrong["origin"] == f"{path}:3"
    assert "passed 1/3 tests" in wrong["detail"] and wrong["record"]["metadata"]["reference"].startswith("def add")
    assert m.metrics["code_rows_without_reference"] == 1 and m.metrics["balanced"]
    assert m.metrics["per_quarantine_reason"]["reference_failed:timeout"] == 1


def test_without_code_in_self_check_no_reference_runs(tmp_path):
    path = tmp_path / "code.jsonl"
    _write_source(path)
    res = curate_rows(_cfg(path, 0, self_check_verifiers=["math"]), log=lambda *a: None)
    assert res["quarantined"] == [] and res["validation"]["code_rows_unchecked"] == len(CASES) + 2


def test_a_reference_that_is_not_text_is_a_schema_error(tmp_path):
    path = tmp_path / "code.jsonl"
    rec = {"id": "x", "problem": "Write add(a, b).", "verifier": "code", "gold": ADD, "metadata": {"reference": 3}}
    path.write_text(json.dumps(rec) + "\n")
    res = curate_rows(_cfg(path, 0), log=lambda *a: None)
    assert [(q.row_id, q.reason) for q in res["quarantined"]] == [("code/x", "schema")]


# ---- decontamination: a benchmark code problem planted in a training source ----------------------------

UNRELATED = ("Design a routine named braid_tokens that takes two iterables of glyphs and emits them "
             "alternately, padding the shorter iterable with a dash glyph, then returns a tuple.")


@pytest.mark.benchdata
@pytest.mark.parametrize("bench,index", [("humaneval", 10), ("mbpp", 5)], ids=["humaneval", "mbpp-test"])
def test_planted_benchmark_code_problem_is_removed(benchmark_dir, tmp_path, bench, index):
    from data import benchmarks

    item = benchmarks.get(bench).load(data_dir=benchmark_dir, split="test")[index]
    planted = {"id": "planted", "problem": "Solve this task from our internal set.\n" + item.problem,
               "verifier": "code", "gold": item.gold}
    clean = {"id": "clean", "problem": UNRELATED, "verifier": "code",
             "gold": {"entry_point": "braid_tokens", "tests": [{"call": "candidate('ab', 'c')",
                                                                "expected": "('a', 'c', 'b', '-')"}]}}
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(planted) + "\n" + json.dumps(clean) + "\n")
    cfg = CurateConfig(sources=[SourceSpec(kind="jsonl", name="train", path=str(path))],
                       decontaminate_against=[SourceSpec(kind="humaneval"),
                                              SourceSpec(kind="mbpp", options={"split": "test"})],
                       verifier_workers=0, data_dir=str(benchmark_dir))
    m = run(cfg, tmp_path / "out")
    report = json.loads((tmp_path / "out" / "decontamination_report.json").read_text())
    assert report["sets"]["humaneval"] == 164 and report["sets"]["mbpp"] == 257
    assert report["per_benchmark"] == {bench: 1}
    [row] = report["rows"]
    assert (row["row_id"], row["benchmark"], row["benchmark_id"]) == ("train/planted", bench, item.id)
    assert row["origin"] == f"{path}:1" and row["shared_ngrams"] >= 1
    assert m.metrics["kept"] == 1 and m.metrics["per_source"]["train"]["contaminated"] == 1
