"""HFEngine on a tiny random Llama: equals model.generate when greedy, honours seeds, EOS, stop strings, lengths.

Every behaviour test runs twice: through the native Llama-family forward (the default for this model) and
through the model's own forward (`native=False`, the path every other architecture takes)."""

import pytest
import torch

from pipeline.models import load_model_and_tokenizer
from pipeline.rollout.base import SamplingParams, make_engine
from pipeline.rollout.hf import HFEngine
from pipeline.grpo.batch import sequence_logprobs

PROMPTS = ["What is 12 + 7?", "Solve for x: 2x + 3 = 11.", "def add(a, b):", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15"]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    model, tok = load_model_and_tokenizer(str(tiny_model_dir))
    return model, tok


@pytest.fixture(params=[True, False], ids=["native", "model_forward"])
def native(request):
    return request.param


def _reference_greedy(model, tok, prompt: str, max_new: int) -> list[int]:
    enc = tok([prompt], return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(**enc, do_sample=False, max_new_tokens=max_new, eos_token_id=tok.eos_token_id,
                             pad_token_id=tok.pad_token_id)
    ids = out[0, enc.input_ids.shape[1]:].tolist()
    return ids[: ids.index(tok.eos_token_id) + 1] if tok.eos_token_id in ids else ids


def test_greedy_matches_model_generate_per_prompt(tiny, native):
    model, tok = tiny
    groups = HFEngine(model, tok, native=native).generate(PROMPTS, SamplingParams(n=2, temperature=0, max_new_tokens=12))
    assert len(groups) == len(PROMPTS) and all(len(g) == 2 for g in groups)
    for prompt, group in zip(PROMPTS, groups):
        ref = _reference_greedy(model, tok, prompt, 12)  # unpadded, one prompt at a time
        assert group[0].token_ids == ref
        assert group[1].token_ids == ref
        assert group[0].finish_reason == ("stop" if ref[-1] == tok.eos_token_id else "length")


def test_seed_reproducible_and_seed_sensitive(tiny, native):
    model, tok = tiny
    eng = make_engine("transformers", model, tok, native=native)
    p = SamplingParams(n=3, temperature=1.0, top_p=0.9, top_k=50, max_new_tokens=10, seed=7)
    a = [[c.token_ids for c in g] for g in eng.generate(PROMPTS, p)]
    b = [[c.token_ids for c in g] for g in eng.generate(PROMPTS, p)]
    p.seed = 8
    c = [[c.token_ids for c in g] for g in eng.generate(PROMPTS, p)]
    assert a == b
    assert a != c
    assert len({tuple(x) for x in a[0]}) > 1  # the group members differ


@pytest.mark.parametrize("max_batch_rows", [None, 2, 5], ids=["all", "rows2", "rows5"])
def test_batching_does_not_change_greedy_results(tiny, native, max_batch_rows):
    model, tok = tiny
    p = SamplingParams(n=2, temperature=0, max_new_tokens=8)
    base = [[c.token_ids for c in g] for g in HFEngine(model, tok, native=native).generate(PROMPTS, p)]
    got = [[c.token_ids for c in g] for g in HFEngine(model, tok, native=native, max_batch_rows=max_batch_rows).generate(PROMPTS, p)]
    assert got == base


def test_eos_stops_and_is_included(tiny, native):
    model, tok = tiny
    eng = HFEngine(model, tok, native=native)
    free = eng.generate(PROMPTS[:1], SamplingParams(temperature=0, max_new_tokens=10))[0][0]
    assert free.finish_reason == "length" and len(free.token_ids) == 10
    eng.eos_ids = [free.token_ids[3]]  # pretend the 4th greedy token is EOS
    first = free.token_ids.index(free.token_ids[3])
    got = eng.generate(PROMPTS[:1], SamplingParams(temperature=0, max_new_tokens=10))[0][0]
    assert got.token_ids == free.token_ids[: first + 1]
    assert got.finish_reason == "stop"


def test_stop_string_cuts_text_and_finishes(tiny, native):
    model, tok = tiny
    eng = HFEngine(model, tok, native=native)
    free = eng.generate(PROMPTS[3:], SamplingParams(temperature=0, max_new_tokens=16))[0][0]
    stop = free.text[len(free.text) // 2 : len(free.text) // 2 + 2]
    assert stop, f"greedy text too short to pick a stop string: {free.text!r}"
    got = eng.generate(PROMPTS[3:], SamplingParams(temperature=0, max_new_tokens=16, stop=[stop]))[0][0]
    assert got.finish_reason == "stop"
    assert stop not in got.text
    assert free.text.startswith(got.text)
    assert got.token_ids == free.token_ids[: len(got.token_ids)]
    assert stop in tok.decode(got.token_ids)


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_sampling_logprobs_match_teacher_forced_logprobs(tiny, native, temperature):
    """The engine reports log-probs of the distribution it sampled (temperature applied), the trainer's too."""
    model, tok = tiny
    eng = HFEngine(model, tok, native=native, return_logprobs=True)
    groups = eng.generate(PROMPTS, SamplingParams(n=2, temperature=temperature, max_new_tokens=9, seed=0))
    comps = [c for g in groups for c in g]
    prompt_ids = [p for p in eng.encode_prompts(PROMPTS) for _ in range(2)]
    with torch.no_grad():
        lp, mask = sequence_logprobs(model, prompt_ids, [c.token_ids for c in comps], pad_id=tok.pad_token_id,
                                     temperature=temperature)
    for i, c in enumerate(comps):
        assert len(c.logprobs) == len(c.token_ids) == int(mask[i].sum())
        torch.testing.assert_close(torch.tensor(c.logprobs), lp[i, : len(c.token_ids)], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("bad, field", [({"n": 0}, "n"), ({"temperature": -1.0}, "temperature"),
                                        ({"top_p": 0.0}, "top_p"), ({"top_k": -2}, "top_k"),
                                        ({"max_new_tokens": 0}, "max_new_tokens")],
                         ids=["n", "temperature", "top_p", "top_k", "max_new_tokens"])
def test_invalid_params_name_the_field(tiny, bad, field):
    model, tok = tiny
    with pytest.raises(ValueError, match=field):
        HFEngine(model, tok).generate(PROMPTS[:1], SamplingParams(**bad))


def test_bf16_copy_is_refreshed_from_the_source_model(tiny):
    model, tok = tiny
    eng = HFEngine(model, tok, dtype="bfloat16", native=False)
    assert eng.model is not model and next(eng.model.parameters()).dtype == torch.bfloat16
    p = SamplingParams(n=2, temperature=1.0, max_new_tokens=6, seed=3)
    first = [[c.token_ids for c in g] for g in eng.generate(PROMPTS, p)]
    assert first == [[c.token_ids for c in g] for g in eng.generate(PROMPTS, p)]
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        with torch.no_grad():
            for param in model.parameters():
                param.mul_(-1.5)
        eng.generate(PROMPTS[:1], SamplingParams(max_new_tokens=1))
        for (name, src), (_, cp) in zip(model.named_parameters(), eng.model.named_parameters()):
            assert torch.equal(cp, src.to(torch.bfloat16)), name
    finally:
        model.load_state_dict(saved)


def test_ignore_eos_samples_to_max_new_tokens(tiny, native):
    """Make each prompt's greedy first token an EOS: it stops there, unless ignore_eos (benchmarks' fixed lengths)."""
    model, tok = tiny
    eng = HFEngine(model, tok, native=native)
    first = {g[0].token_ids[0] for g in eng.generate(PROMPTS, SamplingParams(temperature=0, max_new_tokens=1))}
    eng.eos_ids = sorted(first)
    stopped = eng.generate(PROMPTS, SamplingParams(n=2, temperature=0, max_new_tokens=6))
    assert all(len(c.token_ids) == 1 and c.finish_reason == "stop" for g in stopped for c in g)
    full = eng.generate(PROMPTS, SamplingParams(n=2, temperature=0, max_new_tokens=6, ignore_eos=True))
    assert all(len(c.token_ids) == 6 and c.finish_reason == "length" for g in full for c in g)


def test_generate_takes_token_ids_as_given(tiny, native):
    """A caller that already encoded its prompts (the trainer) passes the ids: same samples, no second encode."""
    model, tok = tiny
    eng = HFEngine(model, tok, native=native)
    p = SamplingParams(n=2, temperature=1.0, max_new_tokens=6, seed=3)
    ids = eng.encode_prompts(PROMPTS)
    by_text = [[c.token_ids for c in g] for g in eng.generate(PROMPTS, p)]
    tok_calls = []
    real = type(tok).__call__
    try:
        type(tok).__call__ = lambda self, *a, **k: tok_calls.append(a) or real(self, *a, **k)
        by_ids = [[c.token_ids for c in g] for g in eng.generate(ids, p)]
    finally:
        type(tok).__call__ = real
    assert by_ids == by_text and tok_calls == []
    with pytest.raises(TypeError, match="all strings or all token-id lists"):
        eng.generate([PROMPTS[0], ids[1]], p)
