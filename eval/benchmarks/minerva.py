"""Minerva Math / OCWCourses (272 undergraduate science problems), scored by the math verifier.

Local: `unified/minerva_math.jsonl` (answer = last boxed of the solution). Hub: math-ai/minervamath
(fields question/answer; when a copy has only a solution, its last \\boxed{} is the answer).
Answers are often decimals with units; the math verifier's numeric tolerance decides.
Data quirk fixed here: one boxed answer (minerva_72) breaks math mode inside the box
("...+$ $\\dot{x}_{0}..."); `clean_answer` removes such "$ $" breaks so the gold parses.
"""

from __future__ import annotations

import re

from data.schema import Row
from eval.benchmarks.source import HubSpec, last_boxed, load_records, math_row, pick

NAME = "minerva"
DEFAULT_TEMPLATE = "boxed"
LOCAL_FILE = "unified/minerva_math.jsonl"
HUB = HubSpec("math-ai/minervamath", None, "test")


def clean_answer(answer: str) -> str:
    """Drop "$ $" math-mode breaks inside a boxed answer (they make the gold unparsable)."""
    return re.sub(r"\$\s*\$", " ", answer)


def from_local(rec: dict, i: int) -> Row:
    return math_row(NAME, rec["id"], rec["problem"], clean_answer(rec["answer"]), solution=rec.get("solution"),
                    subject=rec.get("subject"))


def from_hub(rec: dict, i: int) -> Row:
    answer = rec.get("answer") or last_boxed(rec.get("solution") or "")
    if not answer:
        raise ValueError(f"minerva record {i} has neither an answer nor a boxed solution")
    return math_row(NAME, f"minerva_{rec.get('idx', i)}", pick(rec, "problem", "question"), clean_answer(answer),
                    solution=rec.get("solution"), subject=rec.get("type"))


def load(data_dir=None, limit: int | None = None, seed: int = 0) -> list[Row]:
    return load_records(LOCAL_FILE, HUB, from_local, from_hub, data_dir, limit, seed)
