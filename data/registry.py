"""One registry of data sources: a name maps to a loader, imported lazily from "module:attr".

A loader has the signature `loader(spec: SourceSpec) -> Iterator[Row | BadRecord]`: it yields
normalised rows, and a `BadRecord` (file, line, reason, raw text) for anything it cannot turn
into a row, so the curation stage can quarantine it instead of aborting. Every list of source
names (config validation, CLI help, docs) reads `names()`.

Add a source in one place:

    from data.registry import register
    @register("my_source")
    def load_my_source(spec): yield Row(...)

or list "module:attr" in `SOURCES` below. Every benchmark of the one benchmark table
(data/benchmarks.py) is a source under its own name (`kind: gsm8k`, options {split: train}).
"""

from __future__ import annotations

from data import benchmarks
from pipeline.registry import Registry

SOURCES = Registry("data source", {
    "jsonl": "data.sources.jsonl:load_jsonl",
    "parquet": "data.sources.parquet:load_parquet",
    "hub": "data.sources.hub:load_hub",
    "hub_code": "data.sources.hub_code:load_hub_code",  # mbpp / humaneval / apps (TACO, CodeContests) code sets
    **{name: "data.benchmarks:load_source" for name in benchmarks.names()},  # gsm8k, math, aime24, ...
    "procedural": "data.sources.procedural:load_procedural",
    "procedural_code": "data.sources.procedural_code:load_procedural_code",
    "reasoning_gym": "data.sources.reasoning_gym:load_reasoning_gym",
})
register, get, names = SOURCES.register, SOURCES.get, SOURCES.names
