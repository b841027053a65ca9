"""Packing and completion log-probs: a padded batch gives the same log-probs as each sequence alone."""

import pytest
import torch

from pipeline.grpo.batch import collate, completion_logprobs


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
