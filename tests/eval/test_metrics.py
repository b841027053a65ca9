"""pass@k against hand-computed values, maj@k clustering by equivalence, bootstrap CIs."""

import math
from fractions import Fraction

import pytest

from eval.metrics import bootstrap_ci, cluster_answers, maj_at_k, pass_at_k, summarize


def exact_pass_at_k(n, c, k):
    return float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))


@pytest.mark.parametrize(
    "n, c, k, expected",
    [
        (1, 0, 1, 0.0),
        (1, 1, 1, 1.0),
        (2, 1, 1, 0.5),  # 1 - C(1,1)/C(2,1) = 1 - 1/2
        (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
        (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
        (10, 3, 5, 1 - 21 / 252),  # 1 - C(7,5)/C(10,5)
        (16, 4, 1, 0.25),  # pass@1 = c/n
        (16, 4, 8, 1 - 495 / 12870),  # 1 - C(12,8)/C(16,8)
        (16, 10, 8, 1.0),  # n - c < k: every 8-subset holds a correct sample
        (8, 0, 8, 0.0),
    ],
    ids=["n1c0", "n1c1", "n2c1k1", "n4c1k2", "n5c2k2", "n10c3k5", "pass1-is-c/n", "n16c4k8", "n-c<k", "none-correct"],
)
def test_pass_at_k_hand_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("n, c, k", [(200, 3, 50), (1000, 10, 100), (1000, 999, 1), (64, 1, 64)],
                         ids=["200-3-50", "1000-10-100", "1000-999-1", "64-1-64"])
def test_pass_at_k_stable_against_exact_binomials(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(exact_pass_at_k(n, c, k), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("n, c, k", [(4, 5, 1), (4, 1, 5), (4, 1, 0)], ids=["c>n", "k>n", "k0"])
def test_pass_at_k_rejects_bad_arguments(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def half_equiv(a: str, b: str) -> bool:
    """Toy equivalence: all spellings of one half are equal; otherwise string identity."""
    halves = {"1/2", "0.5", "\\frac{1}{2}", "\\dfrac12"}
    return a == b or (a in halves and b in halves)


@pytest.mark.parametrize(
    "answers, scores, k, expected",
    [
        (["1/2", "0.5", "\\frac{1}{2}", "3", "3"], [1, 1, 1, 0, 0], 5, 1.0),  # 3 halves beat two 3s
        (["3", "3", "1/2", "0.5", "\\frac{1}{2}"], [0, 0, 1, 1, 1], 5, 1.0),  # order does not matter
        (["3", "3", "1/2", "0.5", "\\frac{1}{2}"], [0, 0, 1, 1, 1], 4, 0.0),  # first 4: tie 2-2, first cluster wins
        (["3", "1/2", "0.5", "3", "3"], [0, 1, 1, 0, 0], 5, 0.0),
        ([None, None, "0.5"], [0, 0, 1], 3, 1.0),  # no-answer samples do not vote
        ([None, None], [0, 0], 2, 0.0),
    ],
    ids=["halves-win", "halves-win-late", "tie-first-cluster", "wrong-majority", "none-ignored", "no-votes"],
)
def test_maj_at_k_groups_equivalent_answers(answers, scores, k, expected):
    assert maj_at_k(answers, scores, k, half_equiv) == expected


def test_string_identity_would_get_it_wrong():
    answers, scores = ["1/2", "0.5", "\\frac{1}{2}", "3", "3"], [1, 1, 1, 0, 0]
    assert maj_at_k(answers, scores, 5, lambda a, b: a == b) == 0.0
    assert cluster_answers(answers, half_equiv) == [[0, 1, 2], [3, 4]]


def test_maj_at_k_with_the_math_verifier():
    pytest.importorskip("rewards.math", reason="math verifier not written yet")
    from eval.scoring import Equivalence
    from rewards.scorer import Scorer

    with Scorer(workers=0) as s:
        same = Equivalence(s)
        answers = ["\\frac{1}{2}", "0.5", "1/2", "3", "3"]
        assert cluster_answers(answers, same.equivalent) == [[0, 1, 2], [3, 4]]
        assert maj_at_k(answers, [1, 1, 1, 0, 0], 5, same.equivalent) == 1.0


def test_bootstrap_ci_seeded_and_brackets_the_mean():
    vals = [1, 0, 0, 1, 1, 0, 1, 1, 0, 0] * 3
    lo, hi = bootstrap_ci(vals, n_boot=2000, seed=3)
    assert (lo, hi) == bootstrap_ci(vals, n_boot=2000, seed=3)
    assert lo < 0.5 < hi and 0.2 < lo and hi < 0.8
    assert bootstrap_ci([1, 1, 1]) == (1.0, 1.0)


def test_summarize_counts_skips_and_figures():
    per_problem = [
        {"scores": [1.0, 0.0], "answers": ["2", "3"]},
        {"scores": [0.0, 0.0], "answers": ["5", None]},
        {"scores": [None, None], "answers": [None, None]},  # gold unparsable: skipped
        {"scores": [1.0, 1.0], "answers": ["1/2", "0.5"]},
    ]
    out = summarize(per_problem, [1, 2, 4], half_equiv, n_boot=200)
    assert out["problems"] == 4 and out["judged_problems"] == 3 and out["skipped_problems"] == 1
    assert out["avg@n"]["value"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert out["pass@2"]["value"] == pytest.approx((1 + 0 + 1) / 3)
    assert out["maj@2"]["value"] == pytest.approx((1 + 0 + 1) / 3)  # tie 2 vs 3: first ("2", correct)
    assert "pass@4" not in out


def test_partial_credit_is_not_solved():
    out = summarize([{"scores": [0.75, 1.0], "answers": [None, None]}], [1, 2], None, n_boot=10)
    assert out["avg@n"]["value"] == 0.5 and out["pass@1"]["value"] == 0.5 and out["pass@2"]["value"] == 1.0
