"""Each math benchmark's gold answer, boxed and fed back as a completion, scores 100%."""

import pytest

from eval.reference import MATH, check
from rewards.scorer import Scorer


@pytest.fixture(scope="module")
def scorer():
    pytest.importorskip("rewards.math", reason="math verifier not available")
    with Scorer(workers=2) as s:
        yield s


@pytest.mark.parametrize("name", MATH)
def test_boxed_gold_scores_100_on_a_subset(benchmark_dir, scorer, name):
    r = check(name, scorer, benchmark_dir, limit=40)
    assert r["answer"]["exceptions"] == [] and r["answer"]["ok"] == min(40, r["problems"])


@pytest.mark.slow
@pytest.mark.parametrize("name", MATH)
def test_boxed_gold_scores_100_on_everything(benchmark_dir, scorer, name):
    r = check(name, scorer, benchmark_dir)
    assert r["answer"]["exceptions"] == [], r["answer"]["exceptions"][:5]
    if name in ("math500", "gsm8k", "minerva"):  # written solutions with one final box
        assert r["solution"]["ok"] >= 0.99 * r["solution"]["scored"]
