"""Packing and completion log-probs: a padded batch gives the same log-probs as each sequence alone."""

import pytest
import torch

from pipeline.grpo.batch import collate, completion_logprobs
from pipeline.grpo.config import RewardSpec
from pipeline.grpo.scoring import combine


def test_collate_layout():
    b = collate([[5, 6], [7]], [[1, 2, 3], []], pad_id=0)
    assert b.input_ids.tolist() == [[5, 6, 1, 2, 3], [0, 7, 0, 0, 0]]
    assert b.attention_mask.tolist() == [[1, 1, 1, 1, 1], [0, 1, 0, 0, 0]]
    assert b.position_ids.tolist()[0] == [0, 1, 2, 3, 4] and b.position_ids.tolist()[1][1] == 0
    assert b.completion_mask.tolist() == [[1, 1, 1], [0, 0, 0]]
    sub = b.select(torch.tensor([0]))
    assert sub.input_ids.tolist() == [[5, 6, 1, 2, 3]] and sub.prompt_len == 2


def test_padded_logprobs_match_single_sequences(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    prompts, comps = [[10, 11, 12, 13], [20, 21]], [[30, 31, 32], [40]]
    batch = collate(prompts, comps, pad_id=0)
    with torch.no_grad():
        lp, ent = completion_logprobs(model, batch, torch.tensor([1.0, 0.5]), with_entropy=True)
        for i, (p, c) in enumerate(zip(prompts, comps)):
            ids = torch.tensor([p + c])
            logits = model(ids).logits[0, len(p) - 1:-1] / (1.0 if i == 0 else 0.5)
            want = torch.log_softmax(logits, -1).gather(-1, torch.tensor(c)[:, None]).squeeze(-1)
            assert torch.allclose(lp[i, : len(c)], want, atol=1e-5)
    assert ent.shape == lp.shape and bool((ent >= 0).all())


COMBINE = [
    ("weighted_sum", [1.0, 1.0], [0.2, 1.0], 1.2),
    ("skip_one_objective", [None, 1.0], [0.2, 1.0], 1.0),
    ("skip_all", [None, None], [0.2, 1.0], None),
]


@pytest.mark.parametrize("scores,weights,expected", [c[1:] for c in COMBINE], ids=[c[0] for c in COMBINE])
def test_combine(scores, weights, expected):
    specs = [RewardSpec(verifier="row", weight=weights[0]), RewardSpec(verifier="format_r1", weight=weights[1])]
    per = {"outcome": [scores[0]], "format_r1": [scores[1]]}
    got = combine(specs, per, 1)[0]
    assert got == pytest.approx(expected) if expected is not None else got is None


class _FakePool:
    """Stands in for rewards.pool.VerifierPool: returns canned results, counts calls."""

    def __init__(self, results):
        self.results, self.calls = results, 0

    def score_batch(self, items):
        self.calls += 1
        return self.results[: len(items)]


def test_answered_signal_and_shared_scoring():
    from pipeline.grpo.scoring import Scorer
    from rewards.base import VerifyResult

    specs = [RewardSpec(verifier="row", weight=1.0), RewardSpec(verifier="row", weight=0.2, signal="answered")]
    scorer = Scorer.__new__(Scorer)
    scorer.specs = specs
    scorer.pool = _FakePool([VerifyResult(1.0, "ok"), VerifyResult(0.0, "wrong"), VerifyResult(0.0, "no_answer"),
                             VerifyResult(None, "gold_unparsable")])

    class R:
        verifier, gold = "math", "4"

    s = scorer.score([R()] * 4, ["a", "b", "c", "d"])
    assert scorer.pool.calls == 1  # both objectives read the same verifier results
    assert s.per_objective["outcome_answered"] == [1.0, 1.0, 0.0, None]
    assert s.reward == [pytest.approx(1.2), pytest.approx(0.2), 0.0, None]
    assert s.correct == [True, False, False, False]
    assert s.reason_counts()["outcome/no_answer"] == 1


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_shared_prefix_matches_full_batch_values_and_gradients(tiny_model_dir, attn):
    """Groups sharing a prompt: running the prompt once gives the same log-probs and the same gradients."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model.set_attn_implementation(attn)
    prompts = [[10, 11, 12, 13]] * 3 + [[20, 21]] * 2  # two groups, left-padded against each other
    comps = [[30, 31, 32], [33], [34, 35], [40, 41, 42, 43], []]
    batch = collate(prompts, comps, pad_id=0)
    temps = torch.tensor([1.0, 1.0, 1.0, 0.7, 0.7])
    grads = []
    for share in (False, True):
        model.zero_grad()
        lp, _ = completion_logprobs(model, batch, temps, share_prefix=share)
        (lp * batch.completion_mask).sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
        if share:
            assert torch.allclose(lp * batch.completion_mask, want, atol=1e-5)
        want = lp.detach() * batch.completion_mask
    assert torch.allclose(grads[0], grads[1], atol=1e-5, rtol=1e-4)


def test_procedural_rows_refuse_restated_arithmetic_in_training_and_eval():
    """The reward hack a 135M policy found ("The answer is $18 - 14$." for 4) scores 0 on procedural rows, through
    the real verifier, in both the trainer's scorer and the evaluation scorer; a computed answer still scores 1."""
    from data.sources.base import SourceSpec
    from data.sources.procedural import load_procedural
    from eval.scoring import Scorer as EvalScorer
    from pipeline.grpo.scoring import Scorer

    row = next(load_procedural(SourceSpec(kind="procedural", name="p", options={"task": "arithmetic", "n": 1,
                                                                                  "levels": [2]})))
    expr = row.problem.split("$")[1].replace("\\times", "*")
    texts = [f"The answer is ${expr}$.", f"${expr} = {row.gold}$. The answer is ${row.gold}$."]
    scorer = Scorer([RewardSpec(verifier="row"), RewardSpec(verifier="row", weight=0.05, signal="answered")],
                    workers=1)
    try:
        s = scorer.score([row, row], texts)
    finally:
        scorer.close()
    assert s.reasons["outcome"] == ["unevaluated", "ok"] and s.reward == [0.0, pytest.approx(1.05)]
    ev = EvalScorer(workers=0)
    assert [r.reason for r in ev.score_rows([(row, t) for t in texts])] == ["unevaluated", "ok"]
