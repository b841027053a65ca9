"""AIME 2024 (I and II, 30 problems): integer answers 0-999, scored by the math verifier.

Local: `unified/aime24.jsonl` (answers without leading zeros). Hub: HuggingFaceH4/aime_2024.
"""

from __future__ import annotations

from data.schema import Row
from eval.benchmarks.source import HubSpec, integer_text, load_records, math_row, pick

NAME = "aime24"
DEFAULT_TEMPLATE = "boxed"
LOCAL_FILE = "unified/aime24.jsonl"
HUB = HubSpec("HuggingFaceH4/aime_2024", None, "train")


def from_local(rec: dict, i: int) -> Row:
    return math_row(NAME, rec["id"], rec["problem"], rec["answer"], solution=rec.get("solution"),
                    contest=rec.get("contest"), problem_number=rec.get("problem_number"))


def from_hub(rec: dict, i: int) -> Row:
    return math_row(NAME, rec.get("id", i), pick(rec, "problem", "Problem", "question"),
                    integer_text(pick(rec, "answer", "Answer")), solution=rec.get("solution"), url=rec.get("url"))


def load(data_dir=None, limit: int | None = None, seed: int = 0) -> list[Row]:
    return load_records(LOCAL_FILE, HUB, from_local, from_hub, data_dir, limit, seed)
