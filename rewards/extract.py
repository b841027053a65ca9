"""Answer extraction front end: find the final answer in a completion, before any parsing.

Input: a completion string (any size; it is only scanned by linear regexes and brace
matching). Output: an `Extraction` with the answer string (or None), where it came from
(`boxed`, `answer_tag`, `answer_is`, `last_number`) and whether the completion hedges.

Order (the first that yields an answer wins):
1. Region: the text after the last `</think>` when there is one, else the whole text.
   Inside it, the last `<answer>...</answer>` block narrows the region further.
2. `\\boxed{...}` / `\\fbox{...}` with balanced braces, anywhere in the region (unless an
   "answer is" phrase follows the last box: intermediate boxed values, then a stated answer). Several
   boxed answers that differ after `canon()` are a *hedge* (score 0), unless the caller
   says the gold has several parts (`multi_part=True`); then they are joined with ", ".
3. The content of the `<answer>` block itself (delimiters stripped).
4. "the answer is ..." / "final answer: ..." (the last such phrase): the math span that
   follows, else the rest of the sentence (flagged `prose` when it is words, not maths).
5. `bare`: the whole region when it is short (<= 200 chars) and not prose ("-\\frac{3}{4}").
6. Opt-in: the last number in the region (`last_number_fallback=True`).

Example:
    >>> extract_answer("<think>2+2</think> so \\\\boxed{4}.").answer
    '4'
"""

from __future__ import annotations

import dataclasses
import re

from rewards.mathnorm import canon, fast_number, looks_like_prose, strip_delimiters

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BOX_BARE = re.compile(r"\\boxed\s+([^\s${}]+)")
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.S)
_ANSWER_OPEN = re.compile(r"<answer>(.*)\Z", re.S)
_ANSWER_IS = re.compile(r"(?:final answer|answer)\s*(?:is|:)[:\s]*", re.I)
_MATH_SPAN = re.compile(r"\$\$.+?\$\$|\$.+?\$|\\\(.+?\\\)|\\\[.+?\\\]", re.S)
_LAST_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?|-?\.\d+")
_WRAPPER = re.compile(r"^\\(?:textbf|text|mathbf|mathrm)\{(.*)\}$")
MODES = ("boxed", "answer_tag", "answer_is", "bare")
MAX_BARE_CHARS = 200


@dataclasses.dataclass
class Extraction:
    answer: str | None  # the answer text (delimiters stripped), None when nothing was found
    source: str  # boxed | answer_tag | answer_is | bare | last_number | none
    hedge: bool = False  # several different boxed answers
    candidates: list[str] = dataclasses.field(default_factory=list)  # all boxed contents seen
    region: str = ""  # the text the answer was searched in (after </think>, inside <answer>)
    prose: bool = False  # the answer is a sentence ("The largest $n$ is 34"): parse it as text


def hedge_key(answer: str) -> str:
    """Key under which two boxed answers count as the same (`\\textbf{(025)}` = `25`)."""
    key = _WRAPPER.sub(r"\1", canon(answer))
    key = key[1:-1] if key.startswith("(") and key.endswith(")") and "," not in key else key
    number = fast_number(key)
    return f"#{number[0]}" if number else key


def unwrap_number(answer: str) -> str:
    """`\\textbf{(073)}` -> `073` when the wrapped content is a plain number; else unchanged."""
    key = _WRAPPER.sub(r"\1", canon(answer))
    key = key[1:-1] if key.startswith("(") and key.endswith(")") and "," not in key else key
    return key if key != canon(answer) and fast_number(key) else answer


def boxed_contents(text: str) -> list[str]:
    """Contents of every `\\boxed{..}`/`\\fbox{..}` in order, braces balanced (unclosed ones dropped)."""
    out: list[str] = []
    pos = 0
    n = len(text)
    while True:
        m = _BOX.search(text, pos)
        if m is None:
            break
        depth, i = 1, m.end()
        while i < n and depth:
            c = text[i]
            if c == "\\" and i + 1 < n and text[i + 1] in "{}":
                i += 2
                continue
            depth += (c == "{") - (c == "}")
            i += 1
        if depth:
            break  # unbalanced to the end: no later box can close either
        out.append(text[m.end(): i - 1].strip())
        pos = i
    if not out:
        out = [m.group(1).rstrip(".,") for m in _BOX_BARE.finditer(text)]
    return out


def last_boxed(text: str) -> str | None:
    """The last of `boxed_contents(text)`, None when there is none (a reference solution's final answer)."""
    boxes = boxed_contents(text)
    return boxes[-1] if boxes else None


def answer_region(text: str) -> tuple[str, bool]:
    """(region to search, whether it is the content of an <answer> block)."""
    k = text.rfind("</think>")
    if k >= 0:
        text = text[k + len("</think>"):]
    tags = _ANSWER_TAG.findall(text[-200_000:]) if "<answer>" in text else []
    if tags:
        return tags[-1], True
    if "<answer>" in text and (m := _ANSWER_OPEN.search(text[text.rfind("<answer>"):])):
        return m.group(1), True  # unclosed <answer> (truncated by the stop string)
    return text, False


def _answer_is(region: str) -> tuple[str | None, int]:
    """Text after the last "answer is"/"answer:" phrase (its first math span, else the rest of the
    line) and the phrase's offset in `region` (-1 when there is none)."""
    offset = max(0, len(region) - 20_000)
    tail = region[offset:]
    last = None
    for last in _ANSWER_IS.finditer(tail):
        pass
    if last is None:
        return None, -1
    rest = tail[last.end():].lstrip()
    m = _MATH_SPAN.match(rest)
    if m:
        s = m.group(0)
    else:
        s = re.split(r"(?<=[^\d\\])\.(?:\s|$)|\.\s|\n", rest + " ", maxsplit=1)[0]
    s = strip_delimiters(s)
    return (s or None), offset + last.start()


def extract_answer(text: str, modes: tuple[str, ...] = MODES, *, last_number_fallback: bool = False,
                   multi_part: bool = False) -> Extraction:
    """Find the final answer of `text` (see module docstring for the order)."""
    region, tagged = answer_region(text)
    boxes = boxed_contents(region) if "boxed" in modes else []
    boxes = [b for b in boxes if b]
    phrase, phrase_at = _answer_is(region) if "answer_is" in modes else (None, -1)
    late_phrase = phrase_at > region.rfind("\\boxed") and phrase_at > region.rfind("\\fbox")
    if boxes and phrase and late_phrase and not looks_like_prose(phrase):
        boxes = []  # "... = \boxed{200} ... The final answer is $10,455$": the stated final answer wins
    if boxes:
        distinct = list(dict.fromkeys(hedge_key(b) for b in dict.fromkeys(boxes)))
        if len(distinct) > 1:
            if not multi_part:
                return Extraction(boxes[-1], "boxed", True, boxes, region)
            firsts = {hedge_key(b): b for b in reversed(list(dict.fromkeys(boxes)))}
            return Extraction(", ".join(firsts[c] for c in distinct), "boxed", False, boxes, region)
        return Extraction(boxes[-1], "boxed", False, boxes, region)
    if tagged and "answer_tag" in modes and strip_delimiters(region):
        return Extraction(strip_delimiters(region), "answer_tag", False, [], region)
    if phrase:
        return Extraction(phrase, "answer_is", False, [], region, prose=looks_like_prose(phrase))
    bare = strip_delimiters(region)
    if "bare" in modes and bare and len(bare) <= MAX_BARE_CHARS and not looks_like_prose(bare):
        return Extraction(bare, "bare", False, [], region)
    if last_number_fallback:
        nums = _LAST_NUMBER.findall(region[-5000:])
        if nums:
            return Extraction(nums[-1].rstrip(","), "last_number", False, [], region)
    return Extraction(None, "none", False, [], region)
