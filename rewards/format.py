"""Format rewards: the R1 template check ("format_r1") and DAPO's soft overlong punishment.

`verify_format_r1(completion, gold=None, prefilled_think=None, allow_trailing=False)`:
score 1.0 when the completion is `<think> … </think> <answer> … </answer>` (whitespace allowed
between and around the blocks, exactly one of each tag, a non-empty answer), else 0.0 with reason
`bad_format` and the problem in `details["problem"]`. The gold is ignored.

Chat templates that prefill `<think>` (DeepSeek-R1 distills, Qwen3) put the opening tag in the
prompt, so the completion starts *inside* the think block. `prefilled_think=True` expects no
opening tag; `None` (default) auto-detects: a completion without `<think>` but with `</think>` is
treated as prefilled. `prefilled_think=False` demands the opening tag.

`overlong_penalty(length, max_len, cache_len)` is DAPO's soft overlong punishment (Yu et al. 2025,
eq. 13): 0 up to `max_len - cache_len` tokens, then linear down to -1 at `max_len` (and beyond).

Example:
    verify_format_r1("<think>2+2=4</think><answer>4</answer>").score  # 1.0
    verify_format_r1("2+2=4</think> <answer>4</answer>").score           # 1.0 (prefilled <think>)
    overlong_penalty(3900, max_len=4096, cache_len=512)                  # -0.6171875
"""

from __future__ import annotations

import re

from rewards.base import Reason, VerifyResult
from rewards.registry import register

BAD_FORMAT = "bad_format"
_TAGS = ("<think>", "</think>", "<answer>", "</answer>")
_TAIL = re.compile(r"\s*<answer>(?P<answer>.*?)</answer>(?P<rest>.*)\Z", re.S)


def _problem(completion: str, prefilled: bool, allow_trailing: bool) -> tuple[str | None, str | None]:
    """(problem description or None, extracted answer or None)."""
    counts = {t: completion.count(t) for t in _TAGS}
    want_open = 0 if prefilled else 1
    if counts["<think>"] != want_open:
        return (f"expected {want_open} <think> tag(s), found {counts['<think>']}"
                + (" (the chat template already opened the think block)" if prefilled else "")), None
    for tag in _TAGS[1:]:
        if counts[tag] != 1:
            return f"expected exactly one {tag}, found {counts[tag]}", None
    head, _, tail = completion.partition("</think>")
    if not prefilled and head.strip() and not head.lstrip().startswith("<think>"):
        return "text before <think>", None
    m = _TAIL.match(tail)
    if m is None:
        return "</think> must be followed by <answer>…</answer>", None
    answer = m.group("answer").strip()
    if not answer:
        return "empty <answer>", None
    if m.group("rest").strip() and not allow_trailing:
        return "text after </answer>", answer
    return None, answer


@register("format_r1")
def verify_format_r1(completion: str, gold: object = None, *, prefilled_think: bool | None = None,
                     allow_trailing: bool = False) -> VerifyResult:
    """1.0 when `completion` follows the R1 template (see module docstring), else 0.0 `bad_format`."""
    prefilled = prefilled_think
    if prefilled is None:
        prefilled = "<think>" not in completion and "</think>" in completion
    problem, answer = _problem(completion, prefilled, allow_trailing)
    if problem is not None:
        return VerifyResult(0.0, BAD_FORMAT, answer, {"problem": problem, "prefilled_think": prefilled})
    return VerifyResult(1.0, Reason.OK, answer, {"prefilled_think": prefilled})


def overlong_penalty(length: int, max_len: int, cache_len: int) -> float:
    """DAPO soft overlong punishment in [-1, 0]: 0 if length <= max_len - cache_len, linear to -1 at max_len."""
    if max_len <= 0 or cache_len < 0 or cache_len > max_len:
        raise ValueError(f"need 0 <= cache_len <= max_len and max_len > 0, got {cache_len=}, {max_len=}")
    free = max_len - cache_len
    if length <= free:
        return 0.0
    if length >= max_len:
        return -1.0
    return (free - length) / cache_len
