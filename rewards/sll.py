"""Two-stage ANTLR parsing for latex2sympy: fast SLL prediction first, full LL on failure.

latex2sympy2_extended parses LaTeX with a pure-Python ANTLR parser in full-context (LL)
prediction mode; that prediction is most of math-verify's run time. ANTLR's standard
remedy is two-stage parsing: try the cheaper SLL mode, and re-parse with LL only when SLL
fails. Because the grammar's `math` rule has no EOF anchor, an SLL parse can also *stop
early* without an error ("5r^5" -> 5), so a stage-one parse counts as a success only when
it consumed every token; anything else (syntax error, leftover tokens) is re-parsed with
the library's own LL path, i.e. exactly the original behaviour.

The switch is per thread and only on inside `with sll_parsing():`, so other users of
latex2sympy in the same process (for example a baseline measurement) are unaffected.
It patches one method of a private class; when the library's layout differs (another
version), `install()` leaves it alone and everything runs in plain LL mode.

Checked by benchmarks/gold_selfcheck.py --compare-ll (parse results identical to LL on
the gold answers of MATH train/test, GSM8K, AIME, AMC).
"""

from __future__ import annotations

import contextlib
import threading

_STATE = threading.local()
_INSTALLED = False


class _IncompleteParse(Exception):
    """The SLL stage stopped before the end of the input."""


def install() -> bool:
    """Patch `_Latex2Sympy.parse` once; False when the library does not look as expected."""
    global _INSTALLED
    if _INSTALLED:
        return True
    try:
        from antlr4 import Token
        from antlr4.atn.PredictionMode import PredictionMode
        from latex2sympy2_extended import latex2sympy2 as l2s
        cls = l2s._Latex2Sympy
        orig_create, orig_parse = cls.create_parser, cls.parse
    except (ImportError, AttributeError):
        return False

    def create_parser(self, latex_str):
        parser = orig_create(self, latex_str)
        if getattr(_STATE, "stage", None) == "sll":
            parser._interp.predictionMode = PredictionMode.SLL
            full_math = parser.math

            def math_to_eof():
                tree = full_math()
                if parser.getCurrentToken().type != Token.EOF:
                    raise _IncompleteParse(latex_str)
                return tree

            parser.math = math_to_eof
        return parser

    def parse(self, latex_str):
        if not getattr(_STATE, "enabled", False):
            return orig_parse(self, latex_str)
        _STATE.stage = "sll"
        try:
            return orig_parse(self, latex_str)
        except Exception:  # noqa: BLE001 - any stage-one failure: re-parse in LL mode, which raises its own
            pass
        finally:
            _STATE.stage = None
        return orig_parse(self, latex_str)

    cls.create_parser, cls.parse = create_parser, parse
    _INSTALLED = True
    return True


@contextlib.contextmanager
def sll_parsing(enabled: bool = True):
    """Within this block (this thread only), latex2sympy parses SLL-first."""
    install()
    prev = getattr(_STATE, "enabled", False)
    _STATE.enabled = enabled
    try:
        yield
    finally:
        _STATE.enabled = prev
