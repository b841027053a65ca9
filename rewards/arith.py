"""A restricted tokenizer and parser for the arithmetic written in chains of thought (never `eval`).

Inputs: a piece of model text. Outputs: `tokenize(text, latex)` -> list of `Tok`; `parse(tokens)`
-> a sympy expression, or `Unjudged` raised for anything outside the grammar or too large.

Grammar (the whole part must be consumed):
    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary | <implicit product> unary)*
    unary   := ("-" | "+") unary | power
    power   := primary ("^" unary)?
    primary := NUM | VAR | \\pi | "(" expr ")" | "[" expr "]" | "{" expr "}"
             | \\frac "{" expr "}" "{" expr "}" | \\sqrt ("[" expr "]")? primary
Numbers: `1,234,567` (commas only in groups of three), `3.25` (exact rationals), unicode ² ³.
Operators: + - − * × · ⋅ ÷ / ^ ** \\cdot \\times \\div, and `x` between two numbers in plain text
(`12 x 2`). Plain text allows single-letter variables; inside `$…$` letter runs are products of
single-letter symbols (`2ab`) and `*` is a stopper (LaTeX multiplies with \\cdot; `3*2` there is
usually an operator the problem defines). Everything else (`%`, `!`, `\\int`, words, functions) is a stopper.

Guards: at most 100 digits per literal, nesting depth 60, integer powers whose result would exceed
~2,000 digits and fractional exponents with denominators above 12 are refused (`Unjudged`), so a
power tower in the text never reaches sympy's big-integer code.
"""

from __future__ import annotations

import dataclasses
import math
import re

import sympy

MAX_DIGITS, MAX_DEPTH, MAX_POW_DIGITS = 100, 60, 2000


class Unjudged(ValueError):
    """The text is outside the grammar or too large to check."""


@dataclasses.dataclass
class Tok:
    kind: str  # NUM VAR OP LP RP LB RB LSQ RSQ FRAC SQRT PI EQ WORD STOP
    text: str
    start: int
    end: int
    space_before: bool = False


_NUM = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d|,\d)|\d+(?:\.\d+)?|\.\d+")
_CMD = re.compile(r"\\([A-Za-z]+|[,;:! ])")
_OPS = {"+": "+", "-": "-", "\u2212": "-", "*": "*", "\u00d7": "*", "\u00b7": "*", "\u22c5": "*",
        "\u00f7": "/", "/": "/", "^": "^"}
_BRACKETS = {"(": "LP", ")": "RP", "{": "LB", "}": "RB", "[": "LSQ", "]": "RSQ"}
_SUPERSCRIPT = {"\u00b2": "2", "\u00b3": "3"}
_LATEX_CMDS = {"frac": "FRAC", "dfrac": "FRAC", "tfrac": "FRAC", "sqrt": "SQRT", "pi": "PI",
               "cdot": "*", "times": "*", "div": "/"}
_IGNORED_CMDS = {"left", "right", ",", ";", ":", "!", " ", "quad", "qquad", "displaystyle"}


def tokenize(text: str, latex: bool) -> list[Tok]:
    """Split `text` into tokens; unknown characters become STOP tokens, letter runs WORD or VAR."""
    toks: list[Tok] = []
    i, n, space = 0, len(text), False
    while i < n:
        c = text[i]
        if c.isspace() or c == "$" or (latex and c == "&"):
            i, space = i + 1, True
            continue
        m = _NUM.match(text, i) if c.isdigit() or c == "." else None
        if m and m.group().strip("."):
            toks.append(Tok("NUM", m.group(), i, m.end(), space))
            i = m.end()
        elif text.startswith("**", i):
            toks.append(Tok("OP", "^", i, i + 2, space))
            i += 2
        elif c in _OPS and not (latex and c == "*"):  # LaTeX writes \cdot; `a*b` there is a custom operator
            toks.append(Tok("OP", _OPS[c], i, i + 1, space))
            i += 1
        elif c in _SUPERSCRIPT:
            toks += [Tok("OP", "^", i, i, False), Tok("NUM", _SUPERSCRIPT[c], i, i + 1, False)]
            i += 1
        elif c in _BRACKETS:
            toks.append(Tok(_BRACKETS[c], c, i, i + 1, space))
            i += 1
        elif c == "=":
            j = i + 1 + (text.startswith("==", i))
            toks.append(Tok("EQ", "=", i, j, space))
            i = j
        elif c == "\u221a":
            toks.append(Tok("SQRT", c, i, i + 1, space))
            i += 1
        elif c == "\\" and (m := _CMD.match(text, i)):
            name = m.group(1)
            if name not in _IGNORED_CMDS:
                kind = _LATEX_CMDS.get(name, "STOP")
                toks.append(Tok("OP" if kind in "*/" else kind, kind if kind in "*/" else m.group(), i, m.end(), space))
            i = m.end()
        elif c == "\u03c0":
            toks.append(Tok("PI", c, i, i + 1, space))
            i += 1
        elif c.isascii() and c.isalpha():
            j = i
            while j < n and text[j].isascii() and text[j].isalpha():
                j += 1
            word = text[i:j]
            if word == "sqrt":
                toks.append(Tok("SQRT", word, i, j, space))
            elif latex:
                toks += [Tok("VAR", ch, i + k, i + k + 1, space and k == 0) for k, ch in enumerate(word)]
            else:
                toks.append(Tok("VAR" if len(word) == 1 else "WORD", word, i, j, space))
            i = j
        else:
            toks.append(Tok("STOP", c, i, i + 1, space))
            i += 1
        space = False
    return _times_x(toks) if not latex else toks


def _times_x(toks: list[Tok]) -> list[Tok]:
    """Plain text: `12 x 2` and `3x4` mean multiplication when `x` sits between numbers."""
    out = list(toks)
    for k in range(1, len(toks) - 1):
        t = toks[k]
        if t.kind == "VAR" and t.text in "xX" and toks[k - 1].kind in ("NUM", "RP") and toks[k + 1].kind in ("NUM", "LP"):
            out[k] = Tok("OP", "*", t.start, t.end, t.space_before)
    return out


_STARTS_PRIMARY = {"NUM", "VAR", "PI", "LP", "LB", "LSQ", "FRAC", "SQRT"}


class _Parser:
    def __init__(self, toks: list[Tok]):
        self.toks, self.pos, self.depth = toks, 0, 0

    def peek(self, kind: str | None = None, text: str | None = None) -> Tok | None:
        if self.pos >= len(self.toks):
            return None
        t = self.toks[self.pos]
        if (kind and t.kind != kind) or (text and t.text != text):
            return None
        return t

    def take(self, kind: str, text: str | None = None) -> Tok:
        t = self.peek(kind, text)
        if t is None:
            raise Unjudged(f"expected {text or kind}")
        self.pos += 1
        return t

    def parse(self) -> sympy.Expr:
        e = self.expr()
        if self.pos != len(self.toks):
            raise Unjudged(f"unexpected {self.toks[self.pos].text!r}")
        return e

    def expr(self) -> sympy.Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Unjudged("nesting too deep")
        e = self.term()
        while (t := self.peek("OP")) and t.text in "+-":
            self.pos += 1
            rhs = self.term()
            e = e + rhs if t.text == "+" else e - rhs
        self.depth -= 1
        return e

    def term(self) -> sympy.Expr:
        e = self.unary()
        while True:
            t = self.peek()
            if t is not None and t.kind == "OP" and t.text in "*/":
                self.pos += 1
                rhs = self.unary()
                if t.text == "/" and rhs == 0:
                    raise Unjudged("division by zero")
                e = e * rhs if t.text == "*" else e / rhs
            elif t is not None and t.kind in _STARTS_PRIMARY and not (t.kind == "NUM"):
                e = e * self.unary()  # implicit product: 2x, 2(3+4), 2\sqrt{3}; never "2 3"
            else:
                return e

    def unary(self) -> sympy.Expr:
        t = self.peek("OP")
        if t is not None and t.text in "+-":
            self.pos += 1
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise Unjudged("nesting too deep")
            v = self.unary()
            self.depth -= 1
            return -v if t.text == "-" else v
        return self.power()

    def power(self) -> sympy.Expr:
        base = self.primary()
        if self.peek("OP", "^"):
            self.pos += 1
            return safe_pow(base, self.unary())
        return base

    def group(self, open_kind: str, close_kind: str) -> sympy.Expr:
        self.take(open_kind)
        e = self.expr()
        self.take(close_kind)
        return e

    def primary(self) -> sympy.Expr:
        t = self.peek()
        if t is None:
            raise Unjudged("missing operand")
        if t.kind == "NUM":
            self.pos += 1
            return number(t.text)
        if t.kind == "VAR":
            self.pos += 1
            return sympy.Symbol(t.text)
        if t.kind == "PI":
            self.pos += 1
            return sympy.pi
        for open_kind, close_kind in (("LP", "RP"), ("LB", "RB"), ("LSQ", "RSQ")):
            if t.kind == open_kind:
                return self.group(open_kind, close_kind)
        if t.kind == "FRAC":
            self.pos += 1
            num = self.group("LB", "RB")
            den = self.group("LB", "RB")
            if den == 0:
                raise Unjudged("division by zero")
            return num / den
        if t.kind == "SQRT":
            self.pos += 1
            index = self.group("LSQ", "RSQ") if self.peek("LSQ") else sympy.Integer(2)
            return safe_pow(self.primary(), 1 / index)
        raise Unjudged(f"unexpected {t.text!r}")


def number(text: str) -> sympy.Rational:
    """Exact value of a numeral: `1,234.5` -> 2469/2."""
    digits = text.replace(",", "")
    if len(digits) > MAX_DIGITS:
        raise Unjudged("numeral too long")
    if len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():
        raise Unjudged("leading zero (a time or a code, not a number)")
    return sympy.Rational(digits)


def safe_pow(base: sympy.Expr, exp: sympy.Expr) -> sympy.Expr:
    """base ** exp, refusing results too large to build (power towers) or odd roots of big degree."""
    if exp.is_Rational:
        if exp.q > 12 or abs(exp.p) > 10_000:
            raise Unjudged("exponent too large")
        if base.is_Rational and base != 0:
            size = max(abs(base.p), abs(base.q))
            if size > 1 and abs(exp.p) * math.log10(size) > MAX_POW_DIGITS:
                raise Unjudged("power too large")
        if base == 0 and exp < 0:
            raise Unjudged("division by zero")
    elif exp.free_symbols or not exp.is_number:
        pass  # symbolic exponent: values substituted later are small
    else:
        raise Unjudged("irrational exponent")
    return sympy.Pow(base, exp)


def parse(toks: list[Tok]) -> sympy.Expr:
    """A sympy expression for the whole token list, or `Unjudged`."""
    if not toks:
        raise Unjudged("empty")
    return _Parser(toks).parse()
