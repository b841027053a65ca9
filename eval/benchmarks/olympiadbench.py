"""OlympiadBench, English text-only open-ended maths (675 problems), scored by the math verifier.

Local: `unified/olympiadbench.jsonl`. Hub: Hothan/OlympiadBench, config OE_TO_maths_en_COMP.
Several final answers are joined with ", " into one gold (the verifier compares them as a
tuple/set); the unit, answer type and the list itself stay in metadata.
"""

from __future__ import annotations

from data.schema import Row
from eval.benchmarks.source import HubSpec, load_records, math_row

NAME = "olympiadbench"
DEFAULT_TEMPLATE = "boxed"
LOCAL_FILE = "unified/olympiadbench.jsonl"
HUB = HubSpec("Hothan/OlympiadBench", "OE_TO_maths_en_COMP", "train")


def from_local(rec: dict, i: int) -> Row:
    return math_row(NAME, rec["id"], rec["problem"], rec["answer"], answers=rec.get("answers"),
                    unit=rec.get("unit"), answer_type=rec.get("answer_type"), subject=rec.get("subject"),
                    solution=rec.get("solution"))


def from_hub(rec: dict, i: int) -> Row:
    answers = rec["final_answer"] if isinstance(rec["final_answer"], list) else [rec["final_answer"]]
    solution = rec.get("solution")
    return math_row(NAME, f"olympiadbench_{rec.get('id', i)}", rec["question"], ", ".join(answers),
                    answers=answers, unit=rec.get("unit"), answer_type=rec.get("answer_type"),
                    subject=rec.get("subfield"),
                    solution="\n".join(solution) if isinstance(solution, list) else solution)


def load(data_dir=None, limit: int | None = None, seed: int = 0) -> list[Row]:
    return load_records(LOCAL_FILE, HUB, from_local, from_hub, data_dir, limit, seed)
