"""Which problems an evaluation run asks: config -> one `BenchTask` per benchmark (rows, template, buckets).

Inputs: `EvalConfig` (benchmark names and per-benchmark limits, user JSONL files, the template) and,
optionally, a curate/difficulty stage directory whose `dataset_split` rows become benchmark "heldout".
Outputs: `BenchTask(name, template, rows, bucket_by)` in report order: heldout first, then the named
benchmarks, then the JSONL files.

Choices: rows come from the one benchmark table (`eval.benchmarks.registry`, over data/benchmarks.py);
a limit takes a seeded subset (`data.benchmarks.seeded_subset`), so the same seed asks the same
problems; the template is the config's, else the benchmark's own. Problem ids must be unique within a
benchmark (resume and audit key on them): a duplicate is an error, not a silent merge. Held-out rows
are split into buckets by a metadata key (or "source"/"split"), named "<key>=<value>" (`bucket_of`).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

from data.benchmarks import seeded_subset
from data.schema import Row
from eval.benchmarks import registry as bench_registry
from eval.config import EvalConfig
from pipeline.prompts import template_for


@dataclasses.dataclass
class BenchTask:
    name: str
    template: str
    rows: list[Row]
    bucket_by: str | None = None  # metadata key whose values give per-bucket figures
    templates: dict[str, str] | None = None  # per-verifier templates over `template` (config `templates`)


def bucket_of(row: Row, key: str) -> str:
    value = getattr(row, key) if key in ("source", "split") else row.metadata.get(key)
    return f"{key}={value}"


def load_tasks(cfg: EvalConfig, dataset_dir: Path | None = None) -> list[BenchTask]:
    tasks = []
    if dataset_dir is not None:
        from data.schema import read_rows_parquet

        rows = read_rows_parquet(dataset_dir / "dataset.parquet", split=cfg.dataset_split)
        if not rows:
            raise ValueError(f"{dataset_dir}/dataset.parquet has no {cfg.dataset_split!r} rows to evaluate")
        rows = seeded_subset(rows, cfg.limits.get("heldout") or None, cfg.seed)
        tasks.append(BenchTask("heldout", cfg.template or "boxed", rows, cfg.dataset_bucket_by))
    for name in cfg.benchmarks:
        bench = bench_registry.get(name)
        rows = bench.load(data_dir=cfg.data_dir, limit=cfg.limits.get(name) or None, seed=cfg.seed)
        tasks.append(BenchTask(name, cfg.template or bench.default_template, rows))
    jsonl = bench_registry.get("jsonl")
    for spec in cfg.jsonl:
        rows = jsonl.load(limit=cfg.limits.get(spec.name) or None, seed=cfg.seed, path=spec.path, name=spec.name,
                          verifier=spec.verifier, problem_field=spec.problem_field, gold_field=spec.gold_field,
                          id_field=spec.id_field)
        tasks.append(BenchTask(spec.name, spec.template or cfg.template or jsonl.default_template, rows))
    for t in tasks:
        t.templates = cfg.templates
        used = {template_for(r.verifier, t.template, t.templates) for r in t.rows}
        if len(used) == 1:  # every row is asked one way (e.g. a code heldout split): name that template
            t.template = used.pop()
        dup = [i for i, c in Counter(r.id for r in t.rows).items() if c > 1]
        if dup:
            raise ValueError(f"benchmark {t.name!r}: duplicate problem ids {dup[:5]} (resume and audit need unique ids)")
    return tasks
