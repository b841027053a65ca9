"""Off-policy guidance (`guidance: true`): a worked solution in place of one member of a group nobody solved.

A small model may never sample a step a problem needs (SmolLM2-135M puts a minus sign before fewer than 1 in
10,000 answers of `5 - 8`), so GRPO sees only wrong members and learns nothing from the problem. LUFFY (Yan et
al., 2025) mixes an off-policy solution into such groups; here the row's worked solution
(`metadata.solution`, e.g. the procedural generators' "41 + 5 = 46\\n46 - 12 = 34") is written in the run's
answer format (`pipeline.prompts.render_demonstration`), scored by the same verifiers, and replaces the group's
last member only if the verifier accepts it. It is trained as if sampled: its ratio is taken against the
current policy (1 on the first epoch) and its truncated-importance weight is 1, so its update is the group
advantage times the gradient of its log-likelihood, the same for every token.

    demo = demonstration(group[-1], tokenizer, "boxed")   # Sample | None (no solution / no format)
"""

from __future__ import annotations

from pipeline.grpo.samples import Sample
from pipeline.prompts import render_demonstration


def needs_guidance(group: list[Sample]) -> bool:
    """No member of the group is correct (the outcome verifier's verdict)."""
    return not any(s.correct for s in group)


def demonstration(member: Sample, tokenizer, template: str) -> Sample | None:
    """The row's worked solution as a completion of `member`'s prompt (same prompt ids and temperature), ending in
    the tokenizer's EOS; None when the row has no solution or the template no demonstration format."""
    steps = (member.row.metadata or {}).get("solution")
    if not steps:
        return None
    text = render_demonstration(steps, str(member.row.gold), template)
    if text is None:
        return None
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    if tokenizer.eos_token_id is not None:
        ids.append(int(tokenizer.eos_token_id))
    return Sample(member.row, member.prompt_ids, ids, text, "stop", member.temp, None, guided=True)
