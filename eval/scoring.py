"""Answer equivalence for maj@k: do two *extracted* answers mean the same? (math-verified, memoised).

Scoring itself is the one reward path, `rewards.scorer.Scorer` (the same verifiers, row options and
per-item deadlines as training). Majority voting needs one more question: whether two answers a model
gave are the same answer. `Equivalence` asks the math verifier (gold = a, completion = "\\boxed{b}")
through the scorer's pool, prefetching every distinct pair of a problem's answers in one parallel batch.

    with Scorer(workers=2) as scorer:
        same = Equivalence(scorer)
        same.prefetch([answers_of_problem_1, ...]); same.equivalent("1/2", "0.5")
"""

from __future__ import annotations

from typing import Sequence


class Equivalence:
    def __init__(self, scorer):
        self.scorer = scorer
        self._memo: dict[tuple[str, str], bool] = {}

    def _check(self, pairs: list[tuple[str, str]]) -> None:
        results = self.scorer.verify([("math", f"\\boxed{{{b}}}", a) for a, b in pairs])
        for p, r in zip(pairs, results):
            self._memo[p] = r.score is not None and r.score > 0.5

    def equivalent(self, a: str, b: str) -> bool:
        """Math-verified equivalence of two extracted answers (memoised; order as given)."""
        if (a, b) not in self._memo:
            self._check([(a, b)])
        return self._memo[(a, b)]

    def prefetch(self, answer_lists: Sequence[Sequence[str | None]]) -> None:
        """Check every distinct ordered answer pair per problem in one parallel batch (fills the memo)."""
        pairs = []
        for answers in answer_lists:
            distinct = list(dict.fromkeys(a for a in answers if a))
            pairs += [(x, y) for i, x in enumerate(distinct) for y in distinct[i + 1:] if (x, y) not in self._memo]
        pairs = list(dict.fromkeys(pairs))
        if pairs:
            self._check(pairs)
