"""Evaluation metrics: avg@n, unbiased pass@k, maj@k over verified-equivalent answers, bootstrap CIs.

All functions are pure (no model, no I/O); randomness only in `bootstrap_ci`, seeded.

- A sample counts as solved when its score is 1 (within 1e-6): partial-credit scores (e.g. a code
  verifier's pass fraction) do not count, so avg@n and pass@1 always agree.
- avg@n (mean pass@1): per problem, the fraction of its n samples solved; then the mean over problems.
- pass@k (Chen et al. 2021, unbiased): 1 - C(n-c, k) / C(n, k), computed as the product
  1 - prod_{i=n-c+1}^{n} (1 - k/i), which never forms huge binomials; 1.0 when n - c < k.
- maj@k: the first k samples vote; answers are grouped into clusters of *verified equivalence*
  (an `equivalent(a, b)` callable, e.g. the math verifier), not string identity, so "1/2",
  "0.5" and "\\frac{1}{2}" are one vote block. The largest cluster wins (ties: the cluster whose
  first answer came first); the problem counts as solved when the winning cluster's first
  sample is solved. Samples without an extracted answer do not vote; no votes = 0. Reported for
  k >= 2 only (maj@1 is the first sample's accuracy, a noisier pass@1).
- bootstrap CI: resample problems with replacement (seeded), percentile interval of the mean.

    >>> pass_at_k(5, 2, 2)     # 1 - C(3,2)/C(5,2) = 1 - 3/10
    0.7
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

Equivalent = Callable[[str, str], bool]
SOLVED_AT = 1.0 - 1e-6


def solved(score: float) -> bool:
    return score >= SOLVED_AT


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of P(at least one of k samples is correct) from n samples with c correct."""
    if not (0 <= c <= n) or k < 1 or k > n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def mean_solved(scores: Sequence[float]) -> float:
    """pass@1 of one problem: the fraction of its samples solved (the empty list is an error)."""
    if not scores:
        raise ValueError("no scores")
    return sum(1 for s in scores if solved(s)) / len(scores)


def cluster_answers(answers: Sequence[str | None], equivalent: Equivalent) -> list[list[int]]:
    """Group sample indices whose answers are equivalent to a cluster's first answer.

    answers: [k] extracted answers (None = no answer, left out). Returns clusters in order of
    first appearance, each a list of sample indices. Exact string matches skip the verifier.
    """
    clusters: list[list[int]] = []
    reps: list[str] = []
    for i, a in enumerate(answers):
        if a is None or not str(a).strip():
            continue
        for ci, rep in enumerate(reps):
            if a == rep or equivalent(rep, a):
                clusters[ci].append(i)
                break
        else:
            reps.append(a)
            clusters.append([i])
    return clusters


def maj_at_k(answers: Sequence[str | None], scores: Sequence[float], k: int, equivalent: Equivalent) -> float:
    """Majority vote over the first k samples (answers grouped by verified equivalence): 1.0 or 0.0."""
    if k < 1 or k > len(answers) or len(answers) != len(scores):
        raise ValueError(f"maj@k needs 1 <= k <= n and one score per answer, got k={k} n={len(answers)}")
    clusters = cluster_answers(list(answers[:k]), equivalent)
    if not clusters:
        return 0.0
    best = max(clusters, key=len)  # max() keeps the first of equal-sized clusters
    return 1.0 if solved(scores[best[0]]) else 0.0


def bootstrap_ci(values: Sequence[float], n_boot: int = 1000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-problem `values` ([P]); (nan, nan) if empty."""
    v = np.asarray(values, dtype=np.float64)  # [P]
    if v.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, v.size, size=(n_boot, v.size))  # [B, P]
    means = v[idx].mean(axis=1)  # [B]
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return (float(lo), float(hi))


def summarize(per_problem: Sequence[dict], ks: Sequence[int], equivalent: Equivalent | None,
              n_boot: int = 1000, seed: int = 0) -> dict:
    """Figures for one (model, benchmark) from per-problem sample lists.

    per_problem: [P] dicts with "scores" [n] (None = skipped sample) and "answers" [n].
    Skipped samples are dropped; a problem with no judged sample is counted in `skipped_problems`.
    Returns avg@n, pass@k and maj@k (k <= n; maj only when `equivalent` is given), each with a
    bootstrap CI as {"value", "ci": [lo, hi]}, plus counts.
    """
    judged = []
    for p in per_problem:
        keep = [(s, a) for s, a in zip(p["scores"], p["answers"]) if s is not None]
        if keep:
            judged.append(([s for s, _ in keep], [a for _, a in keep]))
    out: dict = {"problems": len(per_problem), "judged_problems": len(judged),
                 "skipped_problems": len(per_problem) - len(judged)}
    if not judged:
        return out
    n = min(len(s) for s, _ in judged)
    out["n"] = n

    def fig(values: list[float]) -> dict:
        lo, hi = bootstrap_ci(values, n_boot=n_boot, seed=seed)
        return {"value": float(np.mean(values)), "ci": [lo, hi]}

    out["avg@n"] = fig([mean_solved(s) for s, _ in judged])
    for k in sorted(set(ks)):
        if k > n:
            continue
        out[f"pass@{k}"] = fig([pass_at_k(len(s), sum(1 for x in s if solved(x)), k) for s, _ in judged])
        if equivalent is not None and k >= 2:  # maj@1 would just be the first sample's accuracy
            out[f"maj@{k}"] = fig([maj_at_k(a, s, k, equivalent) for s, a in judged])
    return out
