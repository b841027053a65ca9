"""GSM8K test (1,319 grade-school word problems), scored by the math verifier.

Local: `unified/gsm8k_test.jsonl` (answer = text after "####", commas removed).
Hub: openai/gsm8k, config "main", split "test" (the same extraction is applied).
"""

from __future__ import annotations

from data.schema import Row
from eval.benchmarks.source import HubSpec, load_records, math_row

NAME = "gsm8k"
DEFAULT_TEMPLATE = "boxed"
LOCAL_FILE = "unified/gsm8k_test.jsonl"
HUB = HubSpec("openai/gsm8k", "main", "test")


def final_answer(solution: str) -> str:
    """GSM8K's gold: the text after the last "####", thousands separators removed."""
    if "####" not in solution:
        raise ValueError(f"GSM8K solution without '####': {solution[-80:]!r}")
    return solution.rsplit("####", 1)[1].strip().replace(",", "")


def from_local(rec: dict, i: int) -> Row:
    return math_row(NAME, rec["id"], rec["problem"], rec["answer"], solution=rec.get("solution"))


def from_hub(rec: dict, i: int) -> Row:
    return math_row(NAME, f"gsm8k_test_{i}", rec["question"], final_answer(rec["answer"]), solution=rec["answer"])


def load(data_dir=None, limit: int | None = None, seed: int = 0) -> list[Row]:
    return load_records(LOCAL_FILE, HUB, from_local, from_hub, data_dir, limit, seed)
