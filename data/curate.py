"""Curation stage: sources -> validated, deduplicated, decontaminated rows in one schema.

Reads: the sources named in the config (local JSONL/Parquet, hub datasets, benchmark adapters,
procedural generators; see `data.registry`) and the evaluation sets to decontaminate against.
No input manifest (it is the first stage).
Writes (under --out): `dataset.parquet` (all kept rows, `split` column: train / eval / test),
`quarantine.jsonl` (every row or line that could not be used, with reason and file:line),
`removed.jsonl` (every duplicate and contaminated row, with the row or benchmark item it
matched), `decontamination_report.json`, and `manifest.json` (last) whose metrics hold
rows_in = kept + quarantined + duplicates + contaminated, per source, bucket, quarantine
reason and removal reason.

Order of checks (each row lands in exactly one outcome):
1. load: a line a loader cannot parse -> quarantine `malformed_json` / `missing_field` / ...;
   a repeated row id -> quarantine `duplicate_id`; an optional source whose library is
   missing (reasoning-gym) is skipped and listed in `sources_skipped`;
2. validate (`data.validate`): schema, known verifier, the gold self-verifies through its
   verifier (`gold_unparsable`, `gold_not_self_verifying`, ...), a code row's reference solution
   (`metadata.reference`) passes its tests in the sandbox (`reference_failed:<reason>`,
   `reference_unjudged:<reason>`) -> quarantine; code rows without a reference are kept and
   counted (metrics `code_rows_without_reference`);
3. deduplicate per split (`data.dedup`: exact + MinHash/LSH) -> `duplicate_exact` / `duplicate_near`;
4. decontaminate train rows (`data.decontam`): word 8-gram overlap with the benchmark sets
   -> `contaminated:<benchmark>`, then exact/near matches with this dataset's own eval split
   -> `contaminated:eval_split`.
Prompts are not rendered here (templates are applied at train time).

    python scripts/01_curate.py --config configs/curate_demo.yaml --out runs/curate_demo
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any, Literal

from data import registry
from data.curriculum import bucket_rows
from data.decontam import ContamMatch, DecontamConfig, NgramIndex, decontaminate
from data.dedup import DedupConfig, NearDupIndex, deduplicate
from data.schema import SPLITS, Row, write_rows_parquet
from data.sources.base import BadRecord, SourceSpec, SourceUnavailable
from data.validate import Quarantined, validate_rows
from pipeline.config import ConfigError
from pipeline.stage import StageContext, StageResult, run_stage

STAGE = "curate"
DATASET, QUARANTINE, REMOVED, REPORT = "dataset.parquet", "quarantine.jsonl", "removed.jsonl", "decontamination_report.json"


@dataclasses.dataclass
class CurateConfig:
    sources: list[SourceSpec] = dataclasses.field(default_factory=list)
    """Where rows come from; each entry names a registry kind (data.registry.names())."""
    decontaminate_against: list[SourceSpec] = dataclasses.field(default_factory=list)
    """Evaluation sets whose problems must not appear in training rows (e.g. math500, aime24, gsm8k). A benchmark
    name (data/benchmarks.py) loads its eval split exactly as evaluation does; any other source kind (a JSONL
    file, ...) loads as that source."""
    data_dir: str | None = None
    """Local benchmark directory for benchmark adapters (default: $RLVR_DATA_DIR, then ../shared/benchmarks)."""
    self_check_verifiers: list[str] = dataclasses.field(default_factory=lambda: ["math", "code"])
    """Verifiers whose rows are checked (others are schema-checked only): a math-style gold must verify against
    itself; "code": a row's reference solution (`metadata.reference`) runs in the sandbox against its tests and
    must pass them all (code rows without a reference are kept and counted). Leave "code" out only where no
    sandbox runs (every reference would be `reference_unjudged:sandbox_error`)."""
    verifier_workers: int = 2
    """Worker processes for the checks (rewards.pool.VerifierPool); 0 = in process."""
    verifier_deadline_s: float = 5.0
    """Per-check deadline of a gold self-check; a verifier that declares its own `deadline_s` gets that instead
    (code: 60 s around the sandbox's per-run timeout_s)."""
    reward_plugins: list[str] = dataclasses.field(default_factory=list)
    """Modules imported (here and by the verifier workers) so their `@register` verifiers exist: rows may name
    them; the same key in the curate, difficulty, train and eval configs."""
    dedup: DedupConfig = dataclasses.field(default_factory=DedupConfig)
    """Duplicate removal settings."""
    decontam: DecontamConfig = dataclasses.field(default_factory=DecontamConfig)
    """Decontamination settings (word n-grams, default 8 as open-r1)."""
    decontaminate_eval_split: bool = True
    """Also remove train rows that duplicate (exact or near) a row of this dataset's eval/test split."""
    bucket_by: Literal["auto", "level", "difficulty", "none"] = "auto"
    """Buckets reported in the manifest: auto | level | difficulty | none (see data.curriculum)."""

    def validate(self) -> None:
        if not self.sources:
            raise ConfigError("sources: at least one source is required")
        known = registry.names()
        for i, s in enumerate(self.sources + self.decontaminate_against):
            if s.kind not in known:
                raise ConfigError(f"sources[{i}].kind: unknown source {s.kind!r}; known: {', '.join(known)}")
            if s.split not in SPLITS:
                raise ConfigError(f"sources[{i}].split: {s.split!r} not in {SPLITS}")
        labels = [s.label for s in self.sources]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"sources: labels must be unique, got {labels} (set `name`)")
        self.dedup.validate()
        self.decontam.validate()


def _with_data_dir(spec: SourceSpec, data_dir: str | None) -> SourceSpec:
    if data_dir is None or "data_dir" in spec.options:
        return spec
    return dataclasses.replace(spec, options={**spec.options, "data_dir": data_dir})


def load_sources(cfg: CurateConfig, log) -> tuple[list[Row], list[Quarantined], dict[str, int], list[dict]]:
    rows, bad, rows_in, skipped = [], [], Counter(), []
    seen: set[str] = set()
    for spec in cfg.sources:
        spec = _with_data_dir(spec, cfg.data_dir)
        try:
            items = list(registry.get(spec.kind)(spec))
        except SourceUnavailable as e:
            log(f"skipping source {spec.label!r}: {e}")
            skipped.append({"source": spec.label, "reason": str(e)})
            continue
        for it in items:
            rows_in[spec.label] += 1
            if isinstance(it, BadRecord):
                bad.append(Quarantined("", it.source, it.origin, it.reason, it.detail, it.raw))
            elif it.id in seen:
                bad.append(Quarantined(it.id, it.source, str(it.metadata.get("origin", "")), "duplicate_id",
                                       "an earlier row has this id", dataclasses.asdict(it)))
            else:
                seen.add(it.id)
                rows.append(it)
        log(f"source {spec.label!r}: {rows_in[spec.label]} records")
    return rows, bad, dict(rows_in), skipped


def build_benchmark_index(cfg: CurateConfig, log) -> tuple[NgramIndex, dict[str, int]]:
    index = NgramIndex(cfg.decontam.ngram, cfg.decontam.max_item_frequency)
    sizes = {}
    for spec in cfg.decontaminate_against:
        spec = _with_data_dir(dataclasses.replace(spec, split="test") if spec.split == "train" else spec, cfg.data_dir)
        items = [r for r in registry.get(spec.kind)(spec) if isinstance(r, Row)]
        sizes[spec.label] = index.add_rows(spec.label, items)
    log(f"decontamination index: {sizes} ({len(index.index)} distinct {cfg.decontam.ngram}-grams)")
    return index, sizes


def against_eval_split(train: list[Row], held_out: list[Row], cfg: CurateConfig) -> tuple[list[Row], list[ContamMatch]]:
    index = NearDupIndex(cfg.dedup)
    origin = {}
    for r in held_out:
        index.add(r.id, r.problem)
        origin[r.id] = str(r.metadata.get("origin", ""))
    kept, removed = [], []
    for r in train:
        hit = index.query(r.problem)
        if hit is None:
            kept.append(r)
        else:
            key, kind, sim = hit
            removed.append(ContamMatch(r.id, str(r.metadata.get("origin", "")), r.source, "eval_split", key,
                                       origin[key], 1, f"{kind} match, similarity {sim:.3f}"))
    return kept, removed


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, default=str, ensure_ascii=False) + "\n")


def _count(items, key) -> dict[str, int]:
    return dict(sorted(Counter(key(x) for x in items).items()))


def curate_rows(cfg: CurateConfig, log=print) -> dict[str, Any]:
    """The whole curation as a pure-ish function (no files): returns kept rows, every outcome, timings."""
    t = {"start": time.time()}
    rows, quarantined, rows_in, skipped = load_sources(cfg, log)
    t["load"] = time.time()
    validation: dict[str, int] = {}
    valid, bad = validate_rows(rows, cfg.self_check_verifiers, cfg.verifier_workers, cfg.verifier_deadline_s,
                               cfg.reward_plugins, stats=validation)
    quarantined += bad
    if validation["code_rows_without_reference"] or validation["code_rows_unchecked"]:
        log(f"code rows: {validation['code_rows']}, without a reference solution (tests not checked): "
            f"{validation['code_rows_without_reference']}, reference not run (code not in self_check_verifiers): "
            f"{validation['code_rows_unchecked']}")
    t["validate"] = time.time()
    deduped, dups = deduplicate(valid, cfg.dedup)
    t["dedup"] = time.time()
    train = [r for r in deduped if r.split == "train"]
    held_out = [r for r in deduped if r.split != "train"]
    contaminated: list[ContamMatch] = []
    bench_sizes: dict[str, int] = {}
    if cfg.decontaminate_against:
        index, bench_sizes = build_benchmark_index(cfg, log)
        train, contaminated = decontaminate(train, index, cfg.decontam)
    if cfg.decontaminate_eval_split and held_out:
        train, more = against_eval_split(train, held_out, cfg)
        contaminated += more
    t["decontam"] = time.time()
    kept = [r for r in deduped if r.split != "train"] + train
    order = {r.id: i for i, r in enumerate(rows)}
    kept.sort(key=lambda r: order[r.id])
    return {"kept": kept, "quarantined": quarantined, "duplicates": dups, "contaminated": contaminated,
            "rows_in": rows_in, "skipped": skipped, "bench_sizes": bench_sizes, "validation": validation,
            "timings": {k: round(t[k] - t[p], 3) for p, k in zip(["start", "load", "validate", "dedup"],
                                                                   ["load", "validate", "dedup", "decontam"])}}


def curate_metrics(res: dict[str, Any], bucket_by: str) -> dict[str, Any]:
    kept, quar, dups, cont = res["kept"], res["quarantined"], res["duplicates"], res["contaminated"]
    rows_in = sum(res["rows_in"].values())
    per_source = {}
    for src, n in res["rows_in"].items():
        per_source[src] = {"rows_in": n, "kept": sum(r.source == src for r in kept),
                           "quarantined": sum(q.source == src for q in quar),
                           "duplicates": sum(d.source == src for d in dups),
                           "contaminated": sum(c.source == src for c in cont)}
        per_source[src]["balanced"] = per_source[src]["rows_in"] == sum(
            per_source[src][k] for k in ("kept", "quarantined", "duplicates", "contaminated"))
    buckets = {split: {k: len(v) for k, v in bucket_rows([r for r in kept if r.split == split], bucket_by).items()}
               for split in sorted({r.split for r in kept})}
    removal = Counter(f"duplicate_{d.kind}" for d in dups) + Counter(f"contaminated:{c.benchmark}" for c in cont)
    total = len(kept) + len(quar) + len(dups) + len(cont)
    return {"rows_in": rows_in, "kept": len(kept), "quarantined": len(quar), "duplicates": len(dups),
            "contaminated": len(cont), "balanced": rows_in == total,
            "per_split": _count(kept, lambda r: r.split), "per_source": per_source, "per_bucket": buckets,
            "per_quarantine_reason": _count(quar, lambda q: q.reason),
            "per_removal_reason": dict(sorted(removal.items())),
            "decontamination_sets": res["bench_sizes"], "sources_skipped": res["skipped"],
            **res.get("validation", {}),
            "timings_s": res["timings"]}


def write_outputs(out_dir: Path, res: dict[str, Any], metrics: dict[str, Any]) -> dict[str, int]:
    write_rows_parquet(out_dir / DATASET, res["kept"])
    _write_jsonl(out_dir / QUARANTINE, [q.to_dict() for q in res["quarantined"]])
    removed = [{"outcome": "duplicate", **dataclasses.asdict(d)} for d in res["duplicates"]]
    removed += [{"outcome": "contaminated", **dataclasses.asdict(c)} for c in res["contaminated"]]
    _write_jsonl(out_dir / REMOVED, removed)
    report = {"sets": res["bench_sizes"], "removed": len(res["contaminated"]),
              "per_benchmark": _count(res["contaminated"], lambda c: c.benchmark),
              "per_source": _count(res["contaminated"], lambda c: c.source),
              "rows": [dataclasses.asdict(c) for c in res["contaminated"]]}
    (out_dir / REPORT).write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    return {DATASET: len(res["kept"]), QUARANTINE: len(res["quarantined"]), REMOVED: len(removed), REPORT: None}


def print_summary(m: dict[str, Any], log) -> None:
    log(f"rows in {m['rows_in']} = kept {m['kept']} + quarantined {m['quarantined']} + duplicates "
        f"{m['duplicates']} + contaminated {m['contaminated']}  ({'balanced' if m['balanced'] else 'NOT BALANCED'})")
    for src, c in m["per_source"].items():
        log(f"  {src:>16}: in {c['rows_in']:>6}  kept {c['kept']:>6}  quarantined {c['quarantined']:>5}  "
            f"duplicates {c['duplicates']:>5}  contaminated {c['contaminated']:>5}")
    log(f"  splits: {m['per_split']}  buckets: {m['per_bucket']}")
    log(f"  quarantine reasons: {m['per_quarantine_reason']}")
    if m.get("code_rows"):
        log(f"  code rows: {m['code_rows']}  reference checks run {m['code_references_run']}  failed "
            f"{m['code_references_failed']}  without a reference {m['code_rows_without_reference']}")
    log(f"  removal reasons: {m['per_removal_reason']}")
    log(f"  timings (s): {m['timings_s']}")


def body(ctx: StageContext) -> StageResult:
    cfg: CurateConfig = ctx.config
    res = curate_rows(cfg, ctx.log)
    metrics = curate_metrics(res, cfg.bucket_by)
    if not metrics["balanced"]:
        raise RuntimeError(f"row accounting does not balance: {metrics}")  # a bug, never a data problem
    artifacts = write_outputs(ctx.out_dir, res, metrics)
    print_summary(metrics, ctx.log)
    return StageResult(artifacts=artifacts, metrics=metrics)


def run(cfg: CurateConfig, out_dir: str | Path, force: bool = False):
    """Run the stage (no-op when the output is up to date)."""
    return run_stage(STAGE, out_dir, cfg, body, force=force)
