"""The one benchmark table (data/benchmarks.py): pinned rows, one mapping for every copy, decontamination.

The pinned figures were captured before the table replaced the two benchmark lists (commit cc5938e):
per benchmark, the number of rows and a hash of their (id, problem, gold), from the old evaluation loaders
(eval/benchmarks/<name>.py) and, for the sets evaluation did not have (math, hmmt) and the training splits,
from the old curation adapters (data/sources/benchmarks.py). Only minerva's figure was not the same in both:
the old adapter kept minerva_72's "$ $" break and minerva_86's trailing newline in the gold, the old
evaluation loader cleaned them; the table cleans them for both.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from data import benchmarks as table
from data import registry as sources
from data.curate import CurateConfig, build_benchmark_index
from data.decontam import DecontamConfig, decontaminate
from data.schema import Row
from data.sources.base import SourceSpec
from eval.benchmarks import registry as evaluation

PINNED = {  # (benchmark, split) -> (rows, fingerprint of (id, problem, gold))
    ("aime24", "test"): (30, "b1163eb1bf0c3b61"),
    ("aime25", "test"): (30, "bc17b3741da43b36"),
    ("amc23", "test"): (40, "48ad568f6713a77a"),
    ("math500", "test"): (500, "d51a618bf0559882"),
    ("gsm8k", "test"): (1319, "ee44d4e77ac82ef1"),
    ("minerva", "test"): (272, "91ac19c352d739f2"),
    ("olympiadbench", "test"): (675, "71ff3629b6161db0"),
    ("humaneval", "test"): (164, "0cc86a0eaa061a74"),
    ("mbpp", "test"): (257, "9f1149294bcf0378"),
    ("math", "test"): (5000, "94f07dd3bb0d905a"),
    ("hmmt", "test"): (30, "2cdf5f6e7a6e52d0"),
    ("gsm8k", "train"): (7473, "020681596e85fdd6"),
    ("math", "train"): (7500, "0c5c63503904f992"),
}
ORIGINAL_FILE = {"aime24": "aime24", "aime25": "aime25", "amc23": "amc23", "math500": "math500",
                 "gsm8k": "gsm8k_test", "minerva": "minerva_math", "olympiadbench": "olympiadbench",
                 "humaneval": "humaneval", "mbpp": "mbpp_sanitized", "hmmt": "hmmt_feb25"}


def fingerprint(rows: list[Row]) -> str:
    items = [(r.id, r.problem, r.gold) for r in rows]
    return hashlib.sha256(json.dumps(items, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[:16]


def test_every_benchmark_is_pinned():
    assert {name for name, _ in PINNED} == set(table.names())


@pytest.mark.parametrize("name,split", sorted(PINNED), ids=[f"{n}-{s}" for n, s in sorted(PINNED)])
def test_loaded_rows_equal_the_old_loaders(benchmark_dir, name, split):
    rows = table.get(name).load(data_dir=benchmark_dir, split=split)
    assert (len(rows), fingerprint(rows)) == PINNED[name, split]
    assert len({r.id for r in rows}) == len(rows)
    assert all(r.source == name and r.split == "test" and r.verifier == ("code" if name in ("humaneval", "mbpp")
                                                                          else "math") for r in rows)


@pytest.mark.parametrize("name", table.names())
def test_curation_reads_exactly_the_rows_evaluation_scores(benchmark_dir, name):
    """`decontaminate_against: [{kind: <name>}]` and `benchmarks: [<name>]` load the same rows."""
    spec = SourceSpec(kind=name, split="test", options={"data_dir": str(benchmark_dir)})
    curated = [r for r in sources.get(name)(spec) if isinstance(r, Row)]
    evaluated = evaluation.get(name).load(data_dir=benchmark_dir)
    assert [(r.id, r.problem, r.gold) for r in curated] == [(r.id, r.problem, r.gold) for r in evaluated]


def _removed(benchmark_dir, names):
    cfg = CurateConfig(decontaminate_against=[SourceSpec(kind=n) for n in names], data_dir=str(benchmark_dir))
    index, sizes = build_benchmark_index(cfg, log=lambda *_: None)
    train = [r for kind in ("gsm8k", "math") for r in sources.get(kind)(
        SourceSpec(kind=kind, options={"split": "train", "data_dir": str(benchmark_dir)})) if isinstance(r, Row)]
    return sizes, len(train), decontaminate(train, index, DecontamConfig())[1]


def test_decontamination_catches_the_same_items(benchmark_dir):
    """GSM8K + MATH train against every benchmark as curate_*.yaml lists them: the same 2792 rows as before."""
    names = ["gsm8k", "math", "aime24", "aime25", "amc23", "math500", "minerva", "olympiadbench", "hmmt"]
    sizes, n_train, removed = _removed(benchmark_dir, names)
    assert sizes == {n: PINNED[n, "test"][0] for n in names} and n_train == 14973
    ids = sorted(m.row_id for m in removed)
    assert (len(ids), hashlib.sha256(json.dumps(ids).encode()).hexdigest()[:16]) == (2792, "ecef50877c5d0356")
    # which benchmark item a row is charged to: deterministic since n-grams are matched in text order
    assert {b: sum(m.benchmark == b for m in removed) for b in names} == {
        "gsm8k": 97, "math": 2524, "aime24": 32, "aime25": 53, "amc23": 15, "math500": 0, "minerva": 0,
        "olympiadbench": 71, "hmmt": 0}


@pytest.mark.parametrize("name", sorted(ORIGINAL_FILE))
def test_original_records_map_to_the_unified_rows(benchmark_dir, name):
    """The top-level original file (the hub's records) through `original` = the unified file's rows."""
    bench = table.get(name)
    original, unified = bench.load(benchmark_dir, prefer="original"), bench.load(benchmark_dir)
    if name == "aime24":  # the hub copy numbers problems 60..89, the unified file aime2024_I_1..
        assert [(r.problem, r.gold) for r in original] == [(r.problem, r.gold) for r in unified]
    else:
        assert fingerprint(original) == fingerprint(unified)
    assert {r.metadata["origin"].rsplit(":", 1)[0] for r in original} == {str(benchmark_dir / f"{ORIGINAL_FILE[name]}.jsonl")}


@pytest.mark.parametrize("name", ["aime24", "gsm8k", "olympiadbench", "humaneval"])
def test_hub_code_path_on_a_local_file(benchmark_dir, name):
    """datasets.load_dataset (the builder `json` on the original file) + the same mapper: the same golds."""
    pytest.importorskip("datasets")
    bench = table.get(name)
    hub = table.HubSpec("json", split="train", data_files=str(benchmark_dir / f"{ORIGINAL_FILE[name]}.jsonl"))
    rows = dataclasses.replace(bench, hub={"test": (hub,)}).load(prefer="hub")
    assert [(r.problem, r.gold) for r in rows] == [(r.problem, r.gold) for r in bench.load(benchmark_dir)]
    assert rows[0].metadata["origin"].startswith("json:")


def test_math_train_golds_are_the_last_box_of_the_solution(benchmark_dir):
    """rewards.extract.last_boxed (the verifiers' extractor) on MATH solutions = the unified answers, modulo
    whitespace, including `\\boxed 2` without braces (train/algebra/24014), which the old adapter dropped."""
    bench = table.get("math")
    original, unified = bench.load(benchmark_dir, split="train", prefer="original"), bench.load(benchmark_dir, split="train")
    assert [(r.id, r.gold.strip()) for r in original] == [(r.id, r.gold.strip()) for r in unified]


@pytest.mark.parametrize("name", ["math500", "gsm8k"])
def test_seeded_subsets_are_reproducible(benchmark_dir, name):
    bench = table.get(name)
    a = [r.id for r in bench.load(data_dir=benchmark_dir, limit=20, seed=0)]
    b = [r.id for r in bench.load(data_dir=benchmark_dir, limit=20, seed=0)]
    c = [r.id for r in bench.load(data_dir=benchmark_dir, limit=20, seed=1)]
    full = [r.id for r in bench.load(data_dir=benchmark_dir)]
    assert a == b and len(a) == 20 and a != c
    assert a == [i for i in full if i in set(a)]  # original order kept


def test_mbpp_splits_share_one_file(benchmark_dir):
    rows = table.get("mbpp").load(benchmark_dir, split="all")
    assert len(rows) == 427 and [r.metadata["task_id"] for r in rows] == sorted(r.metadata["task_id"] for r in rows)
    test = [r for r in rows if r.metadata["mbpp_split"] == "test"]
    assert [r.id for r in test] == [r.id for r in table.get("mbpp").load(benchmark_dir)]


def test_seeded_subset_edge_cases():
    assert table.seeded_subset([1, 2, 3], None) == [1, 2, 3]
    assert table.seeded_subset([1, 2, 3], 10) == [1, 2, 3]
    assert table.seeded_subset(list(range(100)), 5, seed=7) == table.seeded_subset(list(range(100)), 5, seed=7)


def test_explicit_data_dir_must_hold_the_benchmark(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no unified/math500.jsonl or math500.jsonl"):
        table.get("math500").load(data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list(sources.get("gsm8k")(SourceSpec(kind="gsm8k", options={"data_dir": str(tmp_path / "nope")})))


def test_unknown_split_is_refused(benchmark_dir):
    with pytest.raises(ValueError, match="split 'train' not available; choose one of \\['test'\\]"):
        table.get("aime24").load(benchmark_dir, split="train")
