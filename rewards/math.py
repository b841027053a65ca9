"""Math outcome verifier: `verify_math(completion, gold, **options) -> VerifyResult` ("math").

Inputs: the model completion (any text) and the gold answer (a string with or without
`$` delimiters, or a number). Output: score 1.0 / 0.0 with a reason, or score None
(skip the row) when the gold cannot be parsed.

Algorithm:
1. Gold: normalised and parsed once (LRU cache keyed by gold and extraction options).
   Plain numbers use an exact fast path; anything else goes to math-verify's LaTeX
   parser (bare gold strings are wrapped in `$...$`). Nothing parsed -> `gold_unparsable`.
2. Completion: `rewards.extract.extract_answer` (last boxed, `<answer>` after
   `</think>`, "the answer is", opt-in last number). Different boxed answers -> `hedge`
   (joined instead when the gold itself has several parts). Nothing -> `no_answer`,
   unless `match_types` is given: then math-verify's own extraction runs on the text
   (the behaviour of its test-suite harness).
3. Caps (`rewards.mathnorm.cap_violation`) refuse long, deep, tower, factorial and
   unevaluated integral/sum/limit answers before sympy sees them -> `parse_error`.
4. Fast paths: identical canonical strings -> ok; two exact plain numbers -> compare
   `Fraction`s. Otherwise math-verify `verify(gold, pred)` with its signal-based timeouts
   disabled (deadlines are enforced by the worker pool), then post-checks for its known
   false positives: a false numeric relation as the answer (`5=7` vs 7), exact numbers
   that only agree after float chopping (`1/2^99` vs `1/2^98`), different base subscripts.

Options (all keyword): `extract` (modes, default boxed/answer_tag/answer_is),
`last_number_fallback` (False), `match_types` (None, or ["latex", "expr"]),
`float_rounding` (6; alias `precision`), `numeric_precision` (15), `strict` (True),
`allow_set_relation_comp` (False), `max_answer_chars`, `max_nesting`, `hedge` (True),
`require_evaluated` (False: when the gold is a plain number, an answer that is still an arithmetic
expression over numbers, `18 - 14` for 4, is refused with reason `unevaluated` instead of letting sympy
do the arithmetic; the procedural source sets it on its rows, where restating the problem was the reward
hack a 135M policy found),
`language` (accepted, ignored). Unknown options raise TypeError.

The function is deterministic, thread-safe, picklable by name and never evals model text.
Percentages follow math-verify and the public pairs' labels: `9\\%` equals `9`.

Example:
    python -c "from rewards.math import verify_math; print(verify_math('so \\\\boxed{\\\\frac12}', '0.5'))"
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from decimal import Decimal
from fractions import Fraction
from typing import Any

import sympy
from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
from sympy.core.relational import Relational

from rewards.base import Reason, VerifyResult
from rewards.extract import MODES, extract_answer, unwrap_number
from rewards import mathnorm as mn
from rewards.registry import register
from rewards.sll import sll_parsing

logging.getLogger("math_verify").setLevel(logging.ERROR)  # "timeout disabled" warning: deadlines live in the pool

_DELIMS = ("$", "\\(", "\\[", "\\boxed", "\\fbox")
_MULTI = re.compile(r",|;|\\text\{\s*(?:and|or)\s*\}|\band\b|\bor\b|\\quad")
_BASE = re.compile(r"_\{?(\d+)\}?$")


@dataclasses.dataclass(frozen=True)
class MathOptions:
    extract: tuple[str, ...] = MODES
    last_number_fallback: bool = False
    match_types: tuple[str, ...] | None = None
    float_rounding: int = 6
    numeric_precision: int = 15
    strict: bool = True
    allow_set_relation_comp: bool = False
    max_answer_chars: int = mn.MAX_ANSWER_CHARS
    max_nesting: int = mn.MAX_NESTING
    hedge: bool = True
    require_evaluated: bool = False

    @classmethod
    def from_kwargs(cls, options: dict[str, Any]) -> "MathOptions":
        opts = dict(options)
        opts.pop("language", None)
        if "precision" in opts:
            opts.setdefault("float_rounding", opts.pop("precision"))
        for key in ("extract", "match_types"):
            if opts.get(key) is not None:
                opts[key] = (opts[key],) if isinstance(opts[key], str) else tuple(opts[key])
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(opts) - known)
        if unknown:
            raise TypeError(f"verify_math: unknown option(s) {unknown}; known: {sorted(known)}")
        return cls(**{k: v for k, v in opts.items() if v is not None})


@dataclasses.dataclass(frozen=True)
class ParsedGold:
    text: str  # normalised gold string
    parsed: tuple  # math-verify candidates (sympy objects and/or strings)
    number: tuple[Fraction, bool] | None  # exact value when the gold is a plain number
    multi_part: bool  # the gold lists several answers


def _configs(match_types: tuple[str, ...] | None, boxed_first: bool) -> list:
    kinds = match_types or ("latex", "expr")
    out: list = []
    if "latex" in kinds:
        out.append(LatexExtractionConfig(boxed_match_priority=0) if boxed_first else LatexExtractionConfig())
    if "expr" in kinds:
        out.append(ExprExtractionConfig())
    return out


def _sympy_number(value: Fraction, is_decimal: bool, text: str) -> sympy.Basic:
    if is_decimal:  # what latex2sympy builds for "0.25": a Float
        return sympy.Float(str(Decimal(value.numerator) / Decimal(value.denominator)))
    return sympy.Rational(value.numerator, value.denominator)


def _gold_text(gold: Any) -> str:
    if isinstance(gold, bool):
        raise TypeError("boolean gold")
    if isinstance(gold, float) and gold.is_integer():
        return str(int(gold))
    return mn.fix_escaped_commands(mn.sanitize(str(gold))).replace("\\$", "").strip()


def _top_level_multi(s: str) -> bool:
    depth = 0
    flat = []
    for ch in s:
        depth += (ch in "([{") - (ch in ")]}")
        flat.append(ch if depth == 0 else " ")
    return bool(_MULTI.search("".join(flat)))


@functools.lru_cache(maxsize=4096)
def parse_gold(gold_text: str, match_types: tuple[str, ...] | None) -> ParsedGold | None:
    """Parse a gold answer once; None when nothing can be parsed."""
    if not gold_text or len(gold_text) > mn.MAX_GOLD_CHARS:
        return None
    bare = not any(d in gold_text for d in _DELIMS)
    number = mn.fast_number(gold_text) if bare or gold_text.startswith("$") else None
    multi = _top_level_multi(mn.strip_delimiters(gold_text))
    if number is not None:
        return ParsedGold(gold_text, (_sympy_number(*number, gold_text), mn.canon(gold_text)), number, False)
    src = f"${gold_text}$" if bare else gold_text
    with sll_parsing():
        parsed = parse(src, _configs(match_types, match_types is not None), parsing_timeout=None)
    if not parsed or (all(isinstance(p, str) for p in parsed) and not mn.braces_balanced(gold_text)):
        return None  # nothing, or only the raw string of malformed LaTeX ("\\frac{")
    multi = multi or any(isinstance(p, sympy.FiniteSet) and len(p) > 1 for p in parsed)
    return ParsedGold(gold_text, tuple(parsed), None, multi)


def _parse_answer(answer: str, prose: bool) -> list:
    number = mn.fast_number(answer)
    if number is not None:
        return [_sympy_number(*number, answer), mn.canon(answer)]
    if prose:  # a sentence after "the answer is": let math-verify find the maths in it
        return parse(answer, _configs(None, False), parsing_timeout=None)
    return parse("\\boxed{" + answer + "}", _configs(None, True), parsing_timeout=None)


def _result(score: float | None, reason: str, extracted: str | None, **details: Any) -> VerifyResult:
    return VerifyResult(score, reason, extracted, {k: v for k, v in details.items() if v is not None})


@register("math")
def verify_math(completion: str, gold: Any, **options: Any) -> VerifyResult:
    """Score `completion` against `gold` (see module docstring)."""
    opts = MathOptions.from_kwargs(options)
    try:
        gold_text = _gold_text(gold)
    except TypeError as e:
        return _result(None, Reason.GOLD_UNPARSABLE, None, error=str(e))
    g = parse_gold(gold_text, opts.match_types)
    if g is None:
        return _result(None, Reason.GOLD_UNPARSABLE, None, gold=gold_text[:200])
    text = mn.sanitize(completion if isinstance(completion, str) else str(completion))
    ex = extract_answer(text, opts.extract, last_number_fallback=opts.last_number_fallback,
                        multi_part=g.multi_part)
    if ex.hedge and opts.hedge:
        return _result(0.0, Reason.HEDGE, ex.answer, candidates=ex.candidates[-8:])
    if ex.answer is None:
        if opts.match_types is None:
            return _result(0.0, Reason.NO_ANSWER, None)
        return _fallback_parse(ex.region, g, opts)
    answer = unwrap_number(mn.fix_escaped_commands(ex.answer).replace("\\$", ""))
    refused = mn.cap_violation(answer, g.text, max_chars=opts.max_answer_chars, max_nesting=opts.max_nesting)
    if refused:
        return _result(0.0, Reason.PARSE_ERROR, answer[:200], refused=refused, source=ex.source)
    if mn.canon(answer) == mn.canon(g.text):
        return _result(1.0, Reason.OK, answer, source=ex.source, path="exact")
    number = mn.fast_number(answer)
    if opts.require_evaluated and g.number is not None and _unevaluated(answer, g.number[0]):
        return _result(0.0, UNEVALUATED, answer, source=ex.source)
    if number is not None and g.number is not None and not (number[1] or g.number[1]):
        ok = number[0] == g.number[0]
        return _result(1.0 if ok else 0.0, Reason.OK if ok else Reason.WRONG, answer, source=ex.source, path="fraction")
    with sll_parsing():
        pred = _parse_answer(answer, ex.prose)
    if not pred:
        return _result(0.0, Reason.PARSE_ERROR, answer, source=ex.source)
    return _compare(g, pred, answer, opts, ex.source, check_relation=True)


UNEVALUATED = "unevaluated"  # reason: arithmetic left for the verifier to do (require_evaluated)
_NUM = r"\d+(?:\.\d+)?"
_BINARY_OP = re.compile(rf"{_NUM}\s*\)?\s*(?:[-+*/\u00d7\u00f7\u00b7]|\\times|\\cdot|\\div)\s*\(?\s*-?\s*{_NUM}")
_FRACTION = re.compile(r"\\[dt]?frac")


def _unevaluated(answer: str, gold: Fraction) -> bool:
    """An arithmetic expression over numbers (`18 - 14`, `3 \times 4`, `(9+1)`) given for a plain-number gold;
    for an integer gold a fraction (`\frac{8}{2}`, `8/2`) counts too. A single signed number, a fraction for
    a fractional gold, thousands separators, units and percent signs are not expressions. In a relation only
    the last side counts: `2 + 2 = 4` states the result, `x = 18 - 14` does not."""
    answer = answer.rsplit("=", 1)[-1]
    if _BINARY_OP.search(answer):
        if gold.denominator != 1 and re.fullmatch(rf"\s*-?\s*{_NUM}\s*/\s*{_NUM}\s*", answer):
            return False  # 3/4 for gold 0.75 is a number, not a computation
        return True
    return gold.denominator == 1 and bool(_FRACTION.search(answer))


def _fallback_parse(region: str, g: ParsedGold, opts: MathOptions) -> VerifyResult:
    """No front-end answer and `match_types` given: math-verify's own extraction on the text tail."""
    tail = mn.fix_escaped_commands(region[-20_000:]).replace("\\$", "")
    refused = mn.cap_violation(tail, g.text, max_chars=20_000, max_nesting=opts.max_nesting)
    if refused:
        return _result(0.0, Reason.PARSE_ERROR, None, refused=refused, source="fallback")
    with sll_parsing():
        pred = parse(tail, _configs(opts.match_types, True), parsing_timeout=None)
    if not pred:
        return _result(0.0, Reason.NO_ANSWER, None, source="fallback")
    shown = pred[-1] if isinstance(pred[-1], str) else str(pred[0])
    return _compare(g, pred, shown, opts, "fallback", check_relation=False)


def _compare(g: ParsedGold, pred: list, answer: str, opts: MathOptions, source: str,
             check_relation: bool) -> VerifyResult:
    """math-verify's verify plus post-checks. The relation check applies to front-end answers only:
    in free text (fallback) math-verify deliberately reads the last side of an equation chain."""
    false_relation = False
    if check_relation:
        pred, false_relation = _resolve_numeric_relations(pred, g.parsed)
    if false_relation:
        return _result(0.0, Reason.WRONG, answer, source=source, post_check="false_relation")
    ok = verify(list(g.parsed), pred, float_rounding=opts.float_rounding, numeric_precision=opts.numeric_precision,
                strict=opts.strict, allow_set_relation_comp=opts.allow_set_relation_comp, timeout_seconds=None)
    if ok and _numbers_differ(g.parsed, pred, opts.float_rounding):
        return _result(0.0, Reason.WRONG, answer, source=source, post_check="float_chop")
    if ok and _bases_differ(g.text, answer):
        return _result(0.0, Reason.WRONG, answer, source=source, post_check="base_subscript")
    return _result(1.0 if ok else 0.0, Reason.OK if ok else Reason.WRONG, answer, source=source, path="sympy")


def _resolve_numeric_relations(pred: list, gold: tuple) -> tuple[list, bool]:
    """`5=7` (no free symbols) as the answer to a non-relational gold is false; `2*3=6` becomes 6."""
    if any(isinstance(x, Relational) for x in gold):
        return pred, False
    out = []
    for p in pred:
        if isinstance(p, Relational) and not p.free_symbols and p.rel_op == "==":
            try:
                holds = (p.lhs - p.rhs).equals(0)
            except (TypeError, ValueError, AttributeError):
                holds = None
            if holds is False:
                return pred, True
            out.append(p.rhs)
        else:
            out.append(p)
    return out, False


def _first_number(cands) -> sympy.Expr | None:
    for c in cands:
        if isinstance(c, sympy.Expr) and not isinstance(c, Relational):
            return c if c.is_number and not c.has(sympy.UnevaluatedExpr) else None
    return None


def _numbers_differ(gold: tuple, pred: list, float_rounding: int) -> bool:
    """True when two numbers were judged equal only by chopping or rounding their difference away:
    exact numbers must agree to 12 significant digits (`1/2^99` != `1/2^98`), floats to the
    relative precision the rounding implies (`1e-20` != `2e-20` although both round to 0)."""
    a, b = _first_number(gold), _first_number(pred)
    if a is None or b is None:
        return False
    try:
        va, vb = complex(a.evalf(40)), complex(b.evalf(40))
    except (TypeError, ValueError, OverflowError):
        return False
    exact = not (a.has(sympy.Float) or b.has(sympy.Float))
    tol = 1e-12 if exact else 10.0 ** -(max(float_rounding, 1) - 1)
    scale = max(abs(va), abs(vb))
    return scale > 0 and abs(va - vb) > tol * scale


def _bases_differ(gold: str, answer: str) -> bool:
    mg, ma = _BASE.search(mn.canon(gold)), _BASE.search(mn.canon(answer))
    return bool(mg and ma and mg.group(1) != ma.group(1))


def clear_caches() -> None:
    """Forget parsed golds (and math-verify's own small parse caches): for cold-cache benchmarks."""
    from math_verify import parser as mv_parser

    parse_gold.cache_clear()
    mv_parser.parse_latex_cached.cache_clear()
    mv_parser.parse_expr_cached.cache_clear()
