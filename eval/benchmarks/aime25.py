"""AIME 2025 (I and II, 30 problems): integer answers, scored by the math verifier.

Local: `unified/aime25.jsonl` (MathArena copy; some problems include TikZ source). Hub: MathArena/aime_2025.
"""

from __future__ import annotations

from data.schema import Row
from eval.benchmarks.source import HubSpec, integer_text, load_records, math_row, pick

NAME = "aime25"
DEFAULT_TEMPLATE = "boxed"
LOCAL_FILE = "unified/aime25.jsonl"
HUB = HubSpec("MathArena/aime_2025", None, "train")


def from_local(rec: dict, i: int) -> Row:
    return math_row(NAME, rec["id"], rec["problem"], rec["answer"], contest=rec.get("contest"),
                    problem_number=rec.get("problem_number"))


def from_hub(rec: dict, i: int) -> Row:
    return math_row(NAME, rec.get("id", rec.get("problem_idx", i)), pick(rec, "problem", "question"),
                    integer_text(pick(rec, "answer")))


def load(data_dir=None, limit: int | None = None, seed: int = 0) -> list[Row]:
    return load_records(LOCAL_FILE, HUB, from_local, from_hub, data_dir, limit, seed)
