"""Code verifier ("code" in the registry): run the completion's code in the sandbox, judge outside it.

Inputs: `completion` (model text; the last fenced ```python block, else the text after `</think>`,
else the whole text) and `gold`, a dict of tests:

    stdin/stdout:   {"tests": [{"input": "1 2\\n", "output": "3\\n"}, ...], "float_tol": 1e-6 (optional)}
    function-call:  {"entry_point": "add", "prelude": "<prompt code>", "setup": "import math",
                     "tests": [{"call": "candidate(1, 2)", "expected": "3"}, ...], "scripts": [...]}
                    (see `rewards.code_tests` for the test kinds and how HumanEval/MBPP asserts map)
Options: all_or_nothing (default False: score = fraction of tests passed), timeout_s (wall deadline
per sandbox run; default gold["timeout_s"] or 10 s for function tests, 6 s per stdin/stdout test),
memory_mb (default 1024), float_tol (stdout tokens), sandbox (a `rewards.sandbox.Sandbox`).

Output: `VerifyResult(score, reason, extracted=code, details)`; reasons `ok`, `no_answer`,
`compile_error`, `runtime_error`, `timeout`, `memory`, `output_limit`, `wrong_answer`, and
`sandbox_error` / `gold_unparsable` with score None (skip the row: infrastructure or gold at fault;
a host below the isolation minimum gives `sandbox_error` for every row, logged as an error).
details: passed, total, failures (reason counts), sandbox_mode.

Algorithm: function tests run in one sandbox process: the harness evaluates each call and frames
its *serialised* result; the parent decodes builtins and compares with `==` (an always-true
`__eq__` object cannot pass; expected values never enter the sandbox). stdin/stdout tests run one
process each, in parallel over the sandbox slots; stdout is compared after whitespace
normalisation (per-token float tolerance only when the gold or options give `float_tol`).
The exit code is never trusted: a test passes only when its own framed output (function) or its
stdout (program) is present and equal.

    python -m rewards.code   # smoke run: one passing and one failing completion
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from rewards.base import Reason, VerifyResult
from rewards.code_tests import NotConstant, const_eval, decode, values_equal
from rewards.sandbox import Limits, RunResult, Sandbox, SandboxRefused, default_sandbox

log = logging.getLogger(__name__)
MAX_COMPLETION_CHARS = 200_000
DEFAULT_TIMEOUT_FUNCTION_S = 10.0
DEFAULT_TIMEOUT_STDIO_S = 6.0
# When tests fail for different reasons, the reported reason is the first in this order.
REASON_PRIORITY = (Reason.COMPILE_ERROR, Reason.TIMEOUT, Reason.MEMORY, Reason.OUTPUT_LIMIT,
                   Reason.RUNTIME_ERROR, Reason.WRONG_ANSWER)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)```", re.S)
_OPEN_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*)$", re.S)


class _Skip(Exception):
    """The row cannot be judged (gold or infrastructure at fault): score None with this reason."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def extract_code(completion: str, entry_point: str | None = None) -> str | None:
    """The code to run: the last python fence (preferring one defining `entry_point`), else raw text."""
    text = completion[-MAX_COMPLETION_CHARS:]
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(text)]
    cands = [b for lang, b in blocks if lang in ("python", "python3", "py", "")] or [b for _, b in blocks]
    if cands:
        if entry_point:
            defining = [b for b in cands if re.search(rf"\bdef\s+{re.escape(entry_point)}\s*\(", b)]
            cands = defining or cands
        return cands[-1]
    m = _OPEN_FENCE.search(text)  # an unterminated fence (generation stopped mid-block)
    if m:
        return m.group(1)
    return text if text.strip() else None


def _limits(gold: dict, options: dict, default_timeout: float) -> Limits:
    timeout = float(options.get("timeout_s") or gold.get("timeout_s") or default_timeout)
    mem = int(options.get("memory_mb") or gold.get("memory_mb") or 1024) << 20
    return Limits(wall_s=timeout, memory_bytes=mem)


# ---- planning: completion + gold -> sandbox jobs and a grader ------------------------------------

def _plan(completion: str, gold: Any, options: dict):
    """(extracted code, jobs, grade(results) -> VerifyResult) or a finished VerifyResult."""
    if isinstance(gold, str):
        try:
            gold = json.loads(gold)
        except ValueError:
            return VerifyResult(None, Reason.GOLD_UNPARSABLE, None, {"error": "gold is not a JSON tests dict"})
    if not isinstance(gold, dict) or not isinstance(gold.get("tests"), list) or \
            not (gold["tests"] or gold.get("scripts")):
        return VerifyResult(None, Reason.GOLD_UNPARSABLE, None, {"error": "gold needs a non-empty 'tests' list"})
    entry = gold.get("entry_point")
    code = extract_code(completion or "", entry)
    if code is None:
        return VerifyResult(0.0, Reason.NO_ANSWER, None, {"error": "no code in the completion"})
    stdio = all("input" in t for t in gold["tests"]) and not gold.get("scripts")
    if stdio:
        return code, *_plan_stdio(code, gold, options)
    return code, *_plan_function(code, gold, options)


def _plan_stdio(code: str, gold: dict, options: dict):
    limits = _limits(gold, options, DEFAULT_TIMEOUT_STDIO_S)
    tol = options.get("float_tol", gold.get("float_tol"))
    tests = gold["tests"]
    jobs = [({"mode": "program", "code": code}, str(t["input"]).encode(), limits) for t in tests]

    def grade(results: list[RunResult]) -> list[str]:
        return [_grade_stdio(r, str(t.get("output", "")), tol) for r, t in zip(results, tests)]
    return jobs, grade


def _plan_function(code: str, gold: dict, options: dict):
    tests = [t for t in gold["tests"] if "call" in t]
    if len(tests) != len(gold["tests"]):
        raise _Skip(Reason.GOLD_UNPARSABLE, "function tests need a 'call' in every test")
    try:
        expected = [None if "truthy" in t else const_eval(t["expected"]) for t in tests]
    except (NotConstant, ValueError, SyntaxError, KeyError, TypeError, ZeroDivisionError) as e:
        raise _Skip(Reason.GOLD_UNPARSABLE, f"expected value is not a constant: {e}") from e
    entry, prelude = gold.get("entry_point"), gold.get("prelude") or ""
    if entry and prelude and not re.search(rf"\bdef\s+{re.escape(entry)}\s*\(", code):
        code, prelude = prelude + code, ""  # a body-only continuation of the prompt
    scripts = list(gold.get("scripts") or [])
    spec = {"mode": "function", "prelude": prelude, "setup": gold.get("setup") or "", "code": code,
            "entry_point": entry, "calls": [t["call"] for t in tests],
            "truthy": ["truthy" in t for t in tests], "scripts": scripts}
    jobs = [(spec, None, _limits(gold, options, DEFAULT_TIMEOUT_FUNCTION_S))]

    def grade(results: list[RunResult]) -> list[str]:
        return _grade_function(results[0], tests, expected, len(scripts))
    return jobs, grade


# ---- grading: raw run output -> one reason per test ("ok" = passed) -------------------------------

def parse_frames(data: bytes, nonce: str) -> list[dict]:
    mark = b"\x1eRLVR" + nonce.encode() + b" "
    frames = []
    for line in data.split(b"\n"):
        if line.startswith(mark):
            try:
                obj = json.loads(line[len(mark):])
            except (ValueError, RecursionError):  # forged or cut frames are ignored, never fatal
                continue
            if isinstance(obj, dict):
                frames.append(obj)
    return frames


def _run_failure(run: RunResult, err_frames: list[dict]) -> str | None:
    """A reason that fails every test of this run, or None; raises _Skip on infrastructure failure."""
    if run.status == "sandbox_error":
        raise _Skip(Reason.SANDBOX_ERROR, run.error)
    if not any(f.get("start") for f in err_frames):
        if run.status == "timeout":
            return Reason.TIMEOUT
        raise _Skip(Reason.SANDBOX_ERROR, f"harness did not start (rc={run.returncode}): "
                    + run.stderr.decode(errors="replace")[-300:])
    for f in err_frames:
        if "compile_error" in f:
            if f.get("where", "code") != "code":
                raise _Skip(Reason.GOLD_UNPARSABLE, f"gold {f['where']} does not compile")
            return Reason.COMPILE_ERROR
        if "toplevel_error" in f:
            if f.get("where") in ("prelude", "setup"):
                raise _Skip(Reason.GOLD_UNPARSABLE, f"gold {f['where']} raised {f['toplevel_error']}")
            return Reason.MEMORY if f["toplevel_error"] == "MemoryError" else Reason.RUNTIME_ERROR
    return None


def _missing(run: RunResult) -> str:
    """Why a test has no frame: the run was cut, or the code exited/crashed before it ran."""
    if run.status == "timeout" or _cpu_killed(run):
        return Reason.TIMEOUT
    if run.status == "output_limit":
        return Reason.OUTPUT_LIMIT
    if b"MemoryError" in run.stderr:
        return Reason.MEMORY
    return Reason.RUNTIME_ERROR


def _cpu_killed(run: RunResult) -> bool:
    return run.returncode in (-24, 128 + 24, -9, 128 + 9) and run.status == "exited"


def _grade_function(run: RunResult, tests: list[dict], expected: list, n_scripts: int) -> list[str]:
    failed = _run_failure(run, parse_frames(run.stderr, run.nonce))
    if failed:
        return [failed] * (len(tests) + n_scripts)
    frames = parse_frames(run.stdout, run.nonce)
    out = []
    for i, (t, exp) in enumerate(zip(tests, expected)):
        mine = [f for f in frames if f.get("t") == i]
        if len(mine) != 1:  # absent, or forged duplicates: never a pass
            out.append(_missing(run) if not mine else Reason.WRONG_ANSWER)
        elif "exc" in mine[0]:
            out.append(Reason.MEMORY if mine[0]["exc"] == "MemoryError" else Reason.RUNTIME_ERROR)
        else:
            out.append(Reason.OK if values_equal(decode(mine[0].get("v")), t, exp) else Reason.WRONG_ANSWER)
    for j in range(n_scripts):
        out.append(_grade_script([f for f in frames if f.get("s") == j], run))
    return out


def _grade_script(frames: list[dict], run: RunResult) -> str:
    done = [f for f in frames if f.get("done")]
    exc = [f for f in frames if "exc" in f]
    probes = [f for f in frames if "kind" in f]
    if exc:
        return Reason.MEMORY if exc[0]["exc"] == "MemoryError" else (
            Reason.WRONG_ANSWER if exc[0]["exc"] == "AssertionError" else Reason.RUNTIME_ERROR)
    if len(done) != 1 or not probes:
        return _missing(run) if not done else Reason.WRONG_ANSWER
    for p in probes:
        a = decode(p.get("a"))
        ok = values_equal(a, {"truthy": True}, None) if p["kind"] == "truthy" else \
            values_equal(a, {}, decode(p.get("b")))
        if not ok:
            return Reason.WRONG_ANSWER
    return Reason.OK


def normalise_output(text: str) -> list[str]:
    """Whitespace-normalised tokens of a program's output."""
    return text.split()


def _tokens_match(got: list[str], want: list[str], tol: float | None) -> bool:
    if got == want:
        return True
    if tol is None or len(got) != len(want):
        return False
    for a, b in zip(got, want):
        if a == b:
            continue
        try:
            fa, fb = float(a), float(b)
        except ValueError:
            return False
        if not abs(fa - fb) <= tol * max(1.0, abs(fb)):
            return False
    return True


def _grade_stdio(run: RunResult, want: str, tol: float | None) -> str:
    failed = _run_failure(run, parse_frames(run.stderr, run.nonce))
    if failed:
        return failed
    if run.status != "exited":
        return _missing(run)
    if run.returncode != 0:
        return _missing(run)
    got = run.stdout.decode("utf-8", errors="replace")
    return Reason.OK if _tokens_match(normalise_output(got), normalise_output(want), tol) else Reason.WRONG_ANSWER


# ---- public API ---------------------------------------------------------------------------------

def _result(code: str, outcomes: list[str], all_or_nothing: bool, mode: str, wall: float) -> VerifyResult:
    passed = sum(o == Reason.OK for o in outcomes)
    total = len(outcomes)
    fails = {r: outcomes.count(r) for r in set(outcomes) if r != Reason.OK}
    if passed == total:
        score, reason = 1.0, Reason.OK
    else:
        score = 0.0 if all_or_nothing else passed / total
        reason = next(r for r in REASON_PRIORITY if r in fails)
    details = {"passed": passed, "total": total, "failures": fails, "sandbox_mode": mode, "wall_s": round(wall, 4)}
    return VerifyResult(score, reason, code, details)


def verify_code_batch(items: list[tuple[str, Any, dict]], sandbox: Sandbox | None = None) -> list[VerifyResult]:
    """Verify many (completion, gold, options) at once: every sandbox run of every item is spread
    over the sandbox's slots. Results are in item order and do not depend on scheduling."""
    try:
        sb = sandbox or default_sandbox()
    except SandboxRefused as e:  # below the isolation minimum: never run the code, skip loudly
        log.error("code verifier refuses to run: %s", e)
        return [VerifyResult(None, Reason.SANDBOX_ERROR, None, {"error": str(e), "sandbox_mode": "refused"})
                for _ in items]
    plans: list = []
    jobs: list = []
    for completion, gold, options in items:
        try:
            plan = _plan(completion, gold, options)
        except _Skip as e:
            plan = VerifyResult(None, e.reason, None, {"error": str(e), "sandbox_mode": sb.mode.name})
        if isinstance(plan, VerifyResult):
            plan.details.setdefault("sandbox_mode", sb.mode.name)
            plans.append((plan, 0, 0))
            continue
        plans.append((plan, len(jobs), len(plan[1])))
        jobs.extend(plan[1])
    results = sb.run_many(jobs)
    out = []
    for (plan, start, n), (_, _, options) in zip(plans, items):
        if isinstance(plan, VerifyResult):
            out.append(plan)
            continue
        code, _, grade = plan
        runs = results[start:start + n]
        try:
            outcomes = grade(runs)
        except _Skip as e:
            out.append(VerifyResult(None, e.reason, code, {"error": str(e), "sandbox_mode": sb.mode.name}))
            continue
        out.append(_result(code, outcomes, bool(options.get("all_or_nothing")), sb.mode.name,
                           sum(r.wall_s for r in runs)))
    return out


def verify_code(completion: str, gold: Any, **options: Any) -> VerifyResult:
    """Registry entry "code": one completion against its tests (see the module docstring)."""
    sandbox = options.pop("sandbox", None)
    return verify_code_batch([(completion, gold, options)], sandbox)[0]


# The verifier pool's per-item deadline for "code": the sandbox enforces each run's own wall deadline
# (timeout_s, default 6-10 s per run), so the pool only needs a generous outer bound.
verify_code.deadline_s = 60.0


if __name__ == "__main__":
    g = {"entry_point": "add", "tests": [{"call": "candidate(1, 2)", "expected": "3"},
                                          {"call": "candidate(-1, 1)", "expected": "0"}]}
    print(verify_code("```python\ndef add(a, b):\n    return a + b\n```", g))
    print(verify_code("```python\ndef add(a, b):\n    return a - b\n```", g))
    print(verify_code("a, b = map(int, input().split())\nprint(a + b)", {"tests": [{"input": "1 2", "output": "3"}]}))
