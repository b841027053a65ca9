"""Decontamination: drop training rows that overlap an evaluation set.

Algorithm (open-r1's `scripts/decontaminate.py` rule, made reportable):
- every benchmark problem is normalised (NFKC, lower case, LaTeX spacing dropped) and split
  into word tokens (`\\w+`, punctuation ignored, so re-punctuation does not hide a copy);
  all its word n-grams (default n = 8) go into an index n-gram -> benchmark items;
- a training row is contaminated when any of its n-grams is in the index (`min_hits`
  raises that bar); a benchmark text shorter than n tokens is matched on its whole text.
- `max_item_frequency` (optional) ignores n-grams shared by more than that many benchmark
  items: boilerplate such as "express your answer as a common fraction in simplest form".
- the report names, per removed row, its id and origin (file:line), the benchmark and item it
  matched most, the number of shared n-grams and one shared n-gram as evidence.

    from data.decontam import NgramIndex
    idx = NgramIndex(n=8); idx.add_items("math500", rows); hit = idx.match(text)
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from typing import Iterable

from data.dedup import normalize
from data.schema import Row

_WORD = re.compile(r"\w+")


@dataclasses.dataclass
class DecontamConfig:
    ngram: int = 8
    """Word n-gram size (open-r1 uses 8)."""
    min_hits: int = 1
    """A row is contaminated when it shares at least this many n-grams with one benchmark item."""
    max_item_frequency: int | None = None
    """Ignore n-grams found in more than this many benchmark items (boilerplate); None = use all."""

    def validate(self) -> None:
        from pipeline.config import ConfigError

        if self.ngram < 1:
            raise ConfigError(f"decontam.ngram must be >= 1, got {self.ngram}")
        if self.min_hits < 1:
            raise ConfigError(f"decontam.min_hits must be >= 1, got {self.min_hits}")


@dataclasses.dataclass
class ContamMatch:
    row_id: str
    origin: str
    source: str
    benchmark: str
    benchmark_id: str
    benchmark_origin: str
    shared_ngrams: int
    evidence: str  # one shared n-gram (or the whole short text)


def words(text: str) -> list[str]:
    return _WORD.findall(normalize(text))


def ngrams(toks: list[str], n: int) -> list[str]:
    """Distinct word n-grams in text order (an order, not a set: ties in `match` go to the first hit, every run)."""
    return list(dict.fromkeys(" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1)))


class NgramIndex:
    def __init__(self, n: int = 8, max_item_frequency: int | None = None):
        self.n, self.max_item_frequency = n, max_item_frequency
        self.index: dict[str, list[int]] = {}
        self.short: dict[str, int] = {}
        self.items: list[tuple[str, str, str]] = []  # (benchmark, item id, origin)

    def add(self, benchmark: str, item_id: str, origin: str, text: str) -> None:
        k = len(self.items)
        self.items.append((benchmark, item_id, origin))
        toks = words(text)
        if len(toks) < self.n:
            self.short.setdefault(" ".join(toks), k)
            return
        for g in ngrams(toks, self.n):
            self.index.setdefault(g, []).append(k)

    def add_rows(self, benchmark: str, rows: Iterable[Row]) -> int:
        count = 0
        for r in rows:
            self.add(benchmark, r.id, str(r.metadata.get("origin", "")), r.problem)
            count += 1
        return count

    def match(self, text: str, min_hits: int = 1) -> tuple[int, int, str] | None:
        """(item index, shared n-grams, evidence) of the best-matching benchmark item, or None."""
        toks = words(text)
        joined = " ".join(toks)
        if joined in self.short:
            return self.short[joined], 1, joined
        hits: Counter = Counter()
        evidence: dict[int, str] = {}
        for g in ngrams(toks, self.n):
            items = self.index.get(g)
            if not items or (self.max_item_frequency is not None and len(items) > self.max_item_frequency):
                continue
            for k in items:
                hits[k] += 1
                evidence.setdefault(k, g)
        if not hits:
            return None
        k, count = hits.most_common(1)[0]
        return (k, count, evidence[k]) if count >= min_hits else None


def decontaminate(rows: Iterable[Row], index: NgramIndex, cfg: DecontamConfig) -> tuple[list[Row], list[ContamMatch]]:
    kept, removed = [], []
    for row in rows:
        hit = index.match(row.problem, cfg.min_hits)
        if hit is None:
            kept.append(row)
            continue
        k, count, evidence = hit
        bench, item_id, origin = index.items[k]
        removed.append(ContamMatch(row.id, str(row.metadata.get("origin", "")), row.source, bench, item_id,
                                   origin, count, evidence))
    return kept, removed
