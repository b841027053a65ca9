"""HumanEval (164 hand-written Python functions), scored by the sandboxed code verifier ("code").

Local: `unified/humaneval.jsonl` (id, prompt, entry_point, test, canonical_solution).
Hub: openai_humaneval, split "test" (task_id, prompt, canonical_solution, test, entry_point).

Each row's problem is the prompt (signature + docstring); gold is the code verifier's tests dict:
the prompt as `prelude` (so helpers defined in it, e.g. `encode_cyclic`, exist and a body-only
continuation still runs), the test module's top-level code as `setup`, `check(candidate)`'s
asserts as call tests compared in the parent, and the rest as a script test
(`rewards.code_tests.tests_from_check`). metadata keeps task_id, canonical_solution and test.

    python -m eval.benchmarks.source humaneval 3
"""

from __future__ import annotations

from data.schema import Row, validate_row
from eval.benchmarks.source import HubSpec, load_records
from rewards.code_tests import tests_from_check

NAME = "humaneval"
DEFAULT_TEMPLATE = "code"
LOCAL_FILE = "unified/humaneval.jsonl"
HUB = HubSpec("openai_humaneval", None, "test")


def code_row(task_id: str, prompt: str, entry_point: str, test: str, canonical: str) -> Row:
    setup, tests, scripts = tests_from_check(test, entry_point)
    gold = {"entry_point": entry_point, "prelude": prompt, "setup": setup, "tests": tests}
    if scripts:
        gold["scripts"] = scripts
    row = Row(id=f"{NAME}/{task_id.split('/')[-1]}", problem=prompt, verifier="code", gold=gold, source=NAME,
              split="test", metadata={"task_id": task_id, "canonical_solution": canonical, "test": test})
    validate_row(row)
    return row


def from_local(rec: dict, i: int) -> Row:
    return code_row(rec["id"], rec["prompt"], rec["entry_point"], rec["test"], rec["canonical_solution"])


def from_hub(rec: dict, i: int) -> Row:
    return code_row(rec["task_id"], rec["prompt"], rec["entry_point"], rec["test"], rec["canonical_solution"])


def load(data_dir=None, limit: int | None = None, seed: int = 0) -> list[Row]:
    return load_records(LOCAL_FILE, HUB, from_local, from_hub, data_dir, limit, seed)
