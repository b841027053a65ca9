"""The code verifier: extraction, stdin/stdout and function-call grading, reasons, scoring options,
skip semantics, determinism, the registry entry, and the HumanEval/MBPP loaders on a handful of rows."""

from __future__ import annotations

import dataclasses

import pytest

from rewards import registry
from rewards.code import extract_code, verify_code, verify_code_batch
from rewards import code_tests as ct

ADD = {"entry_point": "add", "tests": [{"call": "candidate(1, 2)", "expected": "3"},
                                        {"call": "candidate(2, 2)", "expected": "4"}]}
ECHO_SUM = {"tests": [{"input": "1 2\n", "output": "3\n"}, {"input": "5 5\n", "output": "10"}]}
SUM_PROG = "a, b = map(int, input().split())\nprint(a + b)\n"

EXTRACT = [
    ("python_fence", "Sure:\n```python\nx = 1\n```\nDone.", None, "x = 1\n"),
    ("last_of_two", "```python\nx = 1\n```\nbetter:\n```python\nx = 2\n```", None, "x = 2\n"),
    ("prefers_entry_point", "```python\ndef f():\n    pass\n```\n```python\nprint(1)\n```", "f", "def f():\n    pass\n"),
    ("after_think", "<think>```python\nbad\n```</think>```py\ngood = 1\n```", None, "good = 1\n"),
    ("unterminated", "```python\nprint(3)\n", None, "print(3)\n"),
    ("raw_text", "print(4)", None, "print(4)"),
    ("empty", "   ", None, None),
]


@pytest.mark.parametrize("name,text,entry,want", EXTRACT, ids=[c[0] for c in EXTRACT])
def test_extract_code(name, text, entry, want):
    assert extract_code(text, entry) == want


GRADE = [
    ("stdio_ok", SUM_PROG, ECHO_SUM, {}, 1.0, "ok"),
    ("stdio_whitespace", "a, b = map(int, input().split())\nprint('  ', a + b, '  \\n\\n')\n", ECHO_SUM, {}, 1.0, "ok"),
    ("stdio_wrong", "print(3)", ECHO_SUM, {}, 0.5, "wrong_answer"),
    ("stdio_all_or_nothing", "print(3)", ECHO_SUM, {"all_or_nothing": True}, 0.0, "wrong_answer"),
    ("stdio_float_exact_fails", "print(0.3333)", {"tests": [{"input": "", "output": "0.333333"}]}, {}, 0.0,
     "wrong_answer"),
    ("stdio_float_tol", "print(0.3333)", {"tests": [{"input": "", "output": "0.333333"}], "float_tol": 1e-3}, {},
     1.0, "ok"),
    ("compile_error", "def f(:\n", ECHO_SUM, {}, 0.0, "compile_error"),
    ("runtime_error", "raise ValueError('x')", ECHO_SUM, {}, 0.0, "runtime_error"),
    ("nonzero_exit_with_right_output", "import sys\nprint(3)\nsys.exit(1)",
     {"tests": [{"input": "", "output": "3"}]}, {}, 0.0, "runtime_error"),
    ("func_ok", "def add(a, b):\n    return a + b\n", ADD, {}, 1.0, "ok"),
    ("func_float_equals_int", "def add(a, b):\n    return float(a + b)\n", ADD, {}, 1.0, "ok"),
    ("func_partial", "def add(a, b):\n    return 3\n", ADD, {}, 0.5, "wrong_answer"),
    ("func_exception", "def add(a, b):\n    raise KeyError(a)\n", ADD, {}, 0.0, "runtime_error"),
    ("func_missing_entry", "def plus(a, b):\n    return a + b\n", ADD, {}, 0.0, "runtime_error"),
    ("func_timeout", "def add(a, b):\n    while True:\n        pass\n", ADD, {"timeout_s": 0.75}, 0.0, "timeout"),
    ("func_tuple_vs_list", "def f():\n    return [1, 2]\n",
     {"entry_point": "f", "tests": [{"call": "candidate()", "expected": "(1, 2)"}]}, {}, 0.0, "wrong_answer"),
    ("func_set_expected", "def f():\n    return {3, 1, 2}\n",
     {"entry_point": "f", "tests": [{"call": "candidate()", "expected": "set([1, 2, 3])"}]}, {}, 1.0, "ok"),
    ("func_abs_tol", "def f():\n    return 0.1 + 0.2\n",
     {"entry_point": "f", "tests": [{"call": "candidate()", "expected": "0.3", "abs_tol": 1e-9}]}, {}, 1.0, "ok"),
    ("func_truthy_match", "import re\ndef f(s):\n    return re.match('a', s)\n",
     {"entry_point": "f", "tests": [{"call": "candidate('abc')", "truthy": True},
                                    {"call": "candidate('xbc')", "truthy": False}]}, {}, 1.0, "ok"),
    ("func_body_continuation", "    return a + b\n", {**ADD, "prelude": "def add(a, b):\n    '''Add.'''\n"}, {},
     1.0, "ok"),
    ("no_code", "", ADD, {}, 0.0, "no_answer"),
]


@pytest.mark.parametrize("name,code,gold,opts,score,reason", GRADE, ids=[c[0] for c in GRADE])
def test_grade(sandbox, name, code, gold, opts, score, reason):
    res = verify_code(code, gold, sandbox=sandbox, **opts)
    assert (res.score, res.reason) == (pytest.approx(score), reason), res
    assert res.details["sandbox_mode"] == sandbox.mode.name


@pytest.mark.parametrize("gold", [None, "not json", {"tests": []}, {"entry_point": "f", "tests": [
    {"call": "candidate()", "expected": "open('/etc/passwd')"}]}], ids=["none", "text", "empty", "non_constant"])
def test_unusable_gold_is_skipped(sandbox, gold):
    res = verify_code("def f():\n    return 1\n", gold, sandbox=sandbox)
    assert res.score is None and res.reason == "gold_unparsable"


def test_infrastructure_failure_is_skipped_not_zero(sandbox):
    broken = object.__new__(type(sandbox))
    broken.__dict__.update(sandbox.__dict__)
    broken.probe = dataclasses.replace(sandbox.probe, bwrap="/nonexistent/bwrap")
    broken.mode = dataclasses.replace(sandbox.mode, namespaces=True)
    res = verify_code(SUM_PROG, ECHO_SUM, sandbox=broken)
    assert res.score is None and res.reason == "sandbox_error"


def test_batch_is_deterministic_and_ordered(sandbox):
    items = [("print(sorted({'b', 'a', 'c'}))", {"tests": [{"input": "", "output": "['a', 'b', 'c']"}]}, {}),
             ("def add(a, b):\n    return a + b\n", ADD, {}), ("print(3)", ECHO_SUM, {})] * 3
    first = [(r.score, r.reason) for r in verify_code_batch(items, sandbox)]
    second = [(r.score, r.reason) for r in verify_code_batch(items, sandbox)]
    assert first == second and first[:3] == [(1.0, "ok"), (1.0, "ok"), (0.5, "wrong_answer")]
    outs = {sandbox.run({"mode": "program", "code": "print({'x', 'y', 'z', 'w'})"}).stdout for _ in range(3)}
    assert len(outs) == 1  # PYTHONHASHSEED is fixed inside the sandbox


def test_registry_entry():
    assert registry.get("code") is verify_code


# ---- assert conversion -------------------------------------------------------------------------

ASSERTS = [
    ("eq", "assert f(1) == [1, 2]", {"call": "f(1)", "expected": "[1, 2]"}),
    ("reversed_eq", "assert 3 == f(1)", {"call": "f(1)", "expected": "3"}),
    ("set_wrap", "assert set(f(1)) == set((4, 5))", {"call": "set(f(1))", "expected": "set((4, 5))"}),
    ("isclose", "assert math.isclose(f(2), 12.5, rel_tol=0.001)",
     {"call": "f(2)", "expected": "12.5", "rel_tol": 0.001, "abs_tol": 0.0}),
    ("abs_tol", "assert abs(f(2) - 0.5) < 1e-6", {"call": "f(2)", "expected": "0.5", "abs_tol": 1e-6}),
    ("truthy", "assert f('a')", {"call": "f('a')", "truthy": True}),
    ("falsy", "assert not f('a')", {"call": "f('a')", "truthy": False}),
    ("is_none", "assert f(0) is None", {"call": "f(0)", "expected": "None", "identity": True}),
]


@pytest.mark.parametrize("name,src,want", ASSERTS, ids=[c[0] for c in ASSERTS])
def test_assert_to_call_test(name, src, want):
    tests, scripts = ct.tests_from_asserts([src])
    assert tests == [want] and scripts == []


def test_check_with_loop_becomes_probe_script():
    src = "def check(candidate):\n    assert candidate(1) == 2\n    for x in range(3):\n        assert candidate(x) == x + 1\n"
    setup, tests, scripts = ct.tests_from_check(src, "f")
    assert tests == [{"call": "candidate(1)", "expected": "2"}]
    assert "__rlvr_probe('eq', candidate(x), x + 1)" in scripts[0]


def test_const_eval_refuses_code():
    with pytest.raises(ValueError):
        ct.const_eval("__import__('os').system('true')")
    assert ct.const_eval("frozenset([1, -2.5, float('inf')])") == frozenset([1, -2.5, float("inf")])


# ---- benchmark loaders + canonical solutions (a handful; the full sweep is slow) ----------------

def _canonical_cases(benchmark_dir, limit):
    from data.benchmarks import get

    rows = get("humaneval").load(data_dir=benchmark_dir, limit=limit) + \
        get("mbpp").load(data_dir=benchmark_dir, limit=limit, split="all")
    code = [r.gold["prelude"] + r.metadata["canonical_solution"] if r.source == "humaneval"
            else r.metadata["reference_code"] for r in rows]
    return rows, code


def test_loaders_rows(benchmark_dir):
    from data.benchmarks import get

    humaneval, mbpp = get("humaneval"), get("mbpp")
    h, m = humaneval.load(data_dir=benchmark_dir), mbpp.load(data_dir=benchmark_dir)
    assert len(h) == 164 and len(m) == 257 and len(mbpp.load(data_dir=benchmark_dir, split="all")) == 427
    assert {r.verifier for r in h + m} == {"code"} and all(r.gold["tests"] or r.gold["scripts"] for r in h + m)
    assert humaneval.name == "humaneval" and mbpp.default_template == humaneval.default_template == "code"
    assert [r.id for r in humaneval.load(data_dir=benchmark_dir, limit=5, seed=1)] == \
           [r.id for r in humaneval.load(data_dir=benchmark_dir, limit=5, seed=1)]


def _corrupt(code: str, entry: str) -> str:
    return code + (f"\n_orig = {entry}\ndef {entry}(*a, **k):\n    r = _orig(*a, **k)\n"
                   "    return (not r) if isinstance(r, bool) else r * 1.5 + 1 if isinstance(r, float) else "
                   "r + 1 if isinstance(r, int) else r + r[:1] + type(r)('~') if isinstance(r, str) else '~'\n")


def _check_canonical(sandbox, benchmark_dir, limit):
    rows, code = _canonical_cases(benchmark_dir, limit)
    good = verify_code_batch([(c, r.gold, {}) for r, c in zip(rows, code)], sandbox)
    bad = verify_code_batch([(_corrupt(c, r.gold["entry_point"]), r.gold, {}) for r, c in zip(rows, code)], sandbox)
    assert [r.id for r, g in zip(rows, good) if g.score != 1.0] == []
    assert [r.id for r, b in zip(rows, bad) if b.score is None or b.score >= 1.0] == []


def test_canonical_solutions_handful(sandbox, benchmark_dir):
    _check_canonical(sandbox, benchmark_dir, limit=4)


@pytest.mark.slow
def test_canonical_solutions_all(sandbox, benchmark_dir):
    _check_canonical(sandbox, benchmark_dir, limit=None)


def test_refused_host_skips_every_row(monkeypatch):
    import rewards.code as code_mod
    from rewards.sandbox import SandboxRefused

    def refuse():
        raise SandboxRefused("no namespaces (simulated)")
    monkeypatch.setattr(code_mod, "default_sandbox", refuse)
    res = code_mod.verify_code_batch([(SUM_PROG, ECHO_SUM, {}), ("x", ADD, {})])
    assert [(r.score, r.reason) for r in res] == [(None, "sandbox_error")] * 2
    assert res[0].details["sandbox_mode"] == "refused"
