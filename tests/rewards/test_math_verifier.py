"""verify_math: one parameter table per phenomenon, each with negatives that must be judged wrong."""

import pickle
import threading

import pytest

from rewards.base import Reason
from rewards.math import verify_math
from rewards.registry import get


def box(s: str) -> str:
    return "Reasoning... so the final result is $\\boxed{" + s + "}$."


def check(pred: str, gold, expected: bool, **opts):
    r = verify_math(box(pred), gold, **opts)
    assert r.score == (1.0 if expected else 0.0), (pred, gold, r)


def table(name: str, cases: list[tuple]):
    """Parametrize (pred, gold, expected) rows with ids `<phenomenon>-<n>-<pos|neg>`."""
    ids = [f"{name}-{i}-{'pos' if c[2] else 'neg'}" for i, c in enumerate(cases)]
    return pytest.mark.parametrize("pred,gold,expected", cases, ids=ids)


INTEGERS_COMMAS = [("7,425,000", "7425000", True), ("1{,}000", "1000", True), ("12,000,023", "12000023", True),
                   ("1,001", "1000", False), ("1000.0", "1000", True), ("32, 349", "32349", False)]
DECIMAL_FRACTION = [("0.5", "\\frac{1}{2}", True), ("\\dfrac{3}{4}", "0.75", True), ("3/4", "\\frac34", True),
                    ("\\tfrac{8}{3}", "\\frac{8}{3}", True), ("0.3333", "\\frac{1}{3}", False),
                    ("\\frac{2}{3}", "\\frac{3}{2}", False), ("-\\frac{1}{2}", "\\frac12", False)]
ROOTS = [("2\\sqrt{2}", "\\sqrt{8}", True), ("\\sqrt[3]{27}", "3", True), ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt3}", True),
         ("\\sqrt{3}", "\\sqrt{2}", False)]
PI = [("2\\pi", "\\pi \\cdot 2", True), ("\\frac{\\pi}{2}", "\\frac12\\pi", True), ("\\pi", "3.14", False),
      ("4\\pi", "2\\pi", False)]
PERCENT = [("28\\%", "28", True), ("28", "28\\%", True), ("0.28", "28\\%", True), ("29\\%", "28\\%", False)]
DEGREES_UNITS = [("90^\\circ", "90", True), ("90^{\\circ}", "90^\\circ", True), ("125\\text{ miles}", "125", True),
                 ("15\\mbox{ cm}^2", "15", True), ("\\text{Evelyn}", "\\text{Evelyn}", True), ("91^\\circ", "90", False),
                 ("12\\text{ cm}", "15", False)]
SETS_TUPLES = [("\\{1,2,3\\}", "\\{3,2,1\\}", True), ("1, 2, 3", "3,2,1", True), ("(1,2)", "(1, 2)", True),
               ("(3, \\frac{\\pi}{2})", "\\left( 3, \\frac{\\pi}{2} \\right)", True), ("\\{1,2\\}", "\\{1,2,3\\}", False)]
INTERVALS = [("[1,2)", "[1, 2)", True), ("(-\\infty, 3]", "(-\\infty,3]", True), ("[1,2]", "[1,2)", False),
             ("(1,2]", "[1,2]", False)]
EQUATIONS = [("x=3", "3", True), ("3", "x=3", True), ("y = 2x+1", "y=1+2x", True), ("x=4", "3", False),
             ("5=7", "7", False), ("2\\cdot 3=6", "6", True)]
MATRICES = [("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}", True),
            ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\begin{pmatrix}2\\\\1\\end{pmatrix}", False)]
COMPLEX = [("3+4i", "4i+3", True), ("1-i", "1-i", True), ("3-4i", "3+4i", False)]
SCIENTIFIC = [("1.5\\times10^{3}", "1500", True), ("1.5e3", "1500", True), ("2\\times 10^{-3}", "0.002", True),
              ("1.5\\times10^{4}", "1500", False)]
BASES = [("204_5", "204_5", True), ("204", "204_5", True), ("204_6", "204_5", False), ("205_5", "204_5", False)]
FLOAT_CHOP = [("\\frac{1}{2^{99}}", "\\frac{1}{2^{98}}", False), ("\\frac{1}{2^{98}}", "\\frac{1}{2^{98}}", True),
              ("10^{-20}", "2\\cdot10^{-20}", False)]
SEVERAL = [("6, 8", "6 \\text{ and } 8", True), ("-2, 1", "1,-2", True), ("1,2", "1,2,3", False)]
EXPRESSIONS = [("(x-2)(x+2)", "x^2-4", True), ("\\frac{x+1}{2}", "\\frac{x}{2}+\\frac12", True),
               ("x^2+4", "x^2-4", False)]


@table("integers_commas", INTEGERS_COMMAS)
def test_integers_commas(pred, gold, expected):
    check(pred, gold, expected)


@table("decimal_fraction", DECIMAL_FRACTION)
def test_decimal_fraction(pred, gold, expected):
    check(pred, gold, expected)


@table("roots", ROOTS)
def test_roots(pred, gold, expected):
    check(pred, gold, expected)


@table("pi", PI)
def test_pi(pred, gold, expected):
    check(pred, gold, expected)


@table("percent", PERCENT)
def test_percent(pred, gold, expected):
    check(pred, gold, expected)


@table("degrees_units", DEGREES_UNITS)
def test_degrees_units(pred, gold, expected):
    check(pred, gold, expected)


@table("sets_tuples", SETS_TUPLES)
def test_sets_tuples(pred, gold, expected):
    check(pred, gold, expected)


@table("intervals", INTERVALS)
def test_intervals(pred, gold, expected):
    check(pred, gold, expected)


@table("equations", EQUATIONS)
def test_equations(pred, gold, expected):
    check(pred, gold, expected)


@table("matrices", MATRICES)
def test_matrices(pred, gold, expected):
    check(pred, gold, expected)


@table("complex", COMPLEX)
def test_complex(pred, gold, expected):
    check(pred, gold, expected)


@table("scientific", SCIENTIFIC)
def test_scientific(pred, gold, expected):
    check(pred, gold, expected)


@table("bases", BASES)
def test_base_subscripts(pred, gold, expected):
    check(pred, gold, expected)


@table("float_chop", FLOAT_CHOP)
def test_float_chop_post_check(pred, gold, expected):
    check(pred, gold, expected)


@table("several", SEVERAL)
def test_several_answers(pred, gold, expected):
    check(pred, gold, expected)


@table("expressions", EXPRESSIONS)
def test_expressions(pred, gold, expected):
    check(pred, gold, expected)


# require_evaluated: for a plain-number gold the answer must be the number, not the arithmetic restated.
UNEVALUATED = [("18 - 14", "4", False), ("29 - 48 - 42", "-61", False), ("12 \\times 3", "36", False),
               ("(9+1)", "10", False), ("\\frac{8}{2}", "4", False), ("8/2", "4", False),
               ("x = 18 - 14", "4", False), ("1 - 1/4", "0.75", False),
               ("4", "4", True), ("-61", "-61", True), ("- 5", "-5", True), ("2+2=4", "4", True),
               ("x = 4", "4", True), ("3/4", "0.75", True), ("-\\frac{3}{4}", "-0.75", True),
               ("7,425,000", "7425000", True), ("28\\%", "28", True), ("2+2=5", "4", False)]


@table("unevaluated", UNEVALUATED)
def test_require_evaluated(pred, gold, expected):
    r = verify_math(box(pred), gold, require_evaluated=True)
    assert r.score == (1.0 if expected else 0.0), (pred, gold, r)
    if not expected and "=" not in pred.replace("x =", ""):
        assert r.reason == "unevaluated", r
    if any(op in pred for op in "+-/") and "=" not in pred and not pred.startswith(("-", "3/4")):
        assert verify_math(box(pred), gold).score == 1.0  # off by default: math-verify's own behaviour


OPTIONS = [
    ("precision4", "0.3333", "\\frac13", {"float_rounding": 4}, True),
    ("precision_alias", "0.3333", "\\frac13", {"precision": 4}, True),
    ("precision6", "0.3333", "\\frac13", {}, False),
    ("non_strict_vars", "f(y)", "f(x)", {"strict": False}, True),
    ("strict_vars", "f(y)", "f(x)", {}, False),
]


@pytest.mark.parametrize("pred,gold,opts,expected", [c[1:] for c in OPTIONS], ids=[c[0] for c in OPTIONS])
def test_options(pred, gold, opts, expected):
    check(pred, gold, expected, **opts)


def test_unknown_option_raises():
    with pytest.raises(TypeError, match="unknown option"):
        verify_math(box("1"), "1", precison=3)


REFUSED = [
    ("power_tower", "2^{2^{2^{2^{2}}}}"),
    ("huge_exponent", "10^{100000000}"),
    ("huge_factorial", "(10^{8})!"),
    ("big_literal_factorial", "100000!"),
    ("deep_nesting", "{" * 60 + "1" + "}" * 60),
    ("unevaluated_integral", "\\int_0^1 x\\,dx"),
    ("unevaluated_sum", "\\sum_{k=1}^{10} k"),
    ("unevaluated_limit", "\\lim_{x\\to0} \\frac{\\sin x}{x}"),
    ("too_long", "1+" * 800 + "1"),
]


@pytest.mark.parametrize("answer", [c[1] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_caps_refuse_before_sympy(answer):
    r = verify_math(box(answer), "55")
    assert (r.score, r.reason) == (0.0, Reason.PARSE_ERROR)
    assert r.details["refused"]


def test_unevaluated_allowed_when_gold_has_it():
    assert verify_math(box("\\int_0^1 x\\,dx"), "\\int_0^1 x \\, dx").score == 1.0


def test_hedge():
    r = verify_math("\\boxed{3} or \\boxed{4}", "4")
    assert (r.score, r.reason) == (0.0, Reason.HEDGE)


def test_several_boxes_ok_for_multi_part_gold():
    assert verify_math("\\boxed{(2, 2)} and \\boxed{(6, 2)}", "(2, 2), (6, 2)").score == 1.0


@pytest.mark.parametrize("gold", ["", "   ", "\\frac{", True], ids=["empty", "blank", "broken_latex", "bool"])
def test_gold_unparsable_is_skipped(gold):
    r = verify_math(box("1"), gold)
    assert (r.score, r.reason) == (None, Reason.GOLD_UNPARSABLE)


@pytest.mark.parametrize("text", ["I have no idea.", "", "<think>thinking forever"], ids=["prose", "empty", "open_think"])
def test_no_answer(text):
    r = verify_math(text, "3")
    assert (r.score, r.reason) == (0.0, Reason.NO_ANSWER)


GOLD_FORMS = [("int", 27, "27"), ("float_int", 27.0, "27"), ("bare_latex", "\\frac{1}{2}", "0.5"),
              ("dollars", "$\\frac{1}{2}$", "0.5"), ("escaped_dump", "\\\\frac{1}{2}", "0.5")]


@pytest.mark.parametrize("gold,pred", [c[1:] for c in GOLD_FORMS], ids=[c[0] for c in GOLD_FORMS])
def test_gold_forms(gold, pred):
    assert verify_math(box(pred), gold).score == 1.0


HOSTILE = [("nul_bytes", "\x00\\boxed{4\x00}"), ("lone_surrogate", "\ud800 \\boxed{4}"),
           ("malformed_latex", "\\boxed{\\frac{4}{}"), ("injection", "\\boxed{__import__('os').system('false')}")]


@pytest.mark.parametrize("text", [c[1] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_inputs_return_a_reason(text):
    r = verify_math(text, "4")
    assert r.score in (0.0, 1.0) and r.reason in (Reason.OK, Reason.WRONG, Reason.PARSE_ERROR, Reason.NO_ANSWER)
    if "import" in text:
        assert r.score == 0.0


def test_registered_and_picklable():
    assert get("math") is verify_math
    assert pickle.loads(pickle.dumps(verify_math)) is verify_math


def test_eight_threads_at_once():
    cases = [("\\frac{1}{2}", "0.5", 1.0), ("x^2-4", "(x-2)(x+2)", 1.0), ("7", "8", 0.0), ("\\sqrt{8}", "2\\sqrt2", 1.0)]
    errors, results = [], {}
    barrier = threading.Barrier(8)

    def work(k):
        try:
            barrier.wait()
            for i in range(6):
                pred, gold, want = cases[(k + i) % len(cases)]
                results[(k, i)] = (verify_math(box(pred), gold).score, want)
        except BaseException as e:  # noqa: BLE001 - the test reports any failure in a thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(results) == 48 and all(got == want for got, want in results.values())
