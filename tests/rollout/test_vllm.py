"""VLLMEngine on a GPU: same greedy tokens as HFEngine, seeds honoured, sync_weights takes effect.

Run with `pytest -m gpu tests/rollout/test_vllm.py` on a CUDA machine with vLLM installed.
The tiny model here has head_dim 64 (vLLM's attention kernels reject very small head sizes).
"""

import pytest

pytestmark = pytest.mark.gpu

PROMPTS = ["What is 12 + 7?", "Solve for x: 2x + 3 = 11.", "def add(a, b):"]


@pytest.fixture(scope="module")
def vllm_setup(tiny_model_dir, tmp_path_factory):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    pytest.importorskip("vllm", reason="vLLM is not installed (pip install -e .[vllm])")
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.padding_side = "left"
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                      tie_word_embeddings=True)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vllm_tiny") / "model"
    LlamaForCausalLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    model = LlamaForCausalLM.from_pretrained(path, dtype=torch.float32).cuda()
    from pipeline.rollout.base import make_engine

    engine = make_engine("vllm", model, tok, gpu_memory_utilization=0.2, max_model_len=256, enforce_eager=True)
    return model, tok, engine


def test_greedy_matches_hf_engine(vllm_setup):
    from pipeline.rollout.base import SamplingParams
    from pipeline.rollout.hf import HFEngine

    model, tok, engine = vllm_setup
    p = SamplingParams(n=2, temperature=0, max_new_tokens=8)
    got = engine.generate(PROMPTS, p)
    ref = HFEngine(model, tok).generate(PROMPTS, p)
    assert [[c.token_ids for c in g] for g in got] == [[c.token_ids for c in g] for g in ref]
    assert all(c.finish_reason in ("stop", "length") for g in got for c in g)


def test_seeded_sampling_is_reproducible(vllm_setup):
    from pipeline.rollout.base import SamplingParams

    _, _, engine = vllm_setup
    p = SamplingParams(n=3, temperature=1.0, top_p=0.9, max_new_tokens=8, seed=5)
    a = [[c.token_ids for c in g] for g in engine.generate(PROMPTS, p)]
    b = [[c.token_ids for c in g] for g in engine.generate(PROMPTS, p)]
    assert a == b
    assert len({tuple(x) for x in a[0]}) > 1


def test_sync_weights_changes_samples(vllm_setup):
    import torch

    from pipeline.rollout.base import SamplingParams
    from pipeline.rollout.hf import HFEngine

    model, tok, engine = vllm_setup
    p = SamplingParams(temperature=0, max_new_tokens=8)
    before = [g[0].token_ids for g in engine.generate(PROMPTS, p)]
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.5)
    engine.sync_weights(model)
    after = [g[0].token_ids for g in engine.generate(PROMPTS, p)]
    assert after != before
    assert after == [g[0].token_ids for g in HFEngine(model, tok).generate(PROMPTS, p)]
