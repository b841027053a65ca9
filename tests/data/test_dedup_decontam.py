"""Planted duplicates and planted contaminants are caught and reported with where they came from."""

from __future__ import annotations

import pytest

from data.decontam import DecontamConfig, NgramIndex, decontaminate
from data.dedup import DedupConfig, MinHasher, deduplicate, shingle_ids, tokens
from data.schema import Row

BASE = ("A bakery sells muffins in boxes of 6 and cookies in boxes of 8. Mia buys 3 boxes of muffins and "
        "5 boxes of cookies for her class party. How many baked goods does she buy in total?")


def _row(i, text, split="train", source="s"):
    return Row(f"{source}/{i}", text, "math", "1", source, split, {"origin": f"file.jsonl:{i + 1}"})


def test_minhash_estimates_jaccard():
    a, b = tokens(BASE), tokens(BASE.replace("Mia", "Zoe").replace("class party", "school fair"))
    sa, sb = set(shingle_ids(a, 5).tolist()), set(shingle_ids(b, 5).tolist())
    true_j = len(sa & sb) / len(sa | sb)
    h = MinHasher(256, seed=1)
    est = float((h.signature(shingle_ids(a, 5)) == h.signature(shingle_ids(b, 5))).mean())
    assert abs(est - true_j) < 0.1, (est, true_j)


@pytest.mark.parametrize("variant,kind", [
    (BASE, "exact"),
    ("  " + BASE.upper().replace(" ", "   ") + " ", "exact"),
    (BASE.replace("Mia", "Mia Smith").replace("in total", "altogether"), "near"),
], ids=["verbatim", "case-and-spacing", "reworded"])
def test_planted_duplicates_are_caught_with_origin(variant, kind):
    rows = [_row(0, BASE), _row(1, "What is 2 + 2?"), _row(2, variant)]
    kept, removed = deduplicate(rows, DedupConfig())
    assert [r.id for r in kept] == ["s/0", "s/1"]
    (d,) = removed
    assert (d.row_id, d.origin, d.duplicate_of, d.duplicate_of_origin, d.kind) == (
        "s/2", "file.jsonl:3", "s/0", "file.jsonl:1", kind)


@pytest.mark.parametrize("other", [
    BASE.replace("3 boxes", "4 boxes"),
    "What is $8 - 7$?",
    BASE.replace("Mia", "Mia").replace("3 boxes of muffins and 5", "5 boxes of muffins and 3"),
], ids=["different-number", "templated", "numbers-swapped"])
def test_non_duplicates_survive(other):
    rows = [_row(0, BASE), _row(1, "What is $8 + 7$?"), _row(2, other)]
    kept, removed = deduplicate(rows, DedupConfig())
    assert len(kept) == 3 and removed == []


def test_dedup_is_per_split():
    kept, removed = deduplicate([_row(0, BASE), _row(1, BASE, split="eval")], DedupConfig())
    assert len(kept) == 2 and not removed


BENCH = [
    Row("math500/test/1", "Let $f(x) = 3x^2 - 5$. What is the value of $f(f(1))$ when we evaluate the function twice?",
        "math", "7", "math500", "test", {"origin": "math500.jsonl:1"}),
    Row("aime24/2", "Find the number of ordered pairs of positive integers $(m, n)$ such that $m^2 n = 20^{20}$ and "
        "both numbers are less than one million.", "math", "231", "aime24", "test", {"origin": "aime24.jsonl:2"}),
]


@pytest.fixture(scope="module")
def index():
    idx = NgramIndex(8)
    for r in BENCH:
        idx.add_rows(r.source, [r])
    return idx


@pytest.mark.parametrize("text,bench_id", [
    (BENCH[0].problem, "math500/test/1"),
    ("Suppose " + BENCH[0].problem.replace("What is", "Compute").replace("twice", "two times"), "math500/test/1"),
    (BENCH[1].problem.replace("Find", "Determine").replace("million", "million!"), "aime24/2"),
], ids=["verbatim", "reworded-start-and-end", "reworded-punctuation"])
def test_planted_contaminants_are_caught_with_benchmark_item(index, text, bench_id):
    rows = [_row(0, BASE), _row(1, text, source="planted")]
    kept, removed = decontaminate(rows, index, DecontamConfig())
    assert [r.id for r in kept] == ["s/0"]
    (c,) = removed
    assert (c.row_id, c.origin, c.benchmark_id) == ("planted/1", "file.jsonl:2", bench_id)
    assert c.shared_ngrams >= 1 and len(c.evidence.split()) == 8


def test_min_hits_and_boilerplate_frequency():
    idx = NgramIndex(8, max_item_frequency=1)
    boiler = "express your answer as a common fraction in lowest terms"
    idx.add("b", "1", "", f"Add one half and one third. {boiler}.")
    idx.add("b", "2", "", f"Add one fifth and one sixth. {boiler}.")
    assert idx.match(f"Multiply two numbers. {boiler}.") is None
    strict = NgramIndex(8)
    strict.add("b", "1", "", f"Add one half and one third. {boiler}.")
    assert strict.match(f"Multiply two numbers. {boiler}.", min_hits=1) is not None
    assert strict.match(f"Multiply two numbers. {boiler}.", min_hits=10) is None


def test_short_texts_match_exactly_only(index):
    idx = NgramIndex(8)
    idx.add("b", "short", "", "What is 3 + 4?")
    assert idx.match("what is 3 + 4 ?") is not None
    assert idx.match("What is 3 + 5?") is None
