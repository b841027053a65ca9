"""String-level normalisation, safety caps and a numeric fast path for math answers.

Everything here works on plain strings and never evaluates model text: the only
conversions are regex matches and `fractions.Fraction`/`decimal.Decimal` on digit
strings that a regex has already validated.

- `sanitize(text)`: drop NUL bytes and lone surrogates so that regexes, sympy and
  JSON logging never see them.
- `canon(answer)`: a canonical spelling used to compare extracted answers with each
  other (hedge detection) and for the exact-string fast path (`\\dfrac` -> `\\frac`,
  no spaces, no `\\left`/`\\right`, no thin spaces, no `$`).
- `fix_escaped_commands(s)`: `\\\\frac` (a doubly escaped command, common in JSON
  dumps of model output) -> `\\frac`, for known command names only.
- `cap_violation(answer, gold)`: the reason an answer is refused before sympy sees it
  (too long, too deeply nested, huge exponent, power tower, huge or symbolic factorial,
  unevaluated integral/sum/limit when the gold has none), or None.
- `fast_number(s)`: an exact value (`Fraction`) and whether it was written as a decimal,
  for answers that are plain numbers (`1,234`, `-0.5`, `\\frac{3}{4}`, `3/4`, `.5`);
  None for everything else.

Example:
    >>> canon("\\\\left( \\\\dfrac{1}{2}, 3 \\\\right)")
    '(\\\\frac{1}{2},3)'
    >>> fast_number("7,425,000")
    (Fraction(7425000, 1), False)
"""

from __future__ import annotations

import re
from fractions import Fraction

# ---- caps (defaults; every one can be overridden through verify_math options) -------
MAX_ANSWER_CHARS = 1000  # longest extracted answer that reaches sympy
MAX_GOLD_CHARS = 4000
MAX_NESTING = 40  # brace / parenthesis depth
MAX_EXPONENT_DIGITS = 4  # a literal exponent up to 9999
MAX_FACTORIAL_ARG = 1000
MAX_INT_DIGITS = 400  # a bare integer literal

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SPACES = re.compile(r"(\\[,;:! ]|\\q?quad|\\displaystyle|\\left|\\right|\\big|\\Big|~|\s)+")
_ESCAPED_CMD = re.compile(
    r"(?<!\\)\\\\(?=(?:frac|dfrac|tfrac|sqrt|le|leq|ge|geq|neq|ne|pi|cdot|times|infty|text|mathrm|left|right|"
    r"in|cup|cap|pm|mp|circ|boxed|sin|cos|tan|log|ln|div|emptyset|varnothing|mathbf|begin|end)(?![a-zA-Z]))"
)
_UNEVALUATED = re.compile(r"\\(?:int|iint|iiint|oint|sum|prod|lim|limsup|liminf|partial)(?![a-zA-Z])|\\frac\{d\}\{d")
_EXP_LITERAL = re.compile(r"\^\s*\{?\s*[+-]?(\d+)")
_TOWER = re.compile(r"\^\s*\{[^{}]*\^|\^\s*\d+\s*\^|\^\s*\{[^{}]*\{[^{}]*\^")
_FACT_LITERAL = re.compile(r"(\d+)\s*!(?!=)")
_FACT_GROUP = re.compile(r"[)}\]a-zA-Z]\s*!(?!=)")
_BIG_INT = re.compile(r"\d{%d,}" % (MAX_INT_DIGITS + 1))

# plain numbers: 12, -3, 1,234,567, 0.25, .5, 1{,}000, 3/4, \frac{3}{4}, -\dfrac34
_INT = r"(?:\d{1,3}(?:,\d{3})+|\d{4,},\d{1,2}(?!\d)|\d+)"
_DEC = rf"(?:{_INT}(?:\.\d+)?|\.\d+)"
_NUM_RE = re.compile(rf"^([+-]?)({_DEC})$")
_FRAC_RE = re.compile(r"^([+-]?)\\frac(?:\{(\d+)\}|(\d))(?:\{(\d+)\}|(\d))$")
_SLASH_RE = re.compile(r"^([+-]?)(\d+)/(\d+)$")
_SCI_RE = re.compile(r"^([+-]?)(\d+(?:\.\d+)?)(?:[eE]|\\times10\^|\\cdot10\^)\{?([+-]?\d{1,3})\}?$")
_PROSE = re.compile(r"(?<![\\\w])[^\W\d_]{3,}|[\u3040-\u9fff\uac00-\ud7af]")  # a 3+ letter word, or CJK
_TEXT_CMD = re.compile(r"\\(?:text|textbf|textnormal|mathrm|mbox|operatorname)\s*\{[^{}]*\}")


def looks_like_prose(s: str) -> bool:
    """True when `s` has a word of 3+ letters outside LaTeX commands and \\text{...}."""
    return bool(_PROSE.search(_TEXT_CMD.sub(" ", s)))


def sanitize(text: str) -> str:
    """Remove NUL bytes and lone surrogates (they break regex engines, sympy and JSON)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    return text


def fix_escaped_commands(s: str) -> str:
    """`\\\\frac` -> `\\frac` for known command names (a doubly escaped dump of model text)."""
    return _ESCAPED_CMD.sub(r"\\", s) if "\\\\" in s else s


def strip_delimiters(s: str) -> str:
    """Remove surrounding `$`, `$$`, `\\(..\\)`, `\\[..\\]` and a trailing full stop."""
    s = s.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if s.startswith(left) and s.endswith(right) and len(s) >= len(left) + len(right):
            s = s[len(left): len(s) - len(right)].strip()
    return s.rstrip(".").strip()


def canon(answer: str) -> str:
    """Canonical spelling for exact comparison of two answer strings (not for parsing)."""
    s = strip_delimiters(fix_escaped_commands(answer))
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = _SPACES.sub("", s).replace("{,}", ",")
    return s.replace("\\$", "").replace("$", "").rstrip(".")


def cap_violation(answer: str, gold: str = "", *, max_chars: int = MAX_ANSWER_CHARS,
                  max_nesting: int = MAX_NESTING, max_exponent_digits: int = MAX_EXPONENT_DIGITS,
                  max_factorial: int = MAX_FACTORIAL_ARG) -> str | None:
    """Why `answer` must not reach sympy, or None. `gold` lifts the caps it shares."""
    if len(answer) > max_chars:
        return f"answer longer than {max_chars} chars"
    depth = peak = 0
    for ch in answer:
        if ch in "{([":
            depth += 1
            peak = max(peak, depth)
        elif ch in "})]":
            depth -= 1
    if peak > max_nesting:
        return f"nesting deeper than {max_nesting}"
    if _BIG_INT.search(answer):
        return f"integer literal longer than {MAX_INT_DIGITS} digits"
    for m in _EXP_LITERAL.finditer(answer):
        if len(m.group(1).lstrip("0")) > max_exponent_digits:
            return f"exponent {m.group(1)[:20]} too large"
    if _TOWER.search(answer) and not _TOWER.search(gold):
        return "power tower"
    for m in _FACT_LITERAL.finditer(answer):
        if int(m.group(1)[:10]) > max_factorial:
            return f"factorial of {m.group(1)[:20]}"
    if _FACT_GROUP.search(answer) and "!" not in gold:
        return "factorial of an expression"
    if _UNEVALUATED.search(answer) and not _UNEVALUATED.search(gold):
        return "unevaluated integral/sum/limit/derivative"
    return None


def braces_balanced(s: str) -> bool:
    """`{`/`}` balance (escaped `\\{`/`\\}` ignored): an unbalanced gold cannot be parsed reliably."""
    depth = 0
    for ch in s.replace("\\{", "").replace("\\}", ""):
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            return False
    return depth == 0


def fast_number(s: str) -> tuple[Fraction, bool] | None:
    """Exact value of a plain number and whether it was written as a decimal, else None."""
    if len(s) > 80 or re.search(r"(?<!\{),\s", s):
        return None  # "32, 349" is a list, not 32349
    s = canon(s)
    m = _NUM_RE.match(s)
    if m:
        body = m.group(2)
        decimal_comma = re.match(r"0,\d{3}$|\d{4,},\d{1,2}$", body)  # 0,111 and 1000,99: decimal commas
        body = body.replace(",", ".", 1) if decimal_comma else body.replace(",", "")
        val = Fraction(body)
        return (-val if m.group(1) == "-" else val), "." in body
    m = _SCI_RE.match(s)
    if m:
        val = Fraction(m.group(2)) * Fraction(10) ** int(m.group(3))
        return (-val if m.group(1) == "-" else val), True
    m = _FRAC_RE.match(s) or _SLASH_RE.match(s)
    if m:
        parts = [p for p in m.groups()[1:] if p is not None]
        num, den = int(parts[0]), int(parts[1])
        if den == 0:
            return None
        val = Fraction(num, den)
        return (-val if m.group(1) == "-" else val), False
    return None
