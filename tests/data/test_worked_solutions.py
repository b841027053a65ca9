"""Worked solutions of procedural rows (`metadata.solution`, read by the trainer's `guidance`): one computation
per line, every line true (checked by the process verifier, not by re-running the generator's arithmetic), the
last line's result the gold answer, and each rendered demonstration accepted by the verifier the run uses."""

from __future__ import annotations

import pytest

from data.sources.procedural import generate, worked_solution
from pipeline.prompts import render_demonstration

CASES = [
    ("arithmetic", "What is $7 + 12$?", "7 + 12 = 19"),
    ("arithmetic", "What is $41 + 5 - 12$?", "41 + 5 = 46\n46 - 12 = 34"),
    ("arithmetic", "What is $4 - 8$?", "4 - 8 = -4"),
    ("arithmetic", "What is $14 - 32 - 48$?", "14 - 32 = -18\n-18 - 48 = -66"),
    ("arithmetic", "What is $11 + 20 - 26 \\times 7$?", "26 \\times 7 = 182\n11 + 20 = 31\n31 - 182 = -151"),
    ("arithmetic", "What is $(2 - 18) \\times 5$?", None),
    ("linear", "Solve for $x$: $x + 6 = 12$.", "x = 12 - 6 = 6"),
    ("linear", "Solve for $x$: $4x = 72$.", "x = 72 / 4 = 18"),
    ("linear", "Solve for $x$: $6x + 2 = -52$.", "6x = -52 - 2 = -54\nx = -54 / 6 = -9"),
    ("linear", "Solve for $x$: $4x + 24 = 9x - 161$.", None),
    ("fractions", "Compute $\\frac{9}{11} + \\frac{5}{11}$. Give your answer as a fraction in lowest terms.", None),
]


@pytest.mark.parametrize("task,problem,want", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_worked_solution(task, problem, want):
    assert worked_solution(task, problem) == want


@pytest.mark.parametrize("task", ["arithmetic", "linear"])
def test_every_line_is_true_and_the_last_result_is_the_gold(task):
    from rewards.process import verify_process

    seen = 0
    for level in range(1, 6):
        for i in range(40):
            problem, gold = generate(task, level, 7, i)
            steps = worked_solution(task, problem)
            if steps is None:
                continue
            seen += 1
            verdict = verify_process(steps)
            assert verdict.score == 1.0 and verdict.details["n_true"] == len(steps.splitlines()), (problem, steps)
            assert steps.splitlines()[-1].rsplit("=", 1)[1].strip() == gold, (problem, steps, gold)
    assert seen >= 80  # levels 1-3 (and 5 without parentheses) have solutions


def test_rows_carry_their_solution():
    from data.sources.base import SourceSpec
    from data.sources.procedural import load_procedural

    rows = list(load_procedural(SourceSpec(kind="procedural", name="p", options={"task": "mix", "n": 8, "seed": 1,
                                                                                   "levels": [1]})))
    by_task = {r.metadata["task"]: r for r in rows}
    assert by_task["arithmetic"].metadata["solution"] == worked_solution("arithmetic", by_task["arithmetic"].problem)
    assert "solution" not in by_task["fractions"].metadata and "solution" not in by_task["countdown"].metadata


@pytest.mark.parametrize("template", ["boxed", "plain", "r1", "r1_think"])
def test_demonstration_is_accepted_by_the_verifier(template):
    from rewards.format import verify_format_r1
    from rewards.math import verify_math

    problem, gold = "What is $14 - 32 - 48$?", "-66"
    text = render_demonstration(worked_solution("arithmetic", problem), gold, template)
    assert verify_math(text, gold, require_evaluated=True).score == 1.0, text
    assert verify_math(render_demonstration("14 - 32 = -18", "-18", template), gold).score == 0.0
    if template.startswith("r1"):
        prefill = "<think>" if template == "r1_think" else ""
        assert verify_format_r1(prefill + text).score == 1.0, text


def test_code_template_has_no_demonstration():
    assert render_demonstration("x = 1", "1", "code") is None
