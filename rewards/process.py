"""Rule-based process (step) reward ("process"): find confidently false arithmetic in a chain of thought.

Inputs: a completion (any text); the gold is ignored. Output: `VerifyResult` with score 1.0 when no
step is false and 0.0 (reason `false_step`) otherwise; `details` holds per-step verdicts
(`true` / `false` / `unjudged`), counts, and `first_false` = {index, start, end, claim}: the
character span of the first false step, which the trainer maps to tokens for token-level credit.

Algorithm:
1. Steps: lines, then sentences (split after `.`/`!`/`?` that ends a word or number and is followed
   by whitespace and a capital letter, quote, bracket, `$` or `\\`).
2. Claims in a step: GSM8K calculator annotations `<<48/2=24>>`; then equality chains `a = b = c`
   in the remaining text, inside `$…$`/`\\(…\\)`/`\\[…\\]` (LaTeX mode) or in plain text. Operands are
   maximal runs of arithmetic tokens (`rewards.arith`, a restricted parser: no eval, no sympify of
   model text). Operands that may be part of a verbal expression are not judged: glued to other
   text (`10:30`, `50%`), led by an arithmetic or label word (`half of 10 + 6`, `day 1 * 2`), a
   bare number after a word (`Remaining 10 = 62,300/10`), an operator continuing to the left
   (`58 open spots + 2 = 60`), a mixed number (`17/3 = 5 and 2/3`), a unit change (`= 50 cents`).
   In LaTeX, unknown commands and symbols (`\\nabla`, `@`, `_`, `\\binom`), function application
   (`f(0)=4`), mixed numbers, `^24`, ratios and residue talk (`units digit`, `\\equiv`) stay unjudged.
   Tags such as `<think>` separate operands. On all 7,473 GSM8K train solutions this flags 22, on
   inspection typos or arithmetic errors in the data, one of them unit shorthand (`5 * 3 = $15,000`
   for thousands); on all 7,500 MATH train solutions it flags 3, each a real error in the text;
   benchmarks/bench_process.py lists them.
3. Verdicts for each adjacent pair (rewards/process_judge.py): exact, rounding-aware comparison of
   numbers (`2/3 = 0.66` holds, `80/100*11 = 8` does not); with free symbols only an identity is
   `true`, anything else (a constraint such as `3x+2=17`) is `unjudged`. A step is false if any
   claim in it is false.
Use as a capped penalty on the first error (min-form), never as a count of verified equations:
`1 = 1` filler earns nothing: `rewards.scorer` turns it into -weight on a false step, 0 otherwise, and refuses
a process weight that could outweigh the outcome.

Options: `max_steps` (2000), `max_claims` (500), `max_step_chars` (4000).

Example:
    verify_process("200,000 = 2^5·10^4").details["first_false"]   # {'index': 0, 'start': 0, ...}
"""

from __future__ import annotations

import re
from typing import Any

from rewards.arith import Tok, tokenize
from rewards.base import Reason, VerifyResult
from rewards.process_judge import FALSE, TRUE, UNJUDGED, bare_numeral, judge
from rewards.registry import register

FALSE_STEP = "false_step"
_MATH_KINDS = {"NUM", "VAR", "OP", "LP", "RP", "LB", "RB", "LSQ", "RSQ", "FRAC", "SQRT", "PI", "EQ"}
_UNSAFE_LEFT = {"times", "by", "than", "over", "per", "plus", "minus", "half", "twice", "double", "triple",
                "thrice", "quarter", "third", "thirds", "percent", "divided", "multiplied", "into", "from", "and",
                "add", "adding", "subtract", "subtracting", "sum", "difference", "product",
                "between", "every", "each", "square", "cube", "root"}
# `of` is unsafe after a fraction or multiplier word (`half of 10 + 6 = 11`), safe after `total of`
_FRACTION_WORDS = {"half", "halves", "third", "thirds", "quarter", "quarters", "fourth", "fourths", "fifth", "fifths",
                   "tenth", "tenths", "percent", "twice", "double", "triple", "fraction", "portion", "part", "parts"}
_UNSAFE_RIGHT = {"times", "of", "percent", "squared", "cubed", "dozen", "hundred", "thousand", "million",
                 "billion", "halves", "thirds", "quarters", "fifths", "tenths", "plus", "minus", "divided",
                 "multiplied", "over", "cents", "cent"}
# labels followed by a number (`day 1 * 2`, `Weeks 1-2`): the number names a thing, it is no operand
_LABELS = {"day", "week", "month", "year", "step", "level", "page", "round", "game", "part", "question", "problem",
           "grade", "chapter", "row", "floor", "room", "line", "number", "no", "case", "option", "test", "lap"}
_UNSAFE_LEFT |= _LABELS | {w + "s" for w in _LABELS}
_SENTENCE = re.compile(r"(?<=[A-Za-z0-9)\]\"'][.!?])\s+(?=[A-Z\"'(\[$\\])")
_ANNOTATION = re.compile(r"<<([^<>=]{1,200})=([^<>=]{1,100})>>")
_LATEX_MATH = re.compile(r"\$\$(.+?)\$\$|\\\((.+?)\\\)|\\\[(.+?)\\\]"
                         r"|(?<!\\)\$(?=\S)((?:[^$]|(?<=\\)\$)+?)(?<=\S)(?<!\\)\$(?!\d|\.\d)", re.S)
_MODULAR = re.compile(r"\bmod\b|\\pmod|\\bmod|\\equiv|units digit|ones digit|last digit|remainder", re.I)
_TAG = re.compile(r"</?[A-Za-z_][A-Za-z0-9_-]{0,30}>")
_LATEXISH = re.compile(r"[\\^_{}A-Za-z]")
_PUNCT = set(".,;:!?")
_LATEX_SEPARATORS = {",", ";", "<", ">", "\\le", "\\leq", "\\ge", "\\geq", "\\implies", "\\Rightarrow",
                     "\\iff"}


def _lines(text: str) -> list[tuple[int, int]]:
    """Line spans, a line break inside open LaTeX math (`$7\\cdot 6\\cdot` + newline) joining two lines."""
    spans, start, pos = [], 0, 0
    for line in text.split("\n"):
        end = pos + len(line)
        chunk = text[start:end]
        dollars = len(re.findall(r"(?<!\\)\$", chunk))
        tail = _ANNOTATION.sub("", chunk[chunk.rfind("$") + 1:]) if dollars % 2 else ""
        open_math = (dollars % 2 and re.search(r"[=\\^_{]", tail)) or chunk.count("\\[") > chunk.count("\\]")
        if not open_math or end - start > 4000:
            spans.append((start, end))
            start = end + 1
        pos = end + 1
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def split_steps(text: str) -> list[tuple[int, int]]:
    """Character spans of steps: lines, then sentences within a line (blank pieces dropped)."""
    spans = []
    for start, end in _lines(text):
        line = text[start:end]
        cuts = [m.end() for m in _SENTENCE.finditer(line)]
        for a, b in zip([0] + cuts, cuts + [len(line)]):
            if line[a:b].strip():
                spans.append((start + a, start + b))
    return spans


def _balance(part: list[Tok]) -> int:
    return sum(t.kind in ("LP", "LSQ") for t in part) - sum(t.kind in ("RP", "RSQ") for t in part)


def _trim(parts: list[list[Tok]]) -> list[list[Tok]]:
    """Drop a bracket opened before the first operand or closed after the last: `(3+4 = 7)`.
    A middle operand with unbalanced brackets (`600/(3+1=4) = 150`) stays unparsable."""
    first, last = parts[0], parts[-1]
    while first and first[0].kind in ("LP", "LSQ") and _balance(first) > 0:
        first = first[1:]
    parts[0] = first
    while last and last[-1].kind in ("RP", "RSQ") and _balance(last) < 0:
        last = last[:-1]
    parts[-1] = last
    return parts


def _left_ok(prev: Tok | None, before: Tok | None, first: list[Tok], second: list[Tok], latex: bool) -> bool:
    """May the first operand of a run be judged? `prev` is the token before the run, `before` the one before it."""
    if first and first[0].kind == "OP" and (first[0].text != "-" or (prev is not None and prev.kind == "WORD")):
        return False  # `58 open spots + 2 = 60`: the operand continues to the left, through words
    if prev is None:
        return True
    if latex:  # inside math, anything unknown before the operand (\nabla, @, _, \binom) extends it
        return prev.text in _LATEX_SEPARATORS and not (prev.text == "," and before is not None and before.kind == "NUM")
    if first and not first[0].space_before:
        return False  # glued to text: 10:30, abc5
    if bare_numeral(first) is not None and (prev.kind == "WORD" or not second or bare_numeral(second) is not None):
        return False  # a bare number after a word (`half 48 = 24`, `Remaining 10 = 62,300/10`) or
        # equated to a bare number (`$7,980 : $420 = 19`); `Also, 200,000 = 2^5·10^4` is judged
    if prev.kind == "WORD" and prev.text.lower() == "of":
        return before is None or not (before.kind in ("NUM", "STOP") or before.text.lower() in _FRACTION_WORDS)
    if prev.kind == "WORD":
        return prev.text.lower() not in _UNSAFE_LEFT
    if prev.kind == "STOP" and before is not None and (
            before.kind == "OP" or (before.kind in _MATH_KINDS and not prev.space_before)):
        return False  # `14, 400 / 80`, `.8 + . 84`: the expression continues to the left
    return prev.text in _PUNCT or prev.text in "\"'"


def _right_ok(nxt: Tok | None, after: Tok | None, text: str, latex: bool) -> bool:
    """May the last operand of a run be judged? `nxt` is the token after the run, `after` the one after it."""
    if nxt is None:
        return True
    if latex:
        if nxt.kind == "WORD":  # the text right after the math segment: `$x/1.25x = 80$ percent`
            return nxt.text.lower() not in _UNSAFE_RIGHT
        return nxt.text in _LATEX_SEPARATORS or nxt.text in (".", "$")
    if nxt.kind == "STOP" and nxt.text.startswith("\\"):
        return False  # an unknown LaTeX command continues the operand: `35/4 \\sin^2 y`
    if nxt.kind == "WORD" and nxt.text.lower() == "and" and after is not None and after.kind in ("NUM", "LP"):
        return False  # a mixed number: `17/3 = 5 and 2/3`
    if not nxt.space_before:
        after = text[nxt.end:nxt.end + 1]
        return nxt.text in _PUNCT and (not after or after.isspace())
    return not (nxt.kind == "WORD" and nxt.text.lower() in _UNSAFE_RIGHT)


def _strip_stray_letter(first: list[Tok]) -> list[Tok]:
    """`that's 12/46 = 0.25`: a letter before a spaced number is no factor; `60 students x 2/3`:
    a times sign after a word means the operand runs on to the left (not judged)."""
    if len(first) > 1 and first[0].kind == "VAR" and first[1].kind == "NUM" and first[1].space_before:
        return [] if first[0].text in "xX" else first[1:]
    return first


def claims_in(text: str, latex: bool, prev_ctx: Tok | None = None, next_ctx: Tok | None = None) -> list[dict[str, Any]]:
    """Judged equalities in one piece of text: [{lhs, rhs, verdict}] (unparsable pairs omitted).
    `prev_ctx`/`next_ctx`: the tokens just outside the piece (a math segment's neighbours)."""
    text = text.replace(",\\!", ",").replace("{,}", ",")  # LaTeX thousands separators: 99,\!999
    toks = tokenize(text, latex)
    out, i = [], 0
    while i < len(toks):
        if toks[i].kind not in _MATH_KINDS:
            i += 1
            continue
        j = i
        while j < len(toks) and toks[j].kind in _MATH_KINDS:
            j += 1
        run = toks[i:j]
        if any(t.kind == "EQ" for t in run):
            parts: list[list[Tok]] = [[]]
            for t in run:
                parts[-1].append(t) if t.kind != "EQ" else parts.append([])
            parts = _trim(parts)
            if not latex:
                parts[0] = _strip_stray_letter(parts[0])
            if not _left_ok(toks[i - 1] if i else prev_ctx, toks[i - 2] if i > 1 else None, parts[0], parts[1], latex):
                parts[0] = []
            nxt = toks[j] if j < len(toks) else next_ctx
            if not _right_ok(nxt, toks[j + 1] if j + 1 < len(toks) else None, text, latex):
                parts[-1] = []
            for lhs, rhs in zip(parts, parts[1:]):
                if lhs and rhs:
                    v = judge(lhs, rhs, latex)
                    src = " ".join(text[lhs[0].start:rhs[-1].end].split())
                    out.append({"claim": src[:200], "verdict": v})
        i = j
    return out


def step_claims(step: str) -> list[dict[str, Any]]:
    """All claims in a step: calculator annotations, then LaTeX math segments, then plain text."""
    claims = []
    for m in _ANNOTATION.finditer(step):
        lhs, rhs = tokenize(m.group(1), False), tokenize(m.group(2), False)
        if all(t.kind in _MATH_KINDS for t in lhs + rhs):
            claims.append({"claim": m.group(0), "verdict": judge(lhs, rhs) if lhs and rhs else UNJUDGED})
    plain = _ANNOTATION.sub(lambda m: " " * len(m.group(0)), step)
    plain = _TAG.sub(lambda m: " " + ";" * (len(m.group(0)) - 2) + " ", plain)  # <think>, </answer>: separators
    if _MODULAR.search(plain):
        return claims  # `7 \\cdot 3 = 1` about units digits / residues: `=` means congruence here
    pieces, last = [], 0
    for m in _LATEX_MATH.finditer(plain):
        body = next(g for g in m.groups() if g is not None)
        if m.group(0).startswith("$") and not _LATEXISH.search(body):
            continue  # `$100-$28=$62`: dollar signs, not math delimiters
        pieces.append((plain[last:m.start()], False))
        pieces.append((body, True))
        last = m.end()
    pieces.append((plain[last:], False))
    boundary = Tok("STOP", "$", 0, 0, False)  # a plain piece touching a math segment: context unknown
    for k, (piece, latex) in enumerate(pieces):
        if "=" not in piece:
            continue
        if latex:
            after = tokenize(pieces[k + 1][0][:40], False) if k + 1 < len(pieces) else []
            claims += claims_in(piece, True, None, after[0] if after else None)
        else:
            claims += claims_in(piece, False, boundary if k else None, boundary if k + 1 < len(pieces) else None)
    return claims


@register("process")
def verify_process(completion: str, gold: object = None, *, max_steps: int = 2000, max_claims: int = 500,
                   max_step_chars: int = 4000) -> VerifyResult:
    """Per-step arithmetic verdicts and the first false step (see module docstring)."""
    steps, first_false, n_claims = [], None, 0
    counts = {TRUE: 0, FALSE: 0, UNJUDGED: 0}
    for index, (start, end) in enumerate(split_steps(completion)[:max_steps]):
        text = completion[start:end]
        claims = step_claims(text) if "=" in text and len(text) <= max_step_chars and n_claims < max_claims else []
        n_claims += len(claims)
        verdicts = {c["verdict"] for c in claims}
        verdict = FALSE if FALSE in verdicts else TRUE if TRUE in verdicts else UNJUDGED
        counts[verdict] += 1
        if verdict != UNJUDGED:
            steps.append({"index": index, "start": start, "end": end, "verdict": verdict,
                          "claims": [c for c in claims if c["verdict"] != UNJUDGED]})
        if verdict == FALSE and first_false is None:
            bad = next(c["claim"] for c in claims if c["verdict"] == FALSE)
            first_false = {"index": index, "start": start, "end": end, "claim": bad}
    details = {"steps": steps[:200], "n_true": counts[TRUE], "n_false": counts[FALSE],
               "n_unjudged": counts[UNJUDGED], "first_false": first_false}
    if first_false is not None:
        return VerifyResult(0.0, FALSE_STEP, first_false["claim"], details)
    return VerifyResult(1.0, Reason.OK, None, details)


def first_false_span(result: VerifyResult) -> tuple[int, int] | None:
    """Character span (start, end) of the first false step, for mapping to tokens; None if none."""
    ff = (result.details or {}).get("first_false")
    return (ff["start"], ff["end"]) if ff else None


def tokens_in_span(offsets: list[tuple[int, int]], span: tuple[int, int] | None) -> list[int]:
    """Indices of the tokens whose character offsets overlap `span` (from `first_false_span`).

    `offsets`: one (start, end) per completion token, e.g. a fast tokenizer's `offset_mapping`
    for the completion text. The trainer puts the process penalty on these tokens only.
    """
    if span is None:
        return []
    s, e = span
    return [i for i, (a, b) in enumerate(offsets) if a < e and b > s]
