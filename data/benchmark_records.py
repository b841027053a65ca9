"""What each benchmark's records look like: mappers from a record to the common fields of a row.

A mapper takes `(record, index, split)` and returns `{"id", "problem", "answer", ...}`; every other
key becomes row metadata (data.sources.base.record_to_source_row). The table in data/benchmarks.py
names two per benchmark:
- `original`: the original record, as on the Hugging Face hub and in the top-level local files
  (`<data_dir>/aime24.jsonl`, ...); ids are chosen to equal the unified ids where the hub has them;
- `unified`: the record of `<data_dir>/unified/<file>.jsonl` (id, problem, answer, ...), taken as
  it is unless a benchmark needs more (Minerva's answer clean-up, the code benchmarks' test specs).
Gold answers are text without delimiters; AIME/AMC integers lose leading zeros and ".0";
MATH/Minerva golds are the last `\\boxed{}` of the solution (rewards.extract.last_boxed, the
extractor the verifiers use). Code golds are the code verifier's tests dict (rewards.code_tests).
"""

from __future__ import annotations

import ast
import re
import warnings
from typing import Any, Callable

from rewards.extract import last_boxed

Mapper = Callable[[dict, int, str], dict]  # (record, index, benchmark split) -> common fields


def pick(record: dict[str, Any], *keys: str) -> Any:
    """The first present, non-empty field among `keys` (hub copies disagree on capitalisation)."""
    for k in keys:
        v = record.get(k)
        if v not in (None, "", []):
            return v
    raise KeyError(f"record has none of the fields {keys}; it has {sorted(record)}")


def integer_text(value: Any) -> str:
    """AIME/AMC answers: "025" -> "25", 27.0 -> "27"; other values as text."""
    s = str(value).strip()
    try:
        f = float(s)
    except ValueError:
        return s
    return str(int(f)) if f.is_integer() else s


def int_level(v: Any) -> int | None:
    """MATH difficulty: "Level 3" -> 3, 3 -> 3, anything without a digit -> None."""
    m = re.search(r"\d", str(v)) if v is not None else None
    return int(m.group()) if m else None


def gsm8k_answer(solution: str) -> str:
    """GSM8K's gold: the text after the last "####", thousands separators removed."""
    if "####" not in solution:
        raise ValueError(f"GSM8K solution without '####': {solution[-80:]!r}")
    return solution.rsplit("####", 1)[1].strip().replace(",", "")


def clean_answer(answer: str) -> str:
    """Drop "$ $" math-mode breaks inside a boxed answer (Minerva's minerva_72; they make the gold unparsable)
    and surrounding whitespace (minerva_86 ends in a newline)."""
    return re.sub(r"\$\s*\$", " ", answer).strip()


def gsm8k(r: dict, i: int, split: str) -> dict:
    return {"id": f"gsm8k_{split}_{i}", "problem": r["question"], "answer": gsm8k_answer(r["answer"]),
            "solution": r["answer"]}


def math_dataset(r: dict, i: int, split: str) -> dict:
    return {"id": r.get("unique_id"), "problem": r["problem"], "answer": last_boxed(r["solution"]),
            "solution": r["solution"], "level": int_level(r.get("level")), "subject": r.get("type")}


def math500(r: dict, i: int, split: str) -> dict:
    return {"id": r["unique_id"], "problem": r["problem"], "answer": r["answer"], "solution": r.get("solution"),
            "subject": r.get("subject"), "level": int_level(r.get("level"))}


def contest(id_prefix: str = "") -> Mapper:
    """AIME, AMC, HMMT: a problem, an answer, optional contest fields."""

    def mapper(r: dict, i: int, split: str) -> dict:
        rid = next((r[k] for k in ("id", "problem_idx") if r.get(k) is not None), i)
        return {"id": f"{id_prefix}{rid}", "problem": pick(r, "problem", "Problem", "question"),
                "answer": integer_text(pick(r, "answer", "Answer")), "solution": r.get("solution"),
                "url": r.get("url"), "contest": r.get("contest"), "problem_number": r.get("problem_number")}

    return mapper


def minerva(r: dict, i: int, split: str) -> dict:
    answer = r.get("answer") or last_boxed(r.get("solution") or "")
    if not answer:
        raise ValueError(f"minerva record {i} has neither an answer nor a boxed solution")
    return {"id": f"minerva_{r.get('idx', i)}", "problem": pick(r, "problem", "question"),
            "answer": clean_answer(answer), "solution": r.get("solution"), "subject": r.get("type")}


def minerva_unified(r: dict, i: int, split: str) -> dict:
    return {**r, "answer": clean_answer(r["answer"])}


def olympiadbench(r: dict, i: int, split: str) -> dict:
    answers = r["final_answer"] if isinstance(r["final_answer"], list) else [r["final_answer"]]
    solution = r.get("solution")
    return {"id": f"olympiadbench_{r.get('id', i)}", "problem": r["question"], "answer": ", ".join(answers),
            "answers": answers, "unit": r.get("unit"), "answer_type": r.get("answer_type"),
            "subject": r.get("subfield"), "solution": "\n".join(solution) if isinstance(solution, list) else solution}


def humaneval_gold(prompt: str, test: str, entry: str) -> dict:
    """The code verifier's gold of a HumanEval-style record: the prompt as `prelude`, the test module's
    top-level code as `setup`, `check(candidate)`'s asserts as call tests and the rest as a script test."""
    from rewards.code_tests import tests_from_check

    setup, tests, scripts = tests_from_check(test, entry)
    gold = {"entry_point": entry, "prelude": prompt, "setup": setup, "tests": tests}
    if scripts:
        gold["scripts"] = scripts
    return gold


def humaneval(r: dict, i: int, split: str) -> dict:
    """Problem = the prompt (signature + docstring). Gold: `humaneval_gold` (the prompt as `prelude`, so helpers
    it defines, e.g. `encode_cyclic`, exist and a body-only continuation still runs). `reference` = prompt +
    canonical solution, a completion the code verifier accepts."""
    task_id, prompt, entry = r.get("task_id") or r["id"], r["prompt"], r["entry_point"]
    gold = humaneval_gold(prompt, r["test"], entry)
    return {"id": task_id.split("/")[-1], "problem": prompt, "answer": gold, "verifier": "code", "task_id": task_id,
            "canonical_solution": r["canonical_solution"], "test": r["test"],
            "reference": prompt + r["canonical_solution"]}


MBPP_SPLITS = {"prompt": range(1, 11), "test": range(11, 511), "validation": range(511, 601), "train": range(601, 975)}


def mbpp_entry_point(asserts: list[str], reference: str) -> str | None:
    """The function the asserts call that the reference solution defines."""
    defined = {n.name for n in ast.walk(ast.parse(reference)) if isinstance(n, ast.FunctionDef)}
    for a in asserts:
        for node in ast.walk(ast.parse(a)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in defined:
                return node.func.id
    return None


def mbpp_gold(asserts: list[str], reference: str, setup: list[str] | None = None) -> dict:
    """The code verifier's gold of MBPP-style asserts: `setup` lines (test_imports), each assert a call test
    or a script test (rewards.code_tests), the entry point the function the reference defines and the asserts call."""
    from rewards.code_tests import tests_from_asserts

    with warnings.catch_warnings():  # MBPP's reference code has invalid escapes such as '\w'
        warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
        tests, scripts = tests_from_asserts(asserts)
        entry = mbpp_entry_point(asserts, reference)
    gold = {"entry_point": entry, "setup": "\n".join(setup or []), "tests": tests}
    if scripts:
        gold["scripts"] = scripts
    return gold


def mbpp_problem(prompt: str, asserts: list[str]) -> str:
    """The task and its asserts, as in the MBPP paper, so the model knows the function name."""
    return f"{prompt.strip()}\nYour code should pass these tests:\n\n" + "\n".join(asserts)


def mbpp(r: dict, i: int, split: str) -> dict:
    """MBPP sanitized, unified (tests, reference_code) or original/hub (test_list, code) record: problem
    `mbpp_problem`, gold `mbpp_gold` (setup = test_imports), `reference` = the reference code."""
    asserts, reference = r.get("tests") or r["test_list"], r.get("reference_code") or r["code"]
    gold = mbpp_gold(asserts, reference, r.get("test_imports"))
    task_id = r["task_id"]
    mbpp_split = r.get("split") or next(s for s, ids in MBPP_SPLITS.items() if task_id in ids)
    return {"id": task_id, "problem": mbpp_problem(r["prompt"], asserts), "answer": gold, "verifier": "code",
            "task_id": task_id, "mbpp_split": mbpp_split, "reference_code": reference, "reference": reference}
