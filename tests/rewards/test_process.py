"""Rule-based process reward: per-claim verdicts grouped by phenomenon, the first false step's span,
robustness (no eval, no towers), and the GSM8K mutation acceptance (50 chains)."""

from __future__ import annotations

import pytest

from rewards import registry
from rewards.process import FALSE, TRUE, UNJUDGED, first_false_span, split_steps, tokens_in_span, verify_process
from tests.rewards.process_mutation import catch_rate, gsm8k_chains

# id, text, expected verdict of the whole text (false if any step false, else true if any judged, else unjudged)
CASES = [
    # PRM800K README example
    ("prm800k-false", "200,000 = 2^5·10^4", FALSE),
    ("prm800k-true", "2^9·5^4 = 512·625 = 320,000", TRUE),
    # numeric chains
    ("chain-true", "So 3 + 4 \u00d7 2 = 3 + 8 = 11.", TRUE),
    ("chain-false-middle", "So 3 + 4 * 2 = 14 = 14.", FALSE),
    ("latex-frac-cdot", "$\\frac{3}{4} \\cdot 8 = 6$", TRUE),
    ("latex-frac-false", "$\\frac{3}{4} \\cdot 8 = 5$", FALSE),
    ("sqrt-exact", "$\\sqrt{8} = 2\\sqrt{2}$", TRUE),
    ("unicode-minus-div", "Then 10 \u2212 4 \u00f7 2 = 8", TRUE),
    ("power-caret", "2^10 = 1024. Also 3**2 = 9.", TRUE),
    ("mixed-number-and", "2^10 = 1024 and 3 more", UNJUDGED),
    ("superscript", "5\u00b2 = 25", TRUE),
    ("thousands-commas", "1,000 + 250 = 1,250", TRUE),
    ("decimals-exact", "0.1 + 0.2 = 0.3", TRUE),
    # rounding to the digits shown
    ("round-2dp", "2/3 = 0.67", TRUE),
    ("truncate-2dp", "2/3 = 0.66", TRUE),
    ("round-wrong", "2/3 = 0.65", FALSE),
    ("round-integer", "100/3 = 33", TRUE),
    ("integer-not-truncated", "80/100 * 11 = 8", FALSE),
    ("exact-needs-exact", "48/2 = 24.5", FALSE),
    ("sqrt-rounded", "sqrt(2) = 1.414", TRUE),
    ("pi-rounded-wrong", "$\\pi = 3.16$", FALSE),
    # identities by random substitution; constraints stay unjudged
    ("identity-square", "$(a+b)^2 = a^2 + 2ab + b^2$", TRUE),
    ("identity-diff-squares", "$x^2 - 9 = (x-3)(x+3)$", TRUE),
    ("non-identity-unjudged", "$(a+b)^2 = a^2 + b^2$", UNJUDGED),
    ("constraint-unjudged", "Solve 3x+2=17, so x = 5.", UNJUDGED),
    # GSM8K calculator annotations
    ("gsm8k-annotation", "Natalia sold 48/2 = <<48/2=24>>24 clips in May.", TRUE),
    ("gsm8k-annotation-false", "Natalia sold 48/2 = <<48/2=25>>25 clips in May.", FALSE),
    ("gsm8k-text-vs-annotation", "Natalia sold 48/2 = <<48/2=24>>25 clips in May.", FALSE),
    ("gsm8k-times-x", "she earned 0.2 x 50 = $<<0.2*50=10>>10.", TRUE),
    ("r1-tags-separate", "<think>2 + 2 = 5</think><answer>4</answer>", FALSE),
    # prose that is not arithmetic: left unjudged, never false
    ("verbal-half-of", "half of 48 = 24", UNJUDGED),
    ("time-of-day", "It is 10:30 = late", UNJUDGED),
    ("percent", "50% = 0.5", UNJUDGED),
    ("label-day", "10 pages per day on day 1 * 2 = 20 pages", UNJUDGED),
    ("unit-word", "3 pears = 8 fruits", UNJUDGED),
    ("mixed-number", "it takes 17/3 = 5 and 2/3 loads", UNJUDGED),
    ("cents", "$1 / 2 = 50 cents", UNJUDGED),
    ("leading-operator", "58 open spots + 2 = 60 spots", UNJUDGED),
    ("ambiguous-division", "he used 25 / 1/3 = 75", UNJUDGED),
    ("currency-dollars", "She pays $100-$38=$62 now", TRUE),
    ("leading-zero-times", "0900-0130 = 0730 hours", UNJUDGED),
    ("factorial", "5! = 120", UNJUDGED),
    # LaTeX notation that is not arithmetic (from MATH train solutions)
    ("function-application", "Since $f(0)=4$, we know $c=4$.", UNJUDGED),
    ("inverse-function", "$f^{-1}(0) = 2$", UNJUDGED),
    ("latex-mixed-number", "$-\\frac{15}{4} = -3\\frac{3}{4}$", UNJUDGED),
    ("custom-operator", "We have: $3*2=3^2+3\\cdot 2-2^2=9+6-4=\\boxed{11}$.", TRUE),
    ("subscripts", "$r_1+r_2=5$ and $r_1r_2=5$", UNJUDGED),
    ("units-digit", "we find that $7 \\cdot 3 = 1$ is the units digit", UNJUDGED),
    ("ratio-colon", "$FG:AB=3:6=1:2$", UNJUDGED),
    ("triangle-sides", "a $6-8-10 = 3-4-5$ triangle", UNJUDGED),
    ("latex-superscript-digit", "$\\pi(\\frac{3}{2})^24=9\\pi$", UNJUDGED),
    ("latex-thousands", "$99,\\!999 + 1 = 100,\\!000$", TRUE),
    ("symbols-cancel", "$1 + (2a) + (2a-2) - (4a+3) - 2 = 0$", UNJUDGED),
    ("newline-inside-math", "there are $7\\cdot 6\\cdot\n5\\cdot 4\\cdot 3 = 2520$ ways", TRUE),
    ("percent-after-math", "The original price is $\\frac{x}{1.25x} = 80$ percent of this price", UNJUDGED),
    # adversarial: nothing is evaluated, nothing explodes
    ("no-eval", "__import__('os').system('touch /tmp/pwned') = 0", UNJUDGED),
    ("power-tower", "2^(10^10) = 5", UNJUDGED),
    ("tower-symbolic", "$x^{x^{x^{x}}} = x^{x^{x^{x}}}$", UNJUDGED),
    ("deep-nesting", "(" * 5000 + "1" + ")" * 5000 + " = 1", UNJUDGED),
    ("long-number", "9" * 500 + " = 1", UNJUDGED),
    ("division-by-zero", "1/0 = 5", UNJUDGED),
]


def _verdict(res) -> str:
    if res.details["n_false"]:
        return FALSE
    return TRUE if res.details["n_true"] else UNJUDGED


@pytest.mark.parametrize("text,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_verdicts(text, expected):
    res = verify_process(text)
    assert _verdict(res) == expected, res.details
    assert res.score == (0.0 if expected == FALSE else 1.0)


def test_first_false_step_span_and_min_form():
    text = "First 2 + 2 = 4.\nThen 4 * 3 = 13.\nFinally 13 + 1 = 15."
    res = verify_process(text)
    assert res.reason == "false_step" and res.score == 0.0
    start, end = first_false_span(res)
    assert text[start:end] == "Then 4 * 3 = 13."
    assert res.details["first_false"]["index"] == 1
    assert res.details["n_false"] == 2  # both later errors counted, only the first located


def test_token_level_credit_from_span():
    text = "2 + 2 = 4.\n4 * 3 = 13."
    offsets = [(0, 1), (1, 3), (3, 5), (5, 7), (7, 10), (10, 11), (11, 12), (12, 16), (16, 22)]
    span = first_false_span(verify_process(text))
    assert span == (11, 22)
    assert tokens_in_span(offsets, span) == [6, 7, 8]  # the newline token (10, 11) is not blamed
    assert tokens_in_span(offsets, None) == []


def test_filler_equations_earn_nothing():
    honest = verify_process("The answer is 7.")
    padded = verify_process("1 = 1. 2 = 2. 3 = 3. The answer is 7.")
    assert honest.score == padded.score == 1.0  # verified steps are no reward, only a lack of penalty


def test_steps_split_on_lines_and_sentences():
    text = "It costs 2.5 dollars. Then 3 more.\nNext line"
    assert [text[s:e] for s, e in split_steps(text)] == ["It costs 2.5 dollars. ", "Then 3 more.", "Next line"]


def test_registered_as_process():
    assert registry.get("process") is verify_process


def test_prm800k_example_in_a_chain():
    text = ("We need 2^9 * 5^4.\n2^9·5^4 = 512·625 = 320,000.\n"
            "Also, 200,000 = 2^5·10^4, which has 5 zeros.")
    res = verify_process(text)
    assert res.details["first_false"]["claim"] == "200,000 = 2^5·10^4"
    assert res.details["first_false"]["index"] == 2


@pytest.mark.benchdata
def test_gsm8k_mutations_caught(benchmark_dir):
    chains = gsm8k_chains(benchmark_dir, 50)
    false_on_correct, n, caught, _ = catch_rate(chains, seed=0)
    assert false_on_correct == 0
    assert n == 50 and caught / n >= 0.9, f"caught {caught}/{n}"
