"""Procedural function-writing tasks with generated tests (level 1-5), checked by the "code" verifier.

Each item asks for one Python function, names it and its arguments, and shows one example call;
the gold is a set of function-call tests (`rewards.code`: `{"entry_point", "tests": [{"call":
"candidate(3)", "expected": "10"}]}`) computed from the task's own reference implementation on
seeded inputs, and `metadata["reference"]` holds that reference as source text, so curation runs
it through the sandbox like any other code row's reference.

Levels (families are drawn per item; names, argument names and constants vary with the seed):
- L1 one integer operation: x plus k, x times k, x minus k, remainder by k, "is x a multiple of k".
- L2 one builtin over a list or string: sum, largest, smallest, length, last element, upper case.
- L3 a condition or a filter: count evens, sum of values above k, odd values only, reversed
  string, the largest of three, absolute difference.
- L4 a loop with an accumulator: digit sum, vowel count, palindrome test, running sums,
  factorial, product.
- L5 two steps: second-largest distinct value, de-duplication keeping order, gcd, primality,
  sum of squares of the even values.

Every item is a pure function of (seed, level, index), as in `data.sources.procedural`:

    - kind: procedural_code
      name: code_train
      options: {n: 2000, seed: 0, levels: [1, 2, 3]}
"""

from __future__ import annotations

import dataclasses
import random
import string
from typing import Any, Callable, Iterator

from data.schema import Row
from data.sources.base import SourceSpec

N_TESTS = 4


@dataclasses.dataclass(frozen=True)
class Family:
    level: int
    names: tuple[str, ...]  # function names ({k} is replaced by the constant)
    args: tuple[str, ...]  # argument names, one per argument
    statement: str  # "... `{sig}` that returns ..." ({k}: the constant; {a0}, {a1}, ...: argument names)
    body: str  # reference body, one expression over the argument names and {k}
    fn: Callable[..., Any]  # (k, *args) -> the expected value
    inputs: Callable[[random.Random], tuple]  # one argument tuple
    k: Callable[[random.Random], int] = lambda rng: 0


def _ints(lo: int, hi: int, n_lo: int = 0, n_hi: int = 6):
    return lambda rng: ([rng.randint(lo, hi) for _ in range(rng.randint(n_lo, n_hi))],)


def _word(rng: random.Random, lo: int = 2, hi: int = 7) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(lo, hi)))


def _x(lo: int = -20, hi: int = 50):
    return lambda rng: (rng.randint(lo, hi),)


def _k(lo: int, hi: int):
    return lambda rng: rng.randint(lo, hi)


def _is_prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return abs(a)


FAMILIES: tuple[Family, ...] = (
    Family(1, ("add_{k}", "plus_{k}"), ("x", "n"), "returns {a0} plus {k}", "{a0} + {k}", lambda k, x: x + k, _x(),
           _k(2, 19)),
    Family(1, ("times_{k}", "multiply_by_{k}"), ("x", "n"), "returns {a0} multiplied by {k}", "{a0} * {k}",
           lambda k, x: x * k, _x(), _k(2, 12)),
    Family(1, ("minus_{k}", "subtract_{k}"), ("x", "n"), "returns {a0} minus {k}", "{a0} - {k}", lambda k, x: x - k,
           _x(), _k(2, 19)),
    Family(1, ("mod_{k}", "remainder_{k}"), ("x", "n"), "returns the remainder of {a0} divided by {k}", "{a0} % {k}",
           lambda k, x: x % k, _x(0, 99), _k(2, 9)),
    Family(1, ("is_multiple_of_{k}", "divisible_by_{k}"), ("x", "n"),
           "returns True if {a0} is divisible by {k} and False otherwise", "{a0} % {k} == 0",
           lambda k, x: x % k == 0, _x(0, 60), _k(2, 7)),
    Family(2, ("total", "list_sum", "sum_all"), ("nums", "values"), "returns the sum of the numbers in the list {a0}",
           "sum({a0})", lambda k, xs: sum(xs), _ints(-9, 30)),
    Family(2, ("largest", "max_value"), ("nums", "values"), "returns the largest number in the non-empty list {a0}",
           "max({a0})", lambda k, xs: max(xs), _ints(-9, 50, 1)),
    Family(2, ("smallest", "min_value"), ("nums", "values"), "returns the smallest number in the non-empty list {a0}",
           "min({a0})", lambda k, xs: min(xs), _ints(-9, 50, 1)),
    Family(2, ("count_items", "list_length"), ("items", "values"), "returns how many elements the list {a0} has",
           "len({a0})", lambda k, xs: len(xs), _ints(0, 9)),
    Family(2, ("last_item", "final_element"), ("items", "values"), "returns the last element of the non-empty list {a0}",
           "{a0}[-1]", lambda k, xs: xs[-1], _ints(-9, 50, 1)),
    Family(2, ("shout", "to_upper"), ("s", "text"), "returns the string {a0} in upper case", "{a0}.upper()",
           lambda k, s: s.upper(), lambda rng: (_word(rng),)),
    Family(3, ("count_evens", "num_even"), ("nums", "values"), "returns how many numbers in the list {a0} are even",
           "sum(1 for v in {a0} if v % 2 == 0)", lambda k, xs: sum(1 for v in xs if v % 2 == 0), _ints(0, 30)),
    Family(3, ("sum_above_{k}", "total_over_{k}"), ("nums", "values"),
           "returns the sum of the numbers in the list {a0} that are greater than {k}",
           "sum(v for v in {a0} if v > {k})", lambda k, xs: sum(v for v in xs if v > k), _ints(0, 30), _k(3, 15)),
    Family(3, ("only_odds", "keep_odd"), ("nums", "values"),
           "returns a list of the odd numbers in the list {a0}, in their original order",
           "[v for v in {a0} if v % 2 == 1]", lambda k, xs: [v for v in xs if v % 2 == 1], _ints(0, 30)),
    Family(3, ("reverse_text", "backwards"), ("s", "text"), "returns the string {a0} reversed", "{a0}[::-1]",
           lambda k, s: s[::-1], lambda rng: (_word(rng),)),
    Family(3, ("max_of_three", "biggest_of_three"), ("a", "b", "c"), "returns the largest of the three numbers",
           "max({a0}, {a1}, {a2})", lambda k, a, b, c: max(a, b, c),
           lambda rng: tuple(rng.randint(-20, 40) for _ in range(3))),
    Family(3, ("distance", "abs_diff"), ("a", "b"), "returns the absolute difference between {a0} and {a1}",
           "abs({a0} - {a1})", lambda k, a, b: abs(a - b), lambda rng: (rng.randint(-20, 40), rng.randint(-20, 40))),
    Family(4, ("digit_sum", "sum_of_digits"), ("n", "x"), "returns the sum of the decimal digits of the non-negative "
           "integer {a0}", "sum(int(d) for d in str({a0}))", lambda k, n: sum(int(d) for d in str(n)), _x(0, 99999)),
    Family(4, ("count_vowels", "vowel_count"), ("s", "text"), "returns how many vowels (a, e, i, o, u) the "
           "lower-case string {a0} contains", "sum(1 for ch in {a0} if ch in 'aeiou')",
           lambda k, s: sum(1 for ch in s if ch in "aeiou"), lambda rng: (_word(rng, 3, 9),)),
    Family(4, ("is_palindrome", "reads_same_backwards"), ("s", "text"),
           "returns True if the string {a0} reads the same forwards and backwards, else False", "{a0} == {a0}[::-1]",
           lambda k, s: s == s[::-1], lambda rng: ((lambda w: w + w[::-1][rng.randint(0, 1):])(_word(rng, 1, 4))
                                                   if rng.random() < 0.5 else _word(rng, 2, 6),)),
    Family(4, ("running_sum", "prefix_sums"), ("nums", "values"), "returns the list of running totals of the list "
           "{a0} (the i-th item is the sum of the first i + 1 numbers)",
           "[sum({a0}[:i + 1]) for i in range(len({a0}))]", lambda k, xs: [sum(xs[:i + 1]) for i in range(len(xs))],
           _ints(-5, 20)),
    Family(4, ("factorial", "fact"), ("n", "x"), "returns the factorial of the non-negative integer {a0}",
           "__import__('math').factorial({a0})", lambda k, n: __import__("math").factorial(n), _x(0, 10)),
    Family(4, ("product", "multiply_all"), ("nums", "values"), "returns the product of the numbers in the list {a0} "
           "(1 for an empty list)", "__import__('math').prod({a0})", lambda k, xs: __import__("math").prod(xs),
           _ints(-5, 9, 0, 5)),
    Family(5, ("second_largest", "runner_up"), ("nums", "values"), "returns the second largest distinct number in the "
           "list {a0} (it has at least two distinct numbers)", "sorted(set({a0}))[-2]",
           lambda k, xs: sorted(set(xs))[-2], lambda rng: ([rng.randint(0, 30) for _ in range(rng.randint(2, 7))]
                                                           + [31, 32],)),
    Family(5, ("dedupe", "unique_in_order"), ("items", "values"), "returns the list {a0} without repeated values, "
           "keeping the first occurrence of each, in order", "list(dict.fromkeys({a0}))",
           lambda k, xs: list(dict.fromkeys(xs)), _ints(0, 6, 0, 9)),
    Family(5, ("gcd", "greatest_common_divisor"), ("a", "b"), "returns the greatest common divisor of the positive "
           "integers {a0} and {a1}", "__import__('math').gcd({a0}, {a1})", lambda k, a, b: _gcd(a, b),
           lambda rng: (rng.randint(1, 60) * rng.choice([1, 2, 3, 6]), rng.randint(1, 60) * rng.choice([1, 2, 3, 6]))),
    Family(5, ("is_prime", "prime_check"), ("n", "x"), "returns True if the integer {a0} is a prime number, else False",
           "{a0} > 1 and all({a0} % d for d in range(2, int({a0} ** 0.5) + 1))", lambda k, n: _is_prime(n), _x(0, 60)),
    Family(5, ("even_square_sum", "sum_even_squares"), ("nums", "values"),
           "squares each even number in the list {a0} and returns the total of those squares",
           "sum(v * v for v in {a0} if v % 2 == 0)", lambda k, xs: sum(v * v for v in xs if v % 2 == 0),
           _ints(-9, 20)),
)
LEVELS = tuple(sorted({f.level for f in FAMILIES}))


def generate(level: int, seed: int, index: int) -> tuple[str, dict, str, str]:
    """One (problem, gold, reference, family name) item: a pure function of its arguments."""
    if level not in LEVELS:
        raise ValueError(f"procedural_code level {level} outside {LEVELS[0]}..{LEVELS[-1]}")
    rng = random.Random(f"{seed}/code/{level}/{index}")
    fam = rng.choice([f for f in FAMILIES if f.level == level])
    k = fam.k(rng)
    name = rng.choice(fam.names).format(k=k)
    n_args = fam.fn.__code__.co_argcount - 1
    args = list(fam.args[:n_args]) if n_args > 1 else [rng.choice(fam.args)]
    names = {f"a{i}": a for i, a in enumerate(args)}
    sig = f"{name}({', '.join(args)})"
    cases, seen = [], set()
    for _ in range(4 * N_TESTS):
        inp = fam.inputs(rng)
        if repr(inp) not in seen:
            seen.add(repr(inp))
            cases.append(inp)
        if len(cases) == N_TESTS:
            break
    calls = [", ".join(repr(a) for a in inp) for inp in cases]
    expected = [repr(fam.fn(k, *inp)) for inp in cases]
    problem = (f"Write a Python function `{sig}` that {fam.statement.format(k=k, **names)}.\n"
               f"For example, `{name}({calls[0]})` should return `{expected[0]}`.")
    gold = {"entry_point": name, "tests": [{"call": f"candidate({c})", "expected": e} for c, e in zip(calls, expected)]}
    reference = f"def {sig}:\n    return {fam.body.format(k=k, **names)}\n"
    return problem, gold, reference, fam.names[0].replace("_{k}", "")


def load_procedural_code(spec: SourceSpec) -> Iterator[Row]:
    opts = spec.options
    n, seed = int(opts.get("n", 1000)), int(opts.get("seed", 0))
    levels = [int(x) for x in opts.get("levels", list(LEVELS))]
    n = min(n, spec.limit) if spec.limit is not None else n
    for i in range(n):
        level = levels[i % len(levels)]
        problem, gold, reference, family = generate(level, seed, i)
        meta = {"task": family, "level": level, "seed": seed, "reference": reference,
                "origin": f"procedural_code:L{level}:seed{seed}#{i}"}
        yield Row(id=f"{spec.label}/{seed}/{i}", problem=problem, verifier="code", gold=gold, source=spec.label,
                  split=spec.split, metadata=meta)
