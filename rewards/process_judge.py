"""Verdict on one claimed equality between two arithmetic operands: true, false or unjudged.

Inputs: two operand token lists (`rewards.arith.tokenize`), whether they came from LaTeX math.
Output: `TRUE`, `FALSE` or `UNJUDGED` (`judge`). rewards/process.py finds the claims in a chain of
thought and decides which operands may be judged at all; this module only compares values.

Algorithm choices:
- Notation that only looks like arithmetic stays unjudged: function application (`f(0)`,
  `f^{-1}(0)`), mixed numbers (`3\\frac{3}{4}`), `^24` in LaTeX (r^2 * 4), side ratios (`6-8-10`),
  and chained slashes without brackets (`25 / 1/3`).
- Operands are parsed by `rewards.arith.parse` (a restricted parser: no eval, no sympify of model
  text). Numbers are compared exactly (decimals are exact rationals); when one side is a bare
  numeral showing d decimals and the exact value needs more digits, the pair holds if the numeral is
  the value rounded, truncated or rounded up to its d > 0 decimals (`2/3 = 0.66`); an integer shown
  must be the rounded value (`80/100*11 = 8` is false). Irrational values (sqrt, pi) are compared at
  40 digits.
- Free symbols: random rational substitution at up to 12 points, seeded by the parsed claim (the
  same claim always gets the same verdict); agreement at 4 points is an identity (`true`), anything
  else (a constraint such as `3x+2=17`) is `unjudged`. Powers are rebuilt through
  `rewards.arith.safe_pow`, so no tower is ever built.
"""

from __future__ import annotations

import random
import zlib

import sympy

from rewards.arith import Tok, Unjudged, parse, safe_pow

TRUE, FALSE, UNJUDGED = "true", "false", "unjudged"


def _decimals(tok: Tok) -> int:
    return len(tok.text.split(".")[1]) if "." in tok.text else 0


def bare_numeral(toks: list[Tok]) -> Tok | None:
    """The numeral when an operand is a bare (optionally negative) number."""
    if len(toks) == 1 and toks[0].kind == "NUM":
        return toks[0]
    if len(toks) == 2 and toks[0].kind == "OP" and toks[0].text == "-" and toks[1].kind == "NUM":
        return toks[1]
    return None


def _substitute(e: sympy.Expr, vals: dict) -> sympy.Expr:
    """Evaluate `e` at `vals`, rebuilding powers through `safe_pow` (no tower ever gets built)."""
    if e.is_Symbol:
        return vals[e]
    if not e.args:
        return e
    args = [_substitute(a, vals) for a in e.args]
    if e.is_Pow:
        return safe_pow(args[0], args[1])
    if e.is_Add:
        return sympy.Add(*args)
    if e.is_Mul:
        return sympy.Mul(*args)
    raise Unjudged(f"unsupported {type(e).__name__}")


def _rounds_to(value: sympy.Expr, shown: Tok, shown_val: sympy.Expr) -> bool:
    """`shown` is `value` rounded to the decimals it shows (an integer: to nearest; decimals: nearest,
    truncated or rounded up), and `value` needs more digits than shown (else exact equality is required)."""
    scale = 10 ** _decimals(shown)
    q = value * scale
    if q.is_Rational and q.is_integer:
        return False
    q = sympy.Rational(str(sympy.N(q, 50))) if not q.is_Rational else q
    target = shown_val * scale
    if scale == 1:  # an integer shown: rounded, not truncated (`80/100*11 = 8` is false)
        return target in {sympy.floor(q + sympy.Rational(1, 2)), sympy.ceiling(q - sympy.Rational(1, 2))}
    return target in {sympy.floor(q), sympy.ceiling(q)}  # decimals: rounded, truncated or rounded up


def _numeric_equal(a: sympy.Expr, b: sympy.Expr, shown: Tok | None, shown_val: sympy.Expr | None) -> bool | None:
    """Exact comparison, rounding-aware when one side is a bare numeral; None when not real/finite."""
    if a.is_Rational and b.is_Rational:
        if a == b:
            return True
        return shown is not None and _rounds_to(b if shown_val == a else a, shown, shown_val)
    av, bv = sympy.N(a, 40), sympy.N(b, 40)
    if not (av.is_real and bv.is_real and av.is_finite and bv.is_finite):
        return None
    if shown is not None:
        return _rounds_to(b if shown_val == a else a, shown, shown_val)
    return bool(abs(av - bv) <= sympy.Float(1e-25) * max(1, abs(av)))


def _identity(a: sympy.Expr, b: sympy.Expr, seed: int) -> bool:
    """True when a == b at several random rational points (an identity); False otherwise."""
    syms = sorted(a.free_symbols | b.free_symbols, key=str)
    rng, agreed = random.Random(seed), 0
    for _ in range(12):
        vals = {s: sympy.Rational(rng.choice([-1, 1]) * rng.randint(1, 19), rng.randint(1, 7)) for s in syms}
        try:
            av, bv = _substitute(a, vals), _substitute(b, vals)
        except (Unjudged, ZeroDivisionError):
            continue
        if av.has(sympy.zoo, sympy.nan) or bv.has(sympy.zoo, sympy.nan):
            continue
        same = _numeric_equal(av, bv, None, None)
        if same is None:
            continue
        if not same:
            return False
        agreed += 1
        if agreed >= 4:
            return True
    return False


def _notation_unjudged(side: list[Tok], latex: bool) -> bool:
    """`f(0)`, `g(f(4))`, `f^{-1}(0)`: function application, not a product; `3\\frac{3}{4}`: a mixed
    number; `r^24` in LaTeX: r^2 * 4; `25 / 1/3`: ambiguous without brackets."""
    for k, (a, b) in enumerate(zip(side, side[1:])):
        if a.kind == "VAR" and b.kind == "LP" and not b.space_before:
            return True
        if a.kind == "RB" and b.kind == "LP" and not b.space_before and k >= 4 and side[k - 4].text == "^":
            return True
        if a.kind == "NUM" and b.kind == "FRAC":
            return True
        if latex and a.kind == "OP" and a.text == "^" and b.kind == "NUM" and len(b.text) > 1:
            return True
    if len(side) == 5 and [t.kind for t in side] == ["NUM", "OP", "NUM", "OP", "NUM"] and all(
            t.text == "-" and not t.space_before for t in side[1::2]):
        return True  # `6-8-10 = 3-4-5`: a triangle's side ratios, not subtraction
    slashes = sum(t.kind == "OP" and t.text == "/" for t in side)
    return slashes > 1 and not any(t.kind in ("LP", "LB") for t in side)


def judge(lhs: list[Tok], rhs: list[Tok], latex: bool = False) -> str:
    """Verdict for one claimed equality between two operand token lists."""
    if _notation_unjudged(lhs, latex) or _notation_unjudged(rhs, latex):
        return UNJUDGED
    try:
        a, b = parse(lhs), parse(rhs)
        if a.has(sympy.zoo, sympy.nan) or b.has(sympy.zoo, sympy.nan):
            return UNJUDGED
        if a.free_symbols or b.free_symbols or any(t.kind == "VAR" for t in lhs + rhs):  # `0 or e`: 0*o*r*e
            seed = zlib.crc32(f"{a}={b}".encode())
            return TRUE if _identity(a, b, seed) else UNJUDGED
        shown = bare_numeral(rhs) or bare_numeral(lhs)
        shown_val = None
        if shown is not None:
            shown_val = b if bare_numeral(rhs) is not None else a
        same = _numeric_equal(a, b, shown, shown_val)
    except (Unjudged, ZeroDivisionError, OverflowError, RecursionError, TypeError, ValueError):
        return UNJUDGED
    return UNJUDGED if same is None else (TRUE if same else FALSE)
