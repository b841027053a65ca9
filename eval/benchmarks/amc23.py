"""AMC 2023 (40 problems, the Qwen2.5-Math / SimpleRL evaluation copy), scored by the math verifier.

Local: `unified/amc23.jsonl` (answers as integers, "27.0" -> "27"). Hub: math-ai/amc23.
"""

from __future__ import annotations

from data.schema import Row
from eval.benchmarks.source import HubSpec, integer_text, load_records, math_row, pick

NAME = "amc23"
DEFAULT_TEMPLATE = "boxed"
LOCAL_FILE = "unified/amc23.jsonl"
HUB = HubSpec("math-ai/amc23", None, "test")


def from_local(rec: dict, i: int) -> Row:
    return math_row(NAME, rec["id"], rec["problem"], rec["answer"], url=rec.get("url"))


def from_hub(rec: dict, i: int) -> Row:
    return math_row(NAME, f"amc23_{rec.get('id', i)}", pick(rec, "problem", "question"),
                    integer_text(pick(rec, "answer")), url=rec.get("url"))


def load(data_dir=None, limit: int | None = None, seed: int = 0) -> list[Row]:
    return load_records(LOCAL_FILE, HUB, from_local, from_hub, data_dir, limit, seed)
