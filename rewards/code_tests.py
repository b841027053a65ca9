"""Test specs for the code verifier: assert-style tests -> parent-side expected values, and the
parent-side decoding/comparison of values the sandbox serialised.

Inputs: HumanEval `check(candidate)` source or MBPP `assert f(x) == y` strings (trusted benchmark
text, never model text). Output: the gold dict `rewards.code.verify_code` reads:

    {"entry_point": "f", "prelude": "<prompt code>", "setup": "import math",
     "tests": [{"call": "candidate(1, 2)", "expected": "3"},                  # == in the parent
               {"call": "candidate(0.5)", "expected": "0.25", "abs_tol": 1e-6},
               {"call": "candidate([])", "truthy": False}],
     "scripts": ["<test code whose asserts call __rlvr_probe(...)>"]}

Algorithm: each `assert` is parsed with `ast`. `assert C == E`, `assert E == C`, `assert C`,
`assert not C`, `assert abs(C - E) < t` and `assert math.isclose(C, E, ...)` where E is a
parent-evaluable constant (literals and a few pure constructors such as set(), tuple(), float('inf'))
become *call tests*: only C (the call) enters the sandbox; the expected value never does, so
reading it from the caller's frames or test files gains nothing. Everything else (loops over random
inputs, helper variables) becomes a *script test*: the trusted code runs inside the sandbox with
each assert rewritten into `__rlvr_probe("eq", a, b)` / `__rlvr_probe("truthy", x)`, and the
parent compares both serialised sides. Script tests are weaker (the code under test runs in the
same interpreter as the expected side); `script_fraction` reports how much of a benchmark needs them.

Values cross the boundary as tagged JSON (see `driver._ser`); `decode` rebuilds plain builtins
and `values_equal` compares them with Python's own `==`, so the verdict matches the original
harness (1 == 1.0 == True, (1,) != [1]) without ever calling a method of a sandbox object.
"""

from __future__ import annotations

import ast
import math
from typing import Any

_SAFE_CALLS = {"set": set, "frozenset": frozenset, "tuple": tuple, "list": list, "dict": dict,
               "float": float, "int": int, "str": str, "bool": bool, "complex": complex, "sorted": sorted,
               "abs": abs, "round": round, "len": len, "min": min, "max": max, "sum": sum}
# No range/bytes/pow: a gold value must not be able to allocate without bound in the parent.
_SAFE_NAMES = {"True": True, "False": False, "None": None, "inf": math.inf, "nan": math.nan, "pi": math.pi}
MAX_DECODE_DEPTH = 100


class NotConstant(ValueError):
    """The expression is not a parent-evaluable constant."""


def const_eval(src_or_node: str | ast.AST) -> Any:
    """Value of a constant expression (literals + whitelisted pure builtins); NotConstant otherwise."""
    node = ast.parse(src_or_node, mode="eval").body if isinstance(src_or_node, str) else src_or_node
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    return _eval(node, 0)


def _eval(node: ast.AST, depth: int) -> Any:
    if depth > 50:
        raise NotConstant("too deep")
    ev = lambda n: _eval(n, depth + 1)  # noqa: E731
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in _SAFE_NAMES:
        return _SAFE_NAMES[node.id]
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [ev(e) for e in node.elts]
        return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {ev(k): ev(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = ev(node.operand)
        return -v if isinstance(node.op, ast.USub) else +v
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
        a, b = ev(node.left), ev(node.right)
        if not all(isinstance(x, (int, float, complex)) for x in (a, b)):
            raise NotConstant("arithmetic on non-numbers")
        return {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
                ast.Div: lambda: a / b}[type(node.op)]()
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "math" \
            and node.attr in ("inf", "nan", "pi", "e"):
        return getattr(math, node.attr)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _SAFE_CALLS \
            and not node.keywords:
        args = [ev(a) for a in node.args]
        try:
            return _SAFE_CALLS[node.func.id](*args)
        except (TypeError, ValueError, OverflowError) as e:
            raise NotConstant(str(e)) from e
    raise NotConstant(ast.dump(node)[:80])


def _is_const(node: ast.AST) -> bool:
    try:
        const_eval(node)
        return True
    except (NotConstant, ValueError, TypeError, ZeroDivisionError, SyntaxError):
        return False


def _test_from_assert(test: ast.expr) -> dict | None:
    """A call test for one assert expression, or None when it needs a script."""
    src = ast.unparse
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Eq, ast.Is)):
        left, right = test.left, test.comparators[0]
        if isinstance(test.ops[0], ast.Is) and not (isinstance(right, ast.Constant) and right.value in (True, False, None)):
            return None
        if isinstance(test.ops[0], ast.Is):
            return {"call": src(left), "expected": src(right), "identity": True}
        if _is_const(right) and not _is_const(left):
            return {"call": src(left), "expected": src(right)}
        if _is_const(left) and not _is_const(right):
            return {"call": src(right), "expected": src(left)}
        return None
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Lt, ast.LtE)):
        d = test.left  # abs(C - E) < tol
        if (isinstance(d, ast.Call) and isinstance(d.func, ast.Name) and d.func.id in ("abs",) or
                isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == "fabs") \
                and len(d.args) == 1 and isinstance(d.args[0], ast.BinOp) and isinstance(d.args[0].op, ast.Sub) \
                and _is_const(test.comparators[0]):
            a, b = d.args[0].left, d.args[0].right
            tol = float(const_eval(test.comparators[0]))
            if _is_const(b) and not _is_const(a):
                return {"call": src(a), "expected": src(b), "abs_tol": tol}
            if _is_const(a) and not _is_const(b):
                return {"call": src(b), "expected": src(a), "abs_tol": tol}
        return None
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute) and test.func.attr == "isclose" \
            and len(test.args) == 2:
        a, b = test.args
        kw = {k.arg: k.value for k in test.keywords}
        if not all(k in ("rel_tol", "abs_tol") and _is_const(v) for k, v in kw.items()):
            return None
        tols = {"rel_tol": float(const_eval(kw["rel_tol"])) if "rel_tol" in kw else 1e-9,
                "abs_tol": float(const_eval(kw["abs_tol"])) if "abs_tol" in kw else 0.0}
        if _is_const(b) and not _is_const(a):
            return {"call": src(a), "expected": src(b), **tols}
        if _is_const(a) and not _is_const(b):
            return {"call": src(b), "expected": src(a), **tols}
        return None
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and not _is_const(test.operand):
        return {"call": src(test.operand), "truthy": False}
    if not _is_const(test):
        return {"call": src(test), "truthy": True}
    return None


class _ProbeAsserts(ast.NodeTransformer):
    """`assert a == b` -> `__rlvr_probe("eq", a, b)`; any other `assert x` -> `__rlvr_probe("truthy", x)`."""

    def visit_Assert(self, node: ast.Assert) -> ast.stmt:
        t = node.test
        if isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq):
            args = [ast.Constant("eq"), t.left, t.comparators[0]]
        else:
            args = [ast.Constant("truthy"), t]
        call = ast.Call(ast.Name("__rlvr_probe", ast.Load()), args, [])
        return ast.copy_location(ast.Expr(call), node)


def to_probe_script(src: str) -> str:
    tree = _ProbeAsserts().visit(ast.parse(src))
    return ast.unparse(ast.fix_missing_locations(tree))


def tests_from_asserts(asserts: list[str]) -> tuple[list[dict], list[str]]:
    """MBPP-style assert strings -> (call tests, script tests)."""
    tests, scripts = [], []
    for a in asserts:
        stmt = ast.parse(a.strip()).body
        if len(stmt) == 1 and isinstance(stmt[0], ast.Assert):
            t = _test_from_assert(stmt[0].test)
            if t is not None:
                tests.append(t)
                continue
        scripts.append(to_probe_script(a))
    return tests, scripts


def tests_from_check(test_src: str, entry_point: str) -> tuple[str, list[dict], list[str]]:
    """HumanEval `test` source -> (setup code, call tests, script tests).

    Module-level statements except `def check` become setup. In `check(candidate)`, leading
    top-level asserts that fit a call test become call tests; the first statement that does not
    (a loop, an assignment, an unmatched assert) and everything after it become one script test.
    """
    mod = ast.parse(test_src)
    setup = [n for n in mod.body if not (isinstance(n, ast.FunctionDef) and n.name == "check")]
    check = next(n for n in mod.body if isinstance(n, ast.FunctionDef) and n.name == "check")
    tests: list[dict] = []
    rest: list[ast.stmt] = []
    for stmt in check.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)) and not rest:
            setup.append(stmt)
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, (ast.Constant, ast.Name)) or \
                isinstance(stmt, ast.Assert) and _is_const(stmt.test) and bool(const_eval(stmt.test)):
            continue  # docstring, a bare `print`, `assert True, "debug message"`: no-ops
        t = _test_from_assert(stmt.test) if isinstance(stmt, ast.Assert) and not rest else None
        if t is None:
            rest.append(stmt)
        else:
            tests.append(t)
    scripts = [to_probe_script(ast.unparse(ast.Module(rest, [])))] if rest else []
    setup_src = ast.unparse(ast.Module(setup, [])) if setup else ""
    return setup_src, tests, scripts


# ---- parent-side decoding and comparison -------------------------------------------------------

class Unsupported:
    """Stand-in for a value the sandbox could not serialise: equal to nothing, not even itself."""

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__


def decode(enc: Any, depth: int = 0) -> Any:
    """Tagged JSON from the sandbox -> plain builtins (or Unsupported); never raises."""
    try:
        return _decode(enc, depth)
    except (TypeError, ValueError, IndexError, KeyError, RecursionError, OverflowError):
        return Unsupported()


def _decode(enc: Any, depth: int) -> Any:
    if depth > MAX_DECODE_DEPTH or not isinstance(enc, list) or not enc:
        return Unsupported()
    tag = enc[0]
    d = lambda x: _decode(x, depth + 1)  # noqa: E731
    if tag == "N":
        return None
    if tag == "b":
        return bool(enc[1])
    if tag == "i":
        return int(enc[1])  # Python's 4300-digit limit applies: bigger ints fail, not stall the parent
    if tag == "f":
        return float(enc[1])
    if tag == "c":
        return complex(float(enc[1]), float(enc[2]))
    if tag == "s":
        return bytes.fromhex(enc[1]).decode("utf-8", "surrogatepass")
    if tag == "y":
        return bytes.fromhex(enc[1])
    if tag in ("l", "t", "S", "F"):
        items = [d(x) for x in enc[1]]
        return {"l": list, "t": tuple, "S": set, "F": frozenset}[tag](items)
    if tag == "d":
        return {d(k): d(v) for k, v in enc[1]}
    if tag == "r":
        return range(int(enc[1][0]), int(enc[1][1]), int(enc[1][2]))
    return Unsupported()


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def values_equal(actual: Any, test: dict, expected: Any) -> bool:
    """Verdict of one call test on decoded (trusted, builtin) values."""
    if isinstance(actual, Unsupported):
        return False
    if "truthy" in test:
        return bool(actual) is bool(test["truthy"])
    if test.get("identity"):
        return actual is expected  # `is True/False/None`: decoded singletons
    if ("abs_tol" in test or "rel_tol" in test) and _is_number(actual) and _is_number(expected):
        if "rel_tol" in test:
            return math.isclose(actual, expected, rel_tol=test["rel_tol"], abs_tol=test.get("abs_tol", 0.0))
        return abs(actual - expected) <= test["abs_tol"]
    try:
        return bool(actual == expected)
    except (TypeError, ValueError, RecursionError):
        return False
