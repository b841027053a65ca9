"""MBPP sanitized (427 crowd-sourced Python problems, 257 in its test split), scored by "code".

Local: `unified/mbpp_sanitized.jsonl` (id, task_id, split, prompt, tests, test_imports, reference_code).
Hub: mbpp, config "sanitized" (task_id, prompt, code, test_imports, test_list).

The problem shows the task and its asserts, as in the MBPP paper ("Your code should pass these
tests:"), so the model knows the function name. Gold: `setup` = test_imports, each assert a call
test compared in the parent, or a script test when it cannot be (`rewards.code_tests`).
`load` returns the test split by default (the split MBPP results are reported on);
`load(split="all")` returns all 427 (used by benchmarks/check_code_benchmarks.py).

    python -m eval.benchmarks.source mbpp 3
"""

from __future__ import annotations

import ast
import warnings

from data.schema import Row, validate_row
from eval.benchmarks.source import HubSpec, load_hub, read_jsonl, seeded_subset
from pipeline.datadir import data_dir as resolve_data_dir
from rewards.code_tests import tests_from_asserts

NAME = "mbpp"
DEFAULT_TEMPLATE = "code"
LOCAL_FILE = "unified/mbpp_sanitized.jsonl"
HUB = HubSpec("mbpp", "sanitized", "test")
HUB_SPLITS = ("train", "test", "validation", "prompt")


def entry_point(asserts: list[str], reference: str) -> str | None:
    """The function the asserts call that the reference solution defines."""
    defined = {n.name for n in ast.walk(ast.parse(reference)) if isinstance(n, ast.FunctionDef)}
    for a in asserts:
        for node in ast.walk(ast.parse(a)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in defined:
                return node.func.id
    return None


def code_row(task_id, text: str, asserts: list[str], imports: list[str], reference: str, split: str) -> Row:
    with warnings.catch_warnings():  # MBPP's reference code has invalid escapes such as '\w'
        warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
        tests, scripts = tests_from_asserts(asserts)
        entry = entry_point(asserts, reference)
    gold = {"entry_point": entry, "setup": "\n".join(imports), "tests": tests}
    if scripts:
        gold["scripts"] = scripts
    problem = f"{text.strip()}\nYour code should pass these tests:\n\n" + "\n".join(asserts)
    row = Row(id=f"{NAME}/{task_id}", problem=problem, verifier="code", gold=gold, source=NAME, split="test",
              metadata={"task_id": task_id, "mbpp_split": split, "reference_code": reference})
    validate_row(row)
    return row


def load(data_dir=None, limit: int | None = None, seed: int = 0, split: str = "test") -> list[Row]:
    """MBPP sanitized rows of `split` ("test", "train", "validation", "prompt" or "all")."""
    root = resolve_data_dir(data_dir)
    if root is not None and (root / LOCAL_FILE).exists():
        rows = [code_row(r["task_id"], r["prompt"], r["tests"], r.get("test_imports") or [], r["reference_code"],
                         r["split"]) for r in read_jsonl(root / LOCAL_FILE)]
    else:
        if data_dir is not None and root is None:
            raise FileNotFoundError(f"benchmark data directory {data_dir} does not exist")
        rows = [code_row(r["task_id"], r["prompt"], r["test_list"], r.get("test_imports") or [], r["code"], s)
                for s in HUB_SPLITS for r in load_hub(HUB.path, HUB.name, s)]
    if split != "all":
        rows = [r for r in rows if r.metadata["mbpp_split"] == split]
    rows.sort(key=lambda r: r.metadata["task_id"])
    return seeded_subset(rows, limit, seed)
