"""Adapters for the standard math sets: gsm8k, math (level and subject kept), aime24, aime25,
amc23, math500, minerva, olympiadbench, hmmt.

Where the data comes from, first match wins:
1. `<data_dir>/unified/<file>.jsonl` (the small common schema: id, problem, answer, level, subject);
2. `<data_dir>/<file>.jsonl` (original records, mapped by the adapter's `original` function);
3. the Hugging Face hub name in the table below (through `datasets.load_dataset`).
`data_dir` is `options.data_dir`, else `RLVR_DATA_DIR`, else `../shared/benchmarks` (see
pipeline.datadir). Options: `split` ("train" or "test", for gsm8k and math), `data_dir`,
`prefer` ("unified" | "original" | "hub").

    - kind: math
      options: {split: train}
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, Callable, Iterator

from data.schema import Row
from data.sources.base import BadRecord, SourceSpec, read_jsonl
from pipeline.datadir import data_dir as _data_dir


def last_boxed(text: str) -> str | None:
    """Contents of the last \\boxed{...} or \\fbox{...} in `text`, braces balanced (None if absent)."""
    idx = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if idx < 0:
        return None
    start = text.find("{", idx)
    if start < 0:
        return None
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1 : i].strip()
    return None


def _int_level(v: Any) -> int | None:
    m = re.search(r"\d", str(v)) if v is not None else None
    return int(m.group()) if m else None


def _num(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    s = str(v).strip()
    return str(int(s)) if s.isdigit() else s


_ORIGINAL: dict[str, Callable[[dict], dict]] = {
    "gsm8k": lambda r: {"problem": r["question"], "answer": r["answer"].split("####")[-1].strip().replace(",", ""),
                        "solution": r["answer"]},
    "math": lambda r: {"id": r.get("unique_id"), "problem": r["problem"], "answer": last_boxed(r["solution"]),
                       "level": _int_level(r.get("level")), "subject": r.get("type")},
    "aime": lambda r: {"id": r.get("id"), "problem": r["problem"], "answer": _num(r["answer"])},
    "amc23": lambda r: {"id": r.get("id"), "problem": r["problem"], "answer": _num(r["answer"])},
    "math500": lambda r: {"id": r.get("unique_id"), "problem": r["problem"], "answer": r["answer"],
                          "level": _int_level(r.get("level")), "subject": r.get("subject")},
    "minerva": lambda r: {"id": r.get("idx"), "problem": r["problem"], "answer": last_boxed(r["solution"])},
    "olympiadbench": lambda r: {"id": r.get("id"), "problem": r["question"],
                                "answer": ", ".join(r.get("final_answer") or [])},
}


@dataclasses.dataclass(frozen=True)
class Bench:
    files: dict[str, str]  # split -> file stem (same name under unified/ and at the top level)
    original: Callable[[dict], dict]
    hub: dict[str, tuple[str, str | None, str]]  # split -> (hub name, config, hub split)
    hub_keys: tuple[str, str] = ("problem", "answer")  # problem and answer fields on the hub


BENCHMARKS: dict[str, Bench] = {
    "gsm8k": Bench({"train": "gsm8k_train", "test": "gsm8k_test"}, _ORIGINAL["gsm8k"],
                   {"train": ("openai/gsm8k", "main", "train"), "test": ("openai/gsm8k", "main", "test")},
                   ("question", "answer")),
    "math": Bench({"train": "math_train", "test": "math_test_full"}, _ORIGINAL["math"],
                  {"train": ("DigitalLearningGmbH/MATH-lighteval", None, "train"),
                   "test": ("DigitalLearningGmbH/MATH-lighteval", None, "test")}, ("problem", "solution")),
    "aime24": Bench({"test": "aime24"}, _ORIGINAL["aime"], {"test": ("HuggingFaceH4/aime_2024", None, "train")}),
    "aime25": Bench({"test": "aime25"}, _ORIGINAL["aime"], {"test": ("MathArena/aime_2025", None, "train")}),
    "amc23": Bench({"test": "amc23"}, _ORIGINAL["amc23"], {"test": ("math-ai/amc23", None, "test")},
                   ("question", "answer")),
    "math500": Bench({"test": "math500"}, _ORIGINAL["math500"], {"test": ("HuggingFaceH4/MATH-500", None, "test")}),
    "minerva": Bench({"test": "minerva_math"}, _ORIGINAL["minerva"], {"test": ("math-ai/minervamath", None, "test")},
                     ("question", "answer")),
    "olympiadbench": Bench({"test": "olympiadbench"}, _ORIGINAL["olympiadbench"],
                           {"test": ("Hothan/OlympiadBench", "OE_TO_maths_en_COMP", "train")},
                           ("question", "final_answer")),
    "hmmt": Bench({"test": "hmmt_feb25"}, _ORIGINAL["aime"], {"test": ("MathArena/hmmt_feb_2025", None, "train")}),
}


def _default_split(bench: Bench, spec: SourceSpec) -> str:
    split = spec.options.get("split") or ("train" if "train" in bench.files and spec.split == "train" else "test")
    if split not in bench.files:
        raise ValueError(f"source {spec.label!r}: split {split!r} not available; choose one of {sorted(bench.files)}")
    return split


def _from_hub(bench: Bench, split: str, spec: SourceSpec) -> Iterator[Row | BadRecord]:
    from data.sources.hub import load_hub

    name, config, hub_split = bench.hub[split]
    pk, ak = bench.hub_keys
    opts = {"name": name, "config": config, "hub_split": hub_split, "problem_key": pk, "answer_key": ak}
    if name == "openai/gsm8k":
        opts["answer_regex"] = r"####\s*(.*)$"
    hub_spec = dataclasses.replace(spec, options={**opts, **spec.options})
    for item in load_hub(hub_spec):
        if isinstance(item, Row) and ak == "solution":
            item.gold = last_boxed(item.gold) or ""
        if isinstance(item, Row) and isinstance(item.gold, list):
            item.gold = ", ".join(map(str, item.gold))
        yield item


def load_benchmark(key: str, spec: SourceSpec) -> Iterator[Row | BadRecord]:
    bench = BENCHMARKS[key]
    split = _default_split(bench, spec)
    stem = bench.files[split]
    root = _data_dir(spec.options.get("data_dir"))
    prefer = spec.options.get("prefer", "unified")
    if root is not None and prefer != "hub":
        order = [("unified", None), ("", bench.original)]
        if prefer == "original":
            order.reverse()
        for sub, mapper in order:
            path = root / sub / f"{stem}.jsonl" if sub else root / f"{stem}.jsonl"
            if path.exists():
                yield from read_jsonl(path, spec, mapper)
                return
    yield from _from_hub(bench, split, spec)


def _adapter(key: str):
    def load(spec: SourceSpec) -> Iterator[Row | BadRecord]:
        return load_benchmark(key, spec)

    load.__name__ = f"load_{key}"
    load.__doc__ = f"Rows of the {key} benchmark (see module docstring for where they are read from)."
    return load


load_gsm8k = _adapter("gsm8k")
load_math = _adapter("math")
load_aime24 = _adapter("aime24")
load_aime25 = _adapter("aime25")
load_amc23 = _adapter("amc23")
load_math500 = _adapter("math500")
load_minerva = _adapter("minerva")
load_olympiadbench = _adapter("olympiadbench")
load_hmmt = _adapter("hmmt")
