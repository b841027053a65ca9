"""Shared by tests/rewards/test_process.py and benchmarks/bench_process.py: GSM8K chains and
single-number mutations of the numbers that sit in equalities (plain text or `<<a=b>>`)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from rewards.arith import tokenize
from rewards.process import _MATH_KINDS, split_steps, verify_process


def gsm8k_chains(bench_dir: Path, n: int) -> list[str]:
    """The first `n` GSM8K train solutions (without the `#### answer` line)."""
    out = []
    with open(Path(bench_dir) / "gsm8k_train.jsonl", encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line)["answer"].split("####")[0].rstrip())
            if len(out) == n:
                break
    return out


def equality_numerals(text: str) -> list[tuple[int, int]]:
    """Character spans of numerals inside runs of arithmetic that contain '=' (one step at a time)."""
    spans = []
    for s, e in split_steps(text):
        toks = tokenize(text[s:e], latex=False)
        i = 0
        while i < len(toks):
            j = i
            while j < len(toks) and toks[j].kind in _MATH_KINDS:
                j += 1
            run = toks[i:j]
            if any(t.kind == "EQ" for t in run):
                spans += [(s + t.start, s + t.end) for t in run if t.kind == "NUM" and t.text != "0"]
            i = max(j, i + 1)
    return spans


def mutate(text: str, rng: random.Random) -> str | None:
    """Change one digit of one numeral that sits in an equality; None if there is none."""
    spans = equality_numerals(text)
    if not spans:
        return None
    s, e = rng.choice(spans)
    digits = [k for k in range(s, e) if text[k].isdigit()]
    k = rng.choice(digits)
    choices = [d for d in "0123456789" if d != text[k] and not (d == "0" and k == s)]
    return text[:k] + rng.choice(choices) + text[k + 1:]


def catch_rate(chains: list[str], seed: int = 0) -> tuple[int, int, int, list[str]]:
    """(false verdicts on the originals, mutants, mutants caught, uncaught mutants)."""
    rng = random.Random(seed)
    false_on_correct = sum(verify_process(c).score == 0.0 for c in chains)
    mutants = [m for m in (mutate(c, rng) for c in chains) if m is not None]
    missed = [m for m in mutants if verify_process(m).score != 0.0]
    return false_on_correct, len(mutants), len(mutants) - len(missed), missed
