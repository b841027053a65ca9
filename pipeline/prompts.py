"""Prompt templates, rendered through the model's chat template at train and eval time.

- `r1`: DeepSeek-R1-Zero style, reasoning in <think>...</think>, answer in <answer>...</answer>.
- `r1_think`: the same prompt with `<think>` prefilled after the assistant turn opens (the completion starts
  inside the think block; the R1 format reward detects the prefill, the answer is read from <answer>).
- `boxed`: Qwen2.5-Math style, "put your final answer within \\boxed{}".
- `plain`: the problem text alone.
- `code`: asks for a Python solution in a fenced block.

A run's `template` applies to every row except those whose verifier has its own entry in the
config's `templates` (default `VERIFIER_TEMPLATES`: code rows get `code`), so one run over math and
code rows asks each kind of problem the way its verifier reads the answer.

Stop strings (`stop` in the train, difficulty and eval configs) end a completion where its answer format
ends, e.g. `"\n```\n"` after a code fence: the text is cut before the match (the code verifier reads an
unterminated fence), the tokens up to and including it are kept for the update, and the finish reason is "stop".
"""

from __future__ import annotations

from pipeline.config import ConfigError

_R1_SYSTEM = ("A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
              "The assistant first thinks about the reasoning process in the mind and then provides the user with "
              "the answer. The reasoning process and answer are enclosed within <think> </think> and <answer> "
              "</answer> tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here "
              "</answer>.")

TEMPLATES: dict[str, dict[str, str | None]] = {
    "r1": {"system": _R1_SYSTEM, "user": "{problem}"},
    "r1_think": {"system": _R1_SYSTEM, "user": "{problem}", "prefill": "<think>"},
    "boxed": {
        "system": "Please reason step by step, and put your final answer within \\boxed{{}}.",
        "user": "{problem}",
    },
    "plain": {"system": None, "user": "{problem}"},
    "code": {
        "system": "You are an expert Python programmer. Reply with one complete Python solution in a ```python code block.",
        "user": "{problem}",
    },
}

DEMONSTRATIONS: dict[str, str] = {
    "r1": "<think>\n{steps}\n</think> <answer>{answer}</answer>",
    "r1_think": "\n{steps}\n</think> <answer>{answer}</answer>",  # the prompt already ends with `<think>`
    "boxed": "{steps}\nThe final answer is $\\boxed{{{answer}}}$.",
    "plain": "{steps}\nThe answer is {answer}.",
}
"""How a worked solution is written as a completion in each template (`guidance`); `code` has none."""

VERIFIER_TEMPLATES: dict[str, str] = {"code": "code"}
"""Default per-verifier templates (config key `templates`): rows checked by a listed verifier use its template."""


def template_for(verifier: str, template: str, by_verifier: dict[str, str] | None = None) -> str:
    """The template a row checked by `verifier` is asked with: its verifier's entry, else the run's template."""
    return (VERIFIER_TEMPLATES if by_verifier is None else by_verifier).get(verifier, template)


def check_templates(template: str | None, by_verifier: dict[str, str]) -> None:
    """Config-time check of a `template` / `templates` pair (ConfigError naming the unknown template)."""
    for key, name in [("template", template), *((f"templates.{v}", t) for v, t in by_verifier.items())]:
        if name is not None and name not in TEMPLATES:
            raise ConfigError(f"{key}: {name!r} is not a prompt template; choose one of {sorted(TEMPLATES)}")


def check_stop(stop: list[str]) -> None:
    """Config-time check of `stop`: a list of non-empty strings (an empty one would end every completion at once)."""
    if not isinstance(stop, list) or not all(isinstance(x, str) and x for x in stop):
        raise ConfigError(f"stop: must be a list of non-empty strings, got {stop!r}")


def render_demonstration(steps: str, answer: str, template: str) -> str | None:
    """A worked solution (`steps`, one computation per line) and its final answer as the completion the template
    asks for, e.g. boxed: "41 + 5 = 46\n46 - 12 = 34\nThe final answer is $\\boxed{34}$."; None for a template
    without a demonstration format."""
    fmt = DEMONSTRATIONS.get(template)
    return None if fmt is None else fmt.format(steps=steps.strip(), answer=answer)


def render_prompt(tokenizer, problem: str, template: str = "boxed") -> str:
    """Render one problem to the exact text the model is conditioned on."""
    if template not in TEMPLATES:
        raise KeyError(f"unknown prompt template {template!r}; choose one of {sorted(TEMPLATES)}")
    t = TEMPLATES[template]
    messages = []
    if t["system"]:
        messages.append({"role": "system", "content": t["system"].replace("{{}}", "{}")})
    messages.append({"role": "user", "content": t["user"].format(problem=problem)})
    prefill = t.get("prefill") or ""  # text the assistant turn starts with (the model continues after it)
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) + prefill
    return "\n\n".join(m["content"] for m in messages) + "\n\n" + prefill
