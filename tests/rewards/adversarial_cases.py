"""The adversarial table shared by tests/rewards/test_adversarial.py and benchmarks/bench_adversarial.py.

Every math case uses gold "7", and several completions *equal* 7 if a checker does the model's work
(unevaluated integral/sum/limit of 7): all must score 0 with a reason, inside the deadline.
"""

from __future__ import annotations

GOLD = "7"
MB = 1_000_000

# id, verifier, completion
MATH_CASES: list[tuple[str, str, str]] = [
    ("power-tower", "math", "\\boxed{2^{2^{2^{2^{2^{2^{2}}}}}}}"),
    ("power-tower-plain", "math", "The answer is 9^9^9^9^9."),
    ("huge-exponent", "math", "\\boxed{10^{10^{10}}}"),
    ("huge-factorial", "math", "\\boxed{(10^{8})!}"),
    ("factorial-tower", "math", "\\boxed{((10!)!)!}"),
    ("nesting-frac-10k", "math", "\\boxed{" + "\\frac{1}{" * 10_000 + "2" + "}" * 10_000 + "}"),
    ("nesting-parens-10k", "math", "\\boxed{" + "(" * 10_000 + "4" + ")" * 10_000 + "}"),
    ("nesting-braces-10k", "math", "\\boxed{" + "{" * 10_000 + "4" + "}" * 10_000 + "}"),
    ("nesting-sqrt-10k", "math", "\\boxed{" + "\\sqrt{" * 10_000 + "4" + "}" * 10_000 + "}"),
    ("megabyte-number", "math", "\\boxed{" + "9" * MB + "}"),
    ("megabyte-prose", "math", "lorem ipsum " * (MB // 12)),
    ("megabyte-many-boxes", "math", "\\boxed{1} " * (MB // 10)),
    ("megabyte-unclosed-box", "math", "\\boxed{" * (MB // 7)),
    ("sum-20k-terms", "math", "\\boxed{" + "+".join(["1"] * 20_000) + "}"),
    ("malformed-unclosed-frac", "math", "\\boxed{\\frac{1}{"),
    ("malformed-left-right", "math", "\\boxed{\\left( 3 \\right]}}}"),
    ("malformed-sqrt-index", "math", "\\boxed{\\sqrt[}{2}}"),
    ("malformed-braces", "math", "\\boxed{}}}{{{"),
    ("malformed-commands", "math", "\\boxed{\\begin{matrix} 1 & \\end{pmatrix} \\\\\\\\ \\frac}"),
    ("nul-bytes", "math", "\x00" * 1000 + "\\boxed{4\x00}"),
    ("nul-only-box", "math", "\\boxed{\x00\x00}"),
    ("lone-surrogates", "math", "\\boxed{\ud800\udfff\ud800}"),
    ("lone-surrogate-prefix", "math", "\ud83d the answer is \\boxed{4}"),
    ("integral-equal-to-gold", "math", "\\boxed{\\int_0^{7} 1\\,dx}"),
    ("sum-equal-to-gold", "math", "\\boxed{\\sum_{k=1}^{7} 1}"),
    ("limit-equal-to-gold", "math", "\\boxed{\\lim_{x \\to 0} 7}"),
    ("integral-tower", "math", "\\boxed{\\int_0^{10^{10^{10}}} x^{x^{x}}\\,dx}"),
    ("relation-as-answer", "math", "\\boxed{5=7}"),
    ("hedge", "math", "\\boxed{7} or maybe \\boxed{8}"),
    ("eval-injection", "math", "\\boxed{__import__('os').system('touch /tmp/rlvr_pwned')}"),
]

# cases for the other verifiers: they must return a typed result inside the deadline
OTHER_CASES: list[tuple[str, str, str]] = [
    ("format-megabyte", "format_r1", "<think>" + "a" * MB + "</think><answer>" + "b" * MB),
    ("format-nul-surrogate", "format_r1", "<think>\x00\ud800</think><answer>\udfff</answer>"),
    ("process-megabyte-equations", "process", "1 + 1 = 2. " * (MB // 11)),
    ("process-tower", "process", "2^(2^(2^(2^(2^(2^2))))) = 5"),
    ("process-nesting-10k", "process", "(" * 10_000 + "1" + ")" * 10_000 + " = 1"),
]
