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
