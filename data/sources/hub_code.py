"""Code-problem source `hub_code`: a Hugging Face code dataset in one of the usual test formats -> code rows.

Input: a dataset opened exactly as the `hub` source opens it (data.sources.hub.open_dataset: `options.name`,
`config`, `hub_split`; a `path` to a `save_to_disk` copy; or `options.data_files` with `builder: json`),
and `options.format`, the layout of its records:

- `mbpp`: text|prompt, test_list|tests (assert strings), code|reference_code, optional test_imports and
  test_setup_code (original MBPP: it builds inputs with the solution's classes, so it and the asserts become
  one script test run after the code). Problem = the task and its asserts (data.benchmark_records.mbpp_problem,
  so the model knows the function name); gold = data.benchmark_records.mbpp_gold; reference = the code.
- `humaneval`: prompt, test (with `check(candidate)`), entry_point, canonical_solution. Problem = the
  prompt; gold = data.benchmark_records.humaneval_gold; reference = prompt + canonical_solution.
- `apps` (APPS, TACO, CodeContests-style): question (or `problem_key`); input_output (or `tests_key`: one
  key or a list whose tests are concatenated), a JSON string or dict {"inputs"|"input": [...],
  "outputs"|"output": [...], optional "fn_name"}; solutions, a JSON list of programs (the first is the
  reference) or CodeContests' {"language": [...], "solution": [...]} (the first Python 3 one).
  Without fn_name: stdin/stdout tests {"input", "output"} (a list of lines is joined with newlines).
  With fn_name: call tests {"call": "candidate(*inputs)", "expected": repr(output)}; an output that is a
  one-element list is unwrapped (APPS/TACO wrap return values; `unwrap_outputs: false` turns it off);
  with a `class Solution` starter the call is `Solution().fn(...)`; gold `setup` = APPS_SETUP (imports
  LeetCode solutions assume; option `setup` replaces it). The starter code (or the function's name) is
  appended to the problem. A record without solutions has no reference (curation keeps it unchecked,
  data/validate.py) unless `require_reference: true` makes it a BadRecord.

Output: Rows with verifier "code", gold = the code verifier's tests dict (rewards/code.py), id
"<label>/<task_id|problem_id|id|name>" (or `id_key`; else "<label>/<split>/<i>"), metadata: origin
"<where>#i", format, reference, and the record's task_id/problem_id/difficulty/url/name/entry_point when
present (`verifier_options` is copied when given). A record with a missing field or unusable tests is a
BadRecord (`missing_field`, `bad_tests`, `bad_reference`, `missing_reference`; a field of an unexpected
type: `malformed_record`) naming "<where>#i", never an exception. `max_tests` keeps the first N tests;
`limit` counts rows, not records.

    - kind: hub_code
      options: {name: google-research-datasets/mbpp, config: full, hub_split: train, format: mbpp}
    - kind: hub_code
      options: {name: openai/openai_humaneval, hub_split: test, format: humaneval}
    - kind: hub_code
      name: apps
      options: {builder: json, data_files: /data/apps/train.jsonl, format: apps, max_tests: 20}
    - kind: hub_code
      name: code_contests
      options: {name: deepmind/code_contests, format: apps, problem_key: description,
                tests_key: [public_tests, private_tests], max_tests: 20}
"""

from __future__ import annotations

import json
import warnings
from typing import Any, Iterator

from data import benchmark_records as R
from data.schema import Row
from data.sources.base import BadRecord, SourceSpec
from data.sources.hub import open_dataset
from rewards.code_tests import NotConstant, const_eval, to_probe_script

_META_KEYS = ("task_id", "problem_id", "difficulty", "url", "name")
_ID_KEYS = ("task_id", "problem_id", "id", "name")
_PYTHON3 = 3  # CodeContests' language code of Python 3 solutions
# What LeetCode-style (call-based) solutions take for granted, e.g. `List[int]` annotations.
APPS_SETUP = "import bisect, collections, functools, heapq, itertools, math, re, string\nfrom typing import *"


class _Bad(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _field(rec: dict, *keys: str) -> Any:
    try:
        return R.pick(rec, *keys)
    except KeyError as e:
        raise _Bad("missing_field", str(e).strip("'\"")) from None


def _json(value: Any, what: str) -> Any:
    """A JSON string parsed, any other value as is (hub copies store nested fields either way)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError) as e:
        raise _Bad("bad_tests" if what == "tests" else "bad_reference", f"{what} is not JSON: {e}") from None


def _mbpp(rec: dict, opts: dict) -> tuple[str, dict, str | None]:
    prompt = _field(rec, opts.get("problem_key", "prompt"), "text", "prompt")
    asserts = _json(_field(rec, "test_list", "tests"), "tests")
    reference = _field(rec, "code", "reference_code")
    if not isinstance(asserts, list) or not all(isinstance(a, str) for a in asserts):
        raise _Bad("bad_tests", f"test_list must be a list of assert strings, got {type(asserts).__name__}")
    try:
        with warnings.catch_warnings():  # invalid escapes such as '\w' in MBPP-style references
            warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
            compile(reference, "reference", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, TypeError) as e:
        raise _Bad("bad_reference", f"reference does not compile: {e}") from None
    setup_code = (rec.get("test_setup_code") or "").strip()
    try:
        gold = R.mbpp_gold(asserts, reference, rec.get("test_imports"))
        if setup_code:  # it builds inputs from the solution's own classes, so it runs after the code: one script
            gold.update(tests=[], scripts=[to_probe_script(setup_code + "\n" + "\n".join(asserts))])
    except (SyntaxError, ValueError, TypeError) as e:
        raise _Bad("bad_tests", f"an assert does not parse: {e}") from None
    return R.mbpp_problem(prompt, asserts), gold, reference


def _humaneval(rec: dict, opts: dict) -> tuple[str, dict, str | None]:
    prompt, test = _field(rec, opts.get("problem_key", "prompt"), "prompt"), _field(rec, "test")
    entry, solution = _field(rec, "entry_point"), _field(rec, "canonical_solution")
    try:
        gold = R.humaneval_gold(prompt, test, entry)
    except (SyntaxError, ValueError, TypeError, StopIteration) as e:
        raise _Bad("bad_tests", f"test is not a module with check(candidate): {type(e).__name__} {e}") from None
    return prompt, gold, prompt + solution


def _text(x: Any) -> str:
    return "\n".join(map(str, x)) if isinstance(x, list) else str(x)


def _apps_tests(rec: dict, opts: dict) -> tuple[list[dict], str | None]:
    keys = opts.get("tests_key", "input_output")
    inputs, outputs, fn = [], [], None
    for key in [keys] if isinstance(keys, str) else keys:
        io = _json(_field(rec, key), "tests")
        if not isinstance(io, dict):
            raise _Bad("bad_tests", f"{key} is not an object with inputs/outputs")
        ins, outs = io.get("inputs", io.get("input")), io.get("outputs", io.get("output"))
        if not isinstance(ins, list) or not isinstance(outs, list) or len(ins) != len(outs):
            raise _Bad("bad_tests", f"{key} needs equally long inputs and outputs lists")
        inputs, outputs, fn = inputs + ins, outputs + outs, fn or io.get("fn_name")
    if not inputs:
        raise _Bad("bad_tests", "no tests")
    pairs = list(zip(inputs, outputs))[:opts.get("max_tests")]
    if not fn:
        return [{"input": _text(i), "output": _text(o)} for i, o in pairs], None
    unwrap, tests = opts.get("unwrap_outputs", True), []
    for args, out in pairs:
        args = args if isinstance(args, list) else [args]
        out = out[0] if unwrap and isinstance(out, list) and len(out) == 1 else out
        try:
            expected = repr(out)
            const_eval(expected)  # the verifier evaluates it in the parent: it must be a literal
        except (NotConstant, ValueError, SyntaxError, TypeError, RecursionError, MemoryError) as e:
            raise _Bad("bad_tests", f"expected output is not a Python literal: {e}") from None
        tests.append({"call": f"candidate({', '.join(map(repr, args))})", "expected": expected})
    return tests, str(fn)


def _apps_reference(rec: dict) -> str | None:
    sols = _json(rec.get("solutions") or None, "solutions")  # APPS' test split has "" for none
    if isinstance(sols, dict):  # CodeContests: {"language": [...], "solution": [...]}
        langs = sols.get("language") or []
        sols = [s for lang, s in zip(langs, sols.get("solution") or []) if lang == _PYTHON3]
    sols = [s for s in sols or [] if isinstance(s, str) and s.strip()] if isinstance(sols, list) else []
    return sols[0] if sols else None


def _apps(rec: dict, opts: dict) -> tuple[str, dict, str | None]:
    question = _field(rec, opts.get("problem_key", "question"), "question", "problem", "description")
    tests, fn = _apps_tests(rec, opts)
    reference = _apps_reference(rec)
    if reference is None and opts.get("require_reference"):
        raise _Bad("missing_reference", "no usable solution")
    starter = rec.get("starter_code") or ""
    if fn is None:
        return question, {"tests": tests}, reference
    if "class Solution" in starter:  # LeetCode style: the function is a method
        tests = [{**t, "call": t["call"].replace("candidate(", f"Solution().{fn}(", 1)} for t in tests]
    gold = {"entry_point": None if "class Solution" in starter else fn, "setup": opts.get("setup", APPS_SETUP),
            "tests": tests}
    hint = f"\n\n```python\n{starter.rstrip()}\n```" if starter.strip() else f"\n\nWrite a function `{fn}`."
    return question.rstrip() + hint, gold, reference


FORMATS = {"mbpp": _mbpp, "humaneval": _humaneval, "apps": _apps}


def load_hub_code(spec: SourceSpec) -> Iterator[Row | BadRecord]:
    opts = spec.options
    fmt = opts.get("format")
    if fmt not in FORMATS:
        raise ValueError(f"source {spec.label!r}: kind hub_code needs options.format, one of {sorted(FORMATS)}; "
                         f"got {fmt!r}")
    ds, where = open_dataset(spec)
    n = 0
    for i, rec in enumerate(ds):
        origin, rec = f"{where}#{i}", dict(rec)
        try:
            problem, gold, reference = FORMATS[fmt](rec, opts)
            if not (gold.get("tests") or gold.get("scripts")):
                raise _Bad("bad_tests", "no tests")
        except _Bad as e:
            yield BadRecord(spec.label, origin, e.reason, e.detail, json.dumps(rec, default=str)[:500])
            continue
        except (KeyError, TypeError, AttributeError, ValueError) as e:  # a field of an unexpected type
            yield BadRecord(spec.label, origin, "malformed_record", f"{type(e).__name__}: {e}",
                            json.dumps(rec, default=str)[:500])
            continue
        meta = {k: rec[k] for k in _META_KEYS if rec.get(k) not in (None, "")}
        meta.update(origin=origin, format=fmt)
        if gold.get("entry_point"):
            meta["entry_point"] = gold["entry_point"]
        if reference is not None:
            meta["reference"] = reference
        if opts.get("verifier_options"):
            meta["verifier_options"] = dict(opts["verifier_options"])
        rid = rec.get(opts["id_key"]) if opts.get("id_key") else next(
            (rec[k] for k in _ID_KEYS if rec.get(k) not in (None, "")), None)
        yield Row(id=f"{spec.label}/{rid}" if rid not in (None, "") else f"{spec.label}/{spec.split}/{i}",
                  problem=str(problem), verifier="code", gold=gold, source=spec.label, split=spec.split,
                  metadata=meta)
        n += 1
        if spec.limit is not None and n >= spec.limit:
            return
