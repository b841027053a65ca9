"""Procedural problems with exact golds and a difficulty knob (level 1-5), checkable by the "math" verifier.

Tasks:
- `arithmetic`: chains of + - x over integers; level sets the operand count and magnitude
  (L1 "What is 7 + 12?" ... L5 five operands up to 999 with products and parentheses).
- `linear`: solve for x with an integer solution; L1 x + a = b, L2 ax = b, L3 ax + b = c,
  L4 ax + b = cx + d, L5 a(x + b) - c = dx + e with larger coefficients.
- `fractions`: exact rational arithmetic; L1 same denominators ... L5 three terms with x and ÷;
  gold is a reduced `\\frac{p}{q}` (or an integer).
- `countdown`: a countdown-style puzzle with a unique answer: the largest value reachable
  using each given number exactly once with + - x and parentheses (exact subset DP over
  (min, max) intervals; products of intervals peak at their endpoints); L1 2 numbers ... L5 6.

Rows of `arithmetic` and `linear` (levels 1-3) also carry a worked solution in `metadata.solution`: one
computation per line ("41 + 5 = 46" / "46 - 12 = 34"), derived from the problem text by `worked_solution`,
without the final-answer sentence (the trainer's `guidance` renders that in the run's template).

Every item is a pure function of (seed, task, index), so `limit` or a different `n` never
changes the items that remain. Options: `task` (one of TASKS or "mix"), `n`, `seed`,
`levels` (list of levels, cycled), e.g.

    - kind: procedural
      name: arith
      options: {task: arithmetic, n: 2000, seed: 0, levels: [1, 2, 3]}
"""

from __future__ import annotations

import random
import re
from fractions import Fraction
from typing import Callable, Iterator

from data.schema import Row
from data.sources.base import SourceSpec


def _frac_tex(q: Fraction) -> str:
    if q.denominator == 1:
        return str(q.numerator)
    sign = "-" if q < 0 else ""
    return f"{sign}\\frac{{{abs(q.numerator)}}}{{{q.denominator}}}"


def gen_arithmetic(rng: random.Random, level: int) -> tuple[str, str]:
    n_ops = {1: 1, 2: 2, 3: 3, 4: 3, 5: 4}[level]
    hi = {1: 20, 2: 50, 3: 100, 4: 200, 5: 999}[level]
    ops = ["+", "-"] + (["*"] if level >= 3 else [])
    nums = [rng.randint(2 if level >= 3 else 1, hi)]
    expr = str(nums[0])
    for _ in range(n_ops):
        op = rng.choice(ops)
        b = rng.randint(2, 12) if op == "*" else rng.randint(1, hi)
        if level >= 4 and op == "*" and rng.random() < 0.5:
            expr = f"({expr}) * {b}"
        else:
            expr = f"{expr} {op} {b}"
    value = eval(expr, {"__builtins__": {}})  # our own generated expression, digits and + - * ( ) only
    shown = expr.replace("*", "\\times")
    return f"What is ${shown}$?", str(value)


def gen_linear(rng: random.Random, level: int) -> tuple[str, str]:
    x = rng.randint(-10 if level >= 3 else 1, 12 * level)
    a = rng.randint(2, 3 + 3 * level)
    b = rng.randint(1, 10 * level)
    if level == 1:
        eq = f"x + {b} = {x + b}"
    elif level == 2:
        eq = f"{a}x = {a * x}"
    elif level == 3:
        eq = f"{a}x + {b} = {a * x + b}"
    elif level == 4:
        c = rng.choice([k for k in range(1, a + 6) if k != a])
        d = a * x + b - c * x
        eq = f"{a}x + {b} = {c}x {'+' if d >= 0 else '-'} {abs(d)}"
    else:
        c, d = rng.randint(1, 30), rng.choice([k for k in range(1, 15) if k != a])
        e = a * (x + b) - c - d * x
        eq = f"{a}(x + {b}) - {c} = {d}x {'+' if e >= 0 else '-'} {abs(e)}"
    return f"Solve for $x$: ${eq}$.", str(x)


def gen_fractions(rng: random.Random, level: int) -> tuple[str, str]:
    def frac(dmax: int) -> tuple[int, int]:  # (numerator, denominator) as shown, not reduced
        d = rng.randint(2, dmax)
        return rng.randint(1, d * 2 - 1), d

    if level == 1:
        d = rng.randint(2, 12)
        (a, _), (b, _) = (rng.randint(1, d), d), (rng.randint(1, d), d)
        text, value = f"\\frac{{{a}}}{{{d}}} + \\frac{{{b}}}{{{d}}}", Fraction(a + b, d)
        return f"Compute ${text}$. Give your answer as a fraction in lowest terms.", _frac_tex(value)
    dmax = {2: 9, 3: 12, 4: 12, 5: 15}[level]
    ops = {2: ["+"], 3: ["+", "-"], 4: ["+", "-", "\\times"], 5: ["+", "-", "\\times", "\\div"]}[level]
    terms = [frac(dmax) for _ in range(3 if level == 5 else 2)]
    value, text = Fraction(*terms[0]), f"\\frac{{{terms[0][0]}}}{{{terms[0][1]}}}"
    for t in terms[1:]:  # evaluated left to right, shown with parentheses where precedence differs
        op, q = rng.choice(ops), Fraction(*t)
        value = {"+": value + q, "-": value - q, "\\times": value * q, "\\div": value / q}[op]
        if op in ("\\times", "\\div") and (" + " in text or " - " in text):
            text = f"\\left({text}\\right)"
        text = f"{text} {op} \\frac{{{t[0]}}}{{{t[1]}}}"
    return f"Compute ${text}$. Give your answer as a fraction in lowest terms.", _frac_tex(value)


def countdown_max(nums: list[int]) -> int:
    """Largest value of any expression using each number once with + - * and parentheses."""
    n = len(nums)
    best: dict[int, tuple[int, int]] = {1 << i: (v, v) for i, v in enumerate(nums)}
    for mask in range(1, 1 << n):
        if mask in best:
            continue
        lo, hi = None, None
        sub = (mask - 1) & mask
        while sub:
            a, b = best[sub], best[mask ^ sub]
            prods = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]]
            cands_hi = [a[1] + b[1], a[1] - b[0], max(prods)]
            cands_lo = [a[0] + b[0], a[0] - b[1], min(prods)]
            hi = max(cands_hi + ([hi] if hi is not None else []))
            lo = min(cands_lo + ([lo] if lo is not None else []))
            sub = (sub - 1) & mask
        best[mask] = (lo, hi)
    return best[(1 << n) - 1][1]


def gen_countdown(rng: random.Random, level: int) -> tuple[str, str]:
    k = level + 1
    nums = [rng.randint(1, 10 if level <= 3 else 25) for _ in range(k)]
    listed = ", ".join(map(str, nums))
    text = (f"Using each of the numbers {listed} exactly once, combined with addition, subtraction, "
            f"multiplication and parentheses, what is the largest value you can make?")
    return text, str(countdown_max(nums))


TASKS: dict[str, Callable[[random.Random, int], tuple[str, str]]] = {
    "arithmetic": gen_arithmetic,
    "linear": gen_linear,
    "fractions": gen_fractions,
    "countdown": gen_countdown,
}


def generate(task: str, level: int, seed: int, index: int) -> tuple[str, str]:
    """One (problem, gold) pair: a pure function of its arguments."""
    if task not in TASKS:
        raise ValueError(f"unknown procedural task {task!r}; choose one of {sorted(TASKS)} or 'mix'")
    if not 1 <= level <= 5:
        raise ValueError(f"procedural level {level} outside 1..5")
    return TASKS[task](random.Random(f"{seed}/{task}/{level}/{index}"), level)


_ARITH = re.compile(r"What is \$(.*)\$\?")
_LINEAR = re.compile(r"Solve for \$x\$: \$(?:(\d+)x|x \+ (\d+))(?: \+ (\d+))? = (-?\d+)\$\.")


def worked_solution(task: str, problem: str) -> str | None:
    """One computation per line for a procedural problem, or None where no short derivation is written
    (fractions, countdown, linear L4-5, arithmetic with parentheses). E.g. "What is $41 + 5 - 12$?" ->
    "41 + 5 = 46\n46 - 12 = 34"; "Solve for $x$: $3x + 4 = 19$." -> "3x = 19 - 4 = 15\nx = 15 / 3 = 5"."""
    if task == "arithmetic" and (m := _ARITH.fullmatch(problem)) and "(" not in m.group(1):
        toks = m.group(1).replace("\\times", "*").split()
        nums, ops = [int(t) for t in toks[::2]], toks[1::2]
        lines: list[str] = []
        while "*" in ops:  # products first, left to right
            k = ops.index("*")
            lines.append(f"{nums[k]} \\times {nums[k + 1]} = {nums[k] * nums[k + 1]}")
            nums[k : k + 2], ops[k : k + 1] = [nums[k] * nums[k + 1]], []
        acc = nums[0]
        for op, b in zip(ops, nums[1:]):
            new = acc + b if op == "+" else acc - b
            lines.append(f"{acc} {op} {b} = {new}")
            acc = new
        return "\n".join(lines) or None
    if task == "linear" and (m := _LINEAR.fullmatch(problem)):
        a, b1, b2, c = m.groups()
        if a is None:  # x + b = c
            return f"x = {c} - {b1} = {int(c) - int(b1)}"
        a, c = int(a), int(c)
        first = f"{a}x = {c} - {b2} = {c - int(b2)}\n" if b2 else ""
        c = c - int(b2) if b2 else c
        return f"{first}x = {c} / {a} = {c // a}"
    return None


def load_procedural(spec: SourceSpec) -> Iterator[Row]:
    opts = spec.options
    task, n, seed = opts.get("task", "arithmetic"), int(opts.get("n", 1000)), int(opts.get("seed", 0))
    levels = [int(x) for x in opts.get("levels", [1, 2, 3, 4, 5])]
    tasks = sorted(TASKS) if task == "mix" else [task]
    n = min(n, spec.limit) if spec.limit is not None else n
    # The problem *is* a computation: restating it ("the answer is 18 - 14") must not score (math verifier).
    verifier_options = {"require_evaluated": True} if spec.verifier == "math" else {}
    for i in range(n):
        t, level = tasks[i % len(tasks)], levels[(i // len(tasks)) % len(levels)]
        problem, gold = generate(t, level, seed, i)
        meta = {"task": t, "level": level, "seed": seed, "origin": f"procedural:{t}:L{level}:seed{seed}#{i}"}
        if (solution := worked_solution(t, problem)) is not None:
            meta["solution"] = solution
        if verifier_options:
            meta["verifier_options"] = dict(verifier_options)
        yield Row(id=f"{spec.label}/{t}/{seed}/{i}", problem=problem, verifier=spec.verifier, gold=gold,
                  source=spec.label, split=spec.split, metadata=meta)
