"""Pure sampling filters (vLLM semantics) and sequence_logprobs against a per-sequence unpadded reference."""

import math

import pytest
import torch

from pipeline.models import load_model_and_tokenizer
from pipeline.rollout.base import SamplingParams
from pipeline.grpo.batch import pack_batch, sequence_logprobs, sequence_logprobs_and_entropy
from pipeline.rollout.sampling import filter_logits, make_generator, sample_next

LOGITS = torch.log(torch.tensor([[0.5, 0.25, 0.15, 0.10]]))
INF = float("-inf")


@pytest.mark.parametrize("top_k, top_p, kept", [
    (0, 1.0, [True, True, True, True]),
    (2, 1.0, [True, True, False, False]),
    (0, 0.5, [True, False, False, False]),  # 0.5 mass reached by the first token alone
    (0, 0.7, [True, True, False, False]),
    (0, 0.76, [True, True, True, False]),
    (3, 0.95, [True, True, True, False]),
    (0, 0.01, [True, False, False, False]),  # always keeps the most likely token
], ids=["none", "k2", "p0.5", "p0.7", "p0.76", "k3p0.95", "p-tiny"])
def test_filter_logits_keeps_expected_tokens(top_k, top_p, kept):
    out = filter_logits(LOGITS.clone(), top_k, top_p)
    assert (out[0] != INF).tolist() == kept


def test_sample_next_frequencies_follow_distribution():
    logits = LOGITS.repeat(20000, 1)
    toks = sample_next(logits, SamplingParams(temperature=1.0), make_generator(0))
    freq = torch.bincount(toks, minlength=4).float() / toks.numel()
    torch.testing.assert_close(freq, torch.tensor([0.5, 0.25, 0.15, 0.10]), atol=0.015, rtol=0)


def test_temperature_sharpens_and_greedy_is_argmax():
    logits = LOGITS.repeat(5000, 1)
    cold = sample_next(logits, SamplingParams(temperature=0.25), make_generator(1))
    assert (cold == 0).float().mean() > 0.9
    assert sample_next(LOGITS, SamplingParams(temperature=0), None).tolist() == [0]


def test_pack_batch_layout():
    ids, attn, cmask, width = pack_batch([[5, 6], [7]], [[1, 2, 3], [4]], pad_id=0)
    assert width == 2
    assert ids.tolist() == [[5, 6, 1, 2, 3], [0, 7, 4, 0, 0]]
    assert attn.tolist() == [[1, 1, 1, 1, 1], [0, 1, 1, 0, 0]]
    assert cmask.tolist() == [[1, 1, 1], [1, 0, 0]]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return load_model_and_tokenizer(str(tiny_model_dir))


def _reference(model, prompt, completion, temperature):
    ids = torch.tensor([prompt + completion])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].float() / temperature  # (L, V)
    logp = torch.log_softmax(logits, -1)
    pos = torch.arange(len(prompt) - 1, len(prompt) + len(completion) - 1)
    return logp[pos, torch.tensor(completion)], -(logp.exp() * logp).sum(-1)[pos]


@pytest.mark.parametrize("chunk_size, temperature", [(64, 1.0), (2, 1.0), (3, 0.7)], ids=["one-chunk", "chunk2", "T0.7"])
def test_sequence_logprobs_equal_unpadded_reference(tiny, chunk_size, temperature):
    model, tok = tiny
    prompts = [tok.encode("What is 12 + 7?"), tok.encode("def add"), tok.encode("1 2 3 4 5 6 7 8 9")]
    comps = [tok.encode(" The answer is 19."), tok.encode("(a, b):"), []]
    with torch.no_grad():
        lp, mask, ent = sequence_logprobs_and_entropy(model, prompts, comps, pad_id=tok.pad_token_id,
                                                      temperature=temperature, chunk_size=chunk_size)
    assert lp.shape == mask.shape == (3, max(len(c) for c in comps))
    for i, (p, c) in enumerate(zip(prompts, comps)):
        assert int(mask[i].sum()) == len(c)
        assert torch.all(lp[i, len(c):] == 0)
        if c:
            ref_lp, ref_ent = _reference(model, p, c, temperature)
            torch.testing.assert_close(lp[i, : len(c)], ref_lp, atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(ent[i, : len(c)], ref_ent, atol=1e-4, rtol=1e-4)
    assert (lp[mask.bool()] < 0).all() and math.isfinite(float(lp.sum()))


def test_sequence_logprobs_gradient_matches_unchunked(tiny):
    model, tok = tiny
    prompts = [tok.encode("What is 12 + 7?"), tok.encode("def add")]
    comps = [tok.encode(" The answer is 19."), tok.encode("(a, b):")]
    grads = []
    for chunk in (2, 1000):
        model.zero_grad()
        lp, mask = sequence_logprobs(model, prompts, comps, pad_id=tok.pad_token_id, chunk_size=chunk)
        ((lp * mask).sum() / mask.sum()).backward()
        grads.append(model.get_output_embeddings().weight.grad.clone())
    model.zero_grad()
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[0], grads[1], atol=1e-5, rtol=1e-4)
