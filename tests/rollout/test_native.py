"""NativeDecoder against transformers: same logits (prefill and decode, left padding, GQA, qkv bias, q/k norm,
RoPE scaling), refreshed weights, bf16 pre-packed path close to transformers' bf16, unsupported models refused."""

import pytest
import torch
from transformers import (AutoModelForCausalLM, GPT2Config, LlamaConfig, MistralConfig, Qwen2Config,
                          Qwen3Config)

from pipeline.rollout.native import NativeDecoder, unsupported_reason

SMALL = dict(vocab_size=101, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=False)
FAMILIES = {
    "llama": lambda: LlamaConfig(**SMALL),
    "llama_rope_scaled_tied": lambda: LlamaConfig(**{**SMALL, "tie_word_embeddings": True}, rope_parameters={
        "rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0,
        "high_freq_factor": 4.0, "original_max_position_embeddings": 64}),
    "mistral_no_window": lambda: MistralConfig(**SMALL, sliding_window=None),
    "qwen2_qkv_bias": lambda: Qwen2Config(**SMALL),
    "qwen3_qk_norm": lambda: Qwen3Config(**SMALL, head_dim=16),
}
PROMPTS = [[5, 6, 7, 8, 9, 10, 11], [12, 13, 14], [20, 21, 22, 23, 24]]


def _model(make, dtype=torch.float32):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(make()).eval().to(dtype)
    with torch.no_grad():  # random biases (zero-initialised ones would not test the fused bias)
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.normal_(0, 0.2)
    return model


def _reference(model, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0, -1].float()  # (V,)


def _decode(dec, prompts, n, extra):
    """Prefill, then feed the tokens `extra` (one per step, the same for every row); logits after each step."""
    width = max(len(p) for p in prompts)
    cache, logits = dec.prefill(prompts, n, width + len(extra), pad_id=0)
    lens = torch.tensor([len(p) for p in prompts]).repeat_interleave(n)  # (B,)
    attn = torch.zeros((len(lens), width + len(extra)), dtype=torch.long)
    for r, ln in enumerate(lens.tolist()):
        attn[r, width - ln:] = 1
    out = [logits]
    for t, tok in enumerate(extra):
        tokens = torch.full((len(lens),), tok)
        out.append(dec.step(tokens, lens + t, attn[:, : width + t + 1], cache))
    return out


@pytest.mark.parametrize("family", list(FAMILIES), ids=list(FAMILIES))
def test_logits_equal_transformers_float32(family):
    model = _model(FAMILIES[family])
    dec, reason = NativeDecoder.build(model)
    assert reason is None
    dec.load(model)
    extra = [3, 4, 5]
    steps = _decode(dec, PROMPTS, 2, extra)
    for t, logits in enumerate(steps):
        for u, p in enumerate(PROMPTS):
            ref = _reference(model, p + extra[:t])
            for r in (u * 2, u * 2 + 1):
                torch.testing.assert_close(logits[r], ref, atol=2e-5, rtol=1e-4)


def test_bf16_close_to_transformers_bf16():
    model = _model(FAMILIES["llama"], torch.bfloat16)
    dec, _ = NativeDecoder.build(model, torch.bfloat16)
    dec.load(model)
    steps = _decode(dec, PROMPTS, 1, [3, 4])
    for t, logits in enumerate(steps):
        for u, p in enumerate(PROMPTS):
            ref = _reference(model, p + [3, 4][:t])
            assert (logits[u] - ref).abs().max() < 0.05 * ref.abs().max()
            assert logits[u].argmax() == ref.argmax()


def test_load_reads_the_current_weights():
    model = _model(FAMILIES["llama"])
    dec, _ = NativeDecoder.build(model)
    dec.load(model)
    before = dec.prefill(PROMPTS[:1], 1, 8, pad_id=0)[1]
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(-1.3)
    dec.load(model)
    after = dec.prefill(PROMPTS[:1], 1, 8, pad_id=0)[1]
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after[0], _reference(model, PROMPTS[0]), atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("make, why", [
    (lambda: GPT2Config(n_embd=32, n_layer=1, n_head=2, vocab_size=50), "model_type"),
    (lambda: MistralConfig(**SMALL, sliding_window=16), "sliding"),
    (lambda: Qwen2Config(**SMALL, use_sliding_window=True, sliding_window=16, max_window_layers=0), "sliding"),
], ids=["gpt2", "mistral_window", "qwen2_window"])
def test_unsupported_models_are_refused_with_a_reason(make, why):
    model = AutoModelForCausalLM.from_config(make())
    assert why in unsupported_reason(model)
    dec, reason = NativeDecoder.build(model)
    assert dec is None and why in reason


def test_an_optimizer_step_is_seen_by_load():
    model = _model(FAMILIES["llama"])
    dec, _ = NativeDecoder.build(model)
    dec.load(model)
    fused = dec.layers[0]["qkv"].weight
    opt = torch.optim.AdamW(model.parameters(), lr=0.1, fused=True)
    model(torch.tensor([PROMPTS[0]])).logits.sum().backward()
    opt.step()
    dec.load(model)  # (fused AdamW does not bump tensors' version counters: load must not rely on them)
    assert not torch.equal(dec.layers[0]["qkv"].weight, fused)
    torch.testing.assert_close(dec.prefill(PROMPTS[:1], 1, 8, pad_id=0)[1][0], _reference(model, PROMPTS[0]),
                               atol=2e-5, rtol=1e-4)
