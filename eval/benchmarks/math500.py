"""MATH-500 (the PRM800K test subset of MATH, 500 problems, levels 1-5), scored by the math verifier.

Local: `unified/math500.jsonl` (answer = last boxed of the solution). Hub: HuggingFaceH4/MATH-500.
"""

from __future__ import annotations

from data.schema import Row
from eval.benchmarks.source import HubSpec, load_records, math_row

NAME = "math500"
DEFAULT_TEMPLATE = "boxed"
LOCAL_FILE = "unified/math500.jsonl"
HUB = HubSpec("HuggingFaceH4/MATH-500", None, "test")


def _level(v) -> int | None:
    try:
        return int(str(v).replace("Level", "").strip())
    except ValueError:
        return None


def from_local(rec: dict, i: int) -> Row:
    return math_row(NAME, rec["id"], rec["problem"], rec["answer"], solution=rec.get("solution"),
                    subject=rec.get("subject"), level=_level(rec.get("level")))


def from_hub(rec: dict, i: int) -> Row:
    return math_row(NAME, rec["unique_id"], rec["problem"], rec["answer"], solution=rec.get("solution"),
                    subject=rec.get("subject"), level=_level(rec.get("level")))


def load(data_dir=None, limit: int | None = None, seed: int = 0) -> list[Row]:
    return load_records(LOCAL_FILE, HUB, from_local, from_hub, data_dir, limit, seed)
