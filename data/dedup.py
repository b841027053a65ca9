"""Exact and near-duplicate removal for problem texts.

Algorithm:
- exact: rows whose normalised text (NFKC, lower case, `$`/LaTeX spacing dropped, whitespace
  collapsed; operators and digits kept, so "8 - 7" and "8 + 7" stay different) is equal.
- near: MinHash over word n-gram shingles (default 3-grams of `\\w+` and symbol tokens;
  texts shorter than n tokens are one shingle), `num_perm` universal hashes
  h(x) = (a*x + b) mod (2^61 - 1) over crc32 shingle ids, vectorised with numpy; LSH with
  `bands` bands of `num_perm / bands` rows gives candidate pairs, kept when the estimated
  Jaccard similarity is >= `threshold`. With `same_math` (default) a near-duplicate must
  also contain the same sequence of numbers and maths symbols (+ - * / = < > ^ ( ), LaTeX
  commands and one-letter variables other than "a"/"i"), so templated problems that differ only in their numbers or a relation
  ("k < 0" vs "k > 0") are never merged, while a reworded copy of the same maths is.
The first occurrence (in input order) is kept; every removed row is reported with its origin
and the row it duplicates. Pure Python + numpy: ~15k problems in a couple of seconds.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
import zlib
from typing import Iterable

import numpy as np

from data.schema import Row

_C1, _C2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)  # splitmix64 constants
_TOKEN = re.compile(r"\w+|[^\w\s]")
_MATH = re.compile(r"\d+(?:\.\d+)?|\\[a-z]+|[-+*/=<>^()]|\b[b-hj-z]\b")  # numbers, commands, operators, variables


@dataclasses.dataclass
class DedupConfig:
    exact: bool = True
    """Remove rows whose normalised text equals an earlier row's."""
    near: bool = True
    """Also remove near-duplicates found by MinHash/LSH."""
    ngram: int = 3
    """Shingle size in tokens for MinHash (small n tolerates light rewording)."""
    num_perm: int = 128
    """Number of MinHash permutations (signature length)."""
    bands: int = 32
    """LSH bands; num_perm must be divisible by it (more bands = more candidates, lower recall threshold)."""
    threshold: float = 0.7
    """Estimated Jaccard similarity at or above which two texts are near-duplicates."""
    same_math: bool = True
    """Near-duplicates must contain the same sequence of numbers and maths symbols (protects templated problems)."""
    seed: int = 0
    """Seed of the MinHash permutations."""

    def validate(self) -> None:
        from pipeline.config import ConfigError

        if self.num_perm % self.bands:
            raise ConfigError(f"dedup.bands: {self.bands} does not divide dedup.num_perm={self.num_perm}")
        if not 0 < self.threshold <= 1:
            raise ConfigError(f"dedup.threshold: {self.threshold} not in (0, 1]")


@dataclasses.dataclass
class DupMatch:
    row_id: str
    origin: str
    source: str
    duplicate_of: str
    duplicate_of_origin: str
    kind: str  # "exact" | "near"
    similarity: float


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().replace("$", " ")
    text = re.sub(r"\\[,;!: ]|\\quad|\\qquad|~", " ", text)
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(normalize(text))


def math_tokens(text: str) -> tuple[str, ...]:
    """The numbers and maths symbols of a text, in order (the part a rewording must not change)."""
    return tuple(_MATH.findall(normalize(text)))


def shingle_ids(toks: list[str], n: int) -> np.ndarray:
    grams = [" ".join(toks[i : i + n]) for i in range(max(1, len(toks) - n + 1))]
    return np.fromiter((zlib.crc32(g.encode()) for g in grams), dtype=np.uint64, count=len(grams))


class MinHasher:
    """`num_perm` hash functions h_i(x) = splitmix64(x XOR s_i) (a strong 64-bit mixer, wrapping uint64)."""

    def __init__(self, num_perm: int = 128, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.salts = rng.integers(0, np.iinfo(np.uint64).max, size=num_perm, dtype=np.uint64, endpoint=True)  # (P,)

    def signature(self, ids: np.ndarray) -> np.ndarray:
        v = self.salts[:, None] ^ ids[None, :]  # (P, S)
        v = (v ^ (v >> np.uint64(30))) * _C1
        v = (v ^ (v >> np.uint64(27))) * _C2
        v = v ^ (v >> np.uint64(31))
        return v.min(axis=1)  # (P,)


class NearDupIndex:
    """Incremental exact + MinHash/LSH index: `query(text)` then `add(key, text)`."""

    def __init__(self, cfg: DedupConfig):
        self.cfg = cfg
        self.hasher = MinHasher(cfg.num_perm, cfg.seed)
        self.rows_per_band = cfg.num_perm // cfg.bands
        self.exact: dict[str, str] = {}
        self.buckets: dict[tuple[int, bytes], list[str]] = {}
        self.sigs: dict[str, np.ndarray] = {}
        self.norms: dict[str, str] = {}

    def _bands(self, sig: np.ndarray):
        r = self.rows_per_band
        return [(i, sig[i * r : (i + 1) * r].tobytes()) for i in range(self.cfg.bands)]

    def _prepare(self, text: str) -> tuple[str, np.ndarray | None]:
        norm = normalize(text)
        if not self.cfg.near:
            return norm, None
        return norm, self.hasher.signature(shingle_ids(_TOKEN.findall(norm), self.cfg.ngram))

    def _same_math(self, key: str, norm: str) -> bool:
        return not self.cfg.same_math or _MATH.findall(self.norms[key]) == _MATH.findall(norm)

    def query(self, text: str, _prepared=None) -> tuple[str, str, float] | None:
        """(key, kind, similarity) of an indexed text this one duplicates, or None."""
        norm, sig = _prepared or self._prepare(text)
        if self.cfg.exact and norm in self.exact:
            return self.exact[norm], "exact", 1.0
        if sig is None:
            return None
        best: tuple[str, str, float] | None = None
        seen: set[str] = set()
        for band in self._bands(sig):
            for key in self.buckets.get(band, ()):
                if key in seen:
                    continue
                seen.add(key)
                sim = float(np.count_nonzero(self.sigs[key] == sig)) / len(sig)
                if sim >= self.cfg.threshold and self._same_math(key, norm):
                    if best is None or sim > best[2]:
                        best = (key, "near", sim)
        return best

    def add(self, key: str, text: str, _prepared=None) -> None:
        norm, sig = _prepared or self._prepare(text)
        self.exact.setdefault(norm, key)
        if sig is None:
            return
        self.sigs[key], self.norms[key] = sig, norm
        for band in self._bands(sig):
            self.buckets.setdefault(band, []).append(key)

    def query_or_add(self, key: str, text: str) -> tuple[str, str, float] | None:
        """Return the duplicate hit for `text`, or index it under `key` and return None."""
        prepared = self._prepare(text)
        hit = self.query(text, prepared)
        if hit is None:
            self.add(key, text, prepared)
        return hit


def deduplicate(rows: Iterable[Row], cfg: DedupConfig) -> tuple[list[Row], list[DupMatch]]:
    """Keep the first of each group of duplicates (per split); report every removed row."""
    indexes: dict[str, NearDupIndex] = {}
    origin_of: dict[str, str] = {}
    kept, removed = [], []
    for row in rows:
        index = indexes.setdefault(row.split, NearDupIndex(cfg))
        hit = index.query_or_add(row.id, row.problem)
        origin = str(row.metadata.get("origin", ""))
        if hit is not None:
            key, kind, sim = hit
            removed.append(DupMatch(row.id, origin, row.source, key, origin_of[key], kind, round(sim, 4)))
            continue
        origin_of[row.id] = origin
        kept.append(row)
    return kept, removed
