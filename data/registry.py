"""One registry of data sources: a name maps to a loader, imported lazily from "module:attr".

A loader has the signature `loader(spec: SourceSpec) -> Iterator[Row | BadRecord]`: it yields
normalised rows, and a `BadRecord` (file, line, reason, raw text) for anything it cannot turn
into a row, so the curation stage can quarantine it instead of aborting. Every list of source
names (config validation, CLI help, docs) reads `names()`.

Add a source in one place:

    from data.registry import register
    @register("my_source")
    def load_my_source(spec): yield Row(...)

or list "module:attr" in `SOURCES` below.
"""

from __future__ import annotations

from pipeline.registry import Registry

SOURCES = Registry("data source", {
    "jsonl": "data.sources.jsonl:load_jsonl",
    "parquet": "data.sources.parquet:load_parquet",
    "hub": "data.sources.hub:load_hub",
    "gsm8k": "data.sources.benchmarks:load_gsm8k",
    "math": "data.sources.benchmarks:load_math",
    "aime24": "data.sources.benchmarks:load_aime24",
    "aime25": "data.sources.benchmarks:load_aime25",
    "amc23": "data.sources.benchmarks:load_amc23",
    "math500": "data.sources.benchmarks:load_math500",
    "minerva": "data.sources.benchmarks:load_minerva",
    "olympiadbench": "data.sources.benchmarks:load_olympiadbench",
    "hmmt": "data.sources.benchmarks:load_hmmt",
    "procedural": "data.sources.procedural:load_procedural",
    "reasoning_gym": "data.sources.reasoning_gym:load_reasoning_gym",
})
register, get, names = SOURCES.register, SOURCES.get, SOURCES.names
