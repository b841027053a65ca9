"""Memory-lean update forward (pipeline/grpo/lean_layers.py) against the model's own modules: the same log-probs
and the same gradients (float32 to 1e-5, bf16 to its rounding) on tiny random models of every supported family,
with left padding, GQA and a shared prompt prefix; the swap is undone after; unsupported models are left alone;
and the activations it keeps are fewer (autograd's saved tensors counted)."""

import contextlib
import functools

import pytest
import torch
from transformers import AutoModelForCausalLM, GPT2Config

from pipeline.grpo.batch import collate, completion_logprobs
from pipeline.grpo.lean_layers import ATTN_NAME, lean_forward
from tests.rollout.test_native import FAMILIES

PROMPTS = [[5, 6, 7, 8, 9, 10, 11], [5, 6, 7, 8, 9, 10, 11], [12, 13, 14], [12, 13, 14]]
COMPLETIONS = [[30, 31, 32, 33], [40, 41], [50, 51, 52, 53, 54, 55], [60]]


def _model(make, dtype):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(make(), attn_implementation="eager").to(dtype)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias") or "norm" in name:
                p.normal_(1.0 if "norm" in name else 0.0, 0.2)  # norms and biases not at their init values
    return model.train()


def _loss_and_grads(model, share_prefix: bool, forward_ctx=contextlib.nullcontext):
    batch = collate(PROMPTS, COMPLETIONS, pad_id=0)
    model.zero_grad(set_to_none=True)
    with forward_ctx():  # (the trainer runs only the forward under autocast; backward outside it)
        logp, ent = completion_logprobs(model, batch, torch.tensor([1.0, 0.7, 1.0, 1.3]), with_entropy=True,
                                        share_prefix=share_prefix, entropy_grad=True)  # (B, T)
    m = batch.completion_mask
    loss = -(logp * m).sum() / m.sum() - 0.1 * (ent * m).sum() / m.sum()
    loss.backward()
    return logp.detach() * m, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("share_prefix", [False, True], ids=["rows", "shared_prefix"])
@pytest.mark.parametrize("family", list(FAMILIES), ids=list(FAMILIES))
def test_same_logprobs_and_gradients_float32(family, share_prefix):
    model = _model(FAMILIES[family], torch.float32)
    lp_ref, g_ref = _loss_and_grads(model, share_prefix)
    with lean_forward(model) as on:
        assert on and model.config._attn_implementation == ATTN_NAME
        lp, g = _loss_and_grads(model, share_prefix)
    torch.testing.assert_close(lp, lp_ref, atol=1e-5, rtol=1e-5)
    assert g.keys() == g_ref.keys()
    for name in g_ref:
        torch.testing.assert_close(g[name], g_ref[name], atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize("family", ["llama", "qwen3_qk_norm"])
def test_bf16_within_rounding(family):
    model = _model(FAMILIES[family], torch.bfloat16)
    lp_ref, g_ref = _loss_and_grads(model, share_prefix=True)
    with lean_forward(model):
        lp, g = _loss_and_grads(model, share_prefix=True)
    torch.testing.assert_close(lp, lp_ref, atol=0, rtol=0)  # the forward is the model's arithmetic, op for op
    for name in g_ref:
        rel = (g[name].float() - g_ref[name].float()).norm() / g_ref[name].float().norm().clamp(min=1e-12)
        assert rel < 0.02, (name, float(rel))


def test_under_autocast_within_rounding():
    """mixed_precision: bf16 (autocast over float32 weights): the backward runs outside autocast, on bf16 saved
    tensors and float32 weights."""
    model = _model(FAMILIES["llama"], torch.float32)
    autocast = functools.partial(torch.autocast, "cpu", dtype=torch.bfloat16)
    lp_ref, g_ref = _loss_and_grads(model, share_prefix=True, forward_ctx=autocast)
    with lean_forward(model):
        lp, g = _loss_and_grads(model, share_prefix=True, forward_ctx=autocast)
    torch.testing.assert_close(lp, lp_ref, atol=0, rtol=0)
    for name in g_ref:
        assert g[name].dtype == torch.float32
        rel = (g[name] - g_ref[name]).norm() / g_ref[name].norm().clamp(min=1e-12)
        assert rel < 0.02, (name, float(rel))


def test_the_swap_is_undone():
    model = _model(FAMILIES["llama"], torch.float32)
    layer = model.model.layers[0]
    with lean_forward(model):
        assert "forward" in vars(layer.mlp) and "forward" in vars(layer.input_layernorm)
    assert "forward" not in vars(layer.mlp) and "forward" not in vars(layer.input_layernorm)
    assert model.config._attn_implementation == "eager"


def test_unsupported_models_are_left_alone():
    model = AutoModelForCausalLM.from_config(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=50))
    with lean_forward(model) as on:
        assert on is False
        assert model.config._attn_implementation != ATTN_NAME


def _saved_bytes(model) -> int:
    """Bytes of the distinct storages autograd keeps for backward during one forward."""
    seen: dict[int, int] = {}

    def pack(t):
        if t.requires_grad and t.grad_fn is None and t.is_leaf:  # parameters are not activations
            return t
        s = t.untyped_storage()
        seen[s.data_ptr()] = s.nbytes()
        return t

    batch = collate(PROMPTS * 4, COMPLETIONS * 4, pad_id=0)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        completion_logprobs(model, batch, 1.0, share_prefix=True)
    return sum(seen.values())


def test_fewer_activation_bytes():
    model = _model(FAMILIES["llama"], torch.bfloat16)
    full = _saved_bytes(model)
    with lean_forward(model):
        lean = _saved_bytes(model)
    assert lean < 0.6 * full, (lean, full)


@pytest.mark.parametrize("lean", [True, False], ids=["lean_update", "lean_off"])
def test_the_trainer_updates_through_the_lean_path_with_the_same_result(tiny_model_dir, tmp_path, lean):
    """One GRPO step on the tiny model (float32): the lean path is in place during the update only (eager attention
    when off), and the updated weights equal those of the model's own modules."""
    from tests.grpo.test_trainer_behaviour import FakeScorer, by_member, make_trainer

    table = [[1, 0, 0, 1], [0, 1, 1, 0]]  # every group has a reward spread: all rows train
    seen = []

    def run(lean_update, sub):
        trainer = make_trainer(tiny_model_dir, tmp_path / sub, FakeScorer(by_member(table)), total_steps=1,
                               lean_update=lean_update)
        model = trainer.backend.policy()
        inner = trainer.update._optimizer_step

        def spy(*a, **k):
            seen.append((lean_update, model.config._attn_implementation,
                         "forward" in vars(model.model.layers[0].mlp)))
            return inner(*a, **k)

        trainer.update._optimizer_step = spy
        before = model.config._attn_implementation
        start = {n: p.detach().clone() for n, p in trainer.backend.master().named_parameters()}
        trainer.train_step(1)
        assert model.config._attn_implementation == before and "forward" not in vars(model.model.layers[0].mlp)
        after = {n: p.detach().clone() for n, p in trainer.backend.master().named_parameters()}
        assert sum(not torch.equal(after[n], start[n]) for n in after) > 10  # the step did train
        return after

    got, ref = run(lean, "a"), run(not lean, "b")
    assert [s[0] for s in seen] == [lean, not lean]
    assert seen[0] == (lean, ATTN_NAME if lean else "eager", lean)
    for n in got:
        torch.testing.assert_close(got[n], ref[n], atol=2e-6, rtol=1e-5, msg=n)


def test_lean_attention_alone_and_refused_where_unsupported(tiny_model_dir, tmp_path, monkeypatch):
    """update_attention: lean with lean_update off swaps the attention only; where the lean path does not apply
    (here: told so) asking for it is a config error and auto falls back to eager."""
    from pipeline.config import ConfigError
    from pipeline.grpo import update as update_mod
    from tests.grpo.test_trainer_behaviour import FakeScorer, by_member, make_trainer

    scorer = FakeScorer(by_member([[1, 0, 0, 1], [0, 1, 1, 0]]))
    trainer = make_trainer(tiny_model_dir, tmp_path / "a", scorer, lean_update=False, update_attention="lean")
    model = trainer.backend.policy()
    with trainer.update.attention():
        assert model.config._attn_implementation == ATTN_NAME and "forward" not in vars(model.model.layers[0].mlp)
    monkeypatch.setattr(update_mod, "lean_unsupported", lambda m: "a wrapped model")
    with pytest.raises(ConfigError, match="lean is not available here: a wrapped model"):
        with trainer.update.attention():
            pass
    trainer = make_trainer(tiny_model_dir, tmp_path / "b", scorer)
    with trainer.update.attention():
        assert trainer.backend.policy().config._attn_implementation == "eager"
        assert "forward" not in vars(trainer.backend.policy().model.layers[0].mlp)


def test_a_backend_that_gathers_weights_in_hooks_keeps_the_models_modules(tiny_model_dir, tmp_path, monkeypatch):
    """The DeepSpeed/accelerate backend says the lean modules cannot run under it (ZeRO-3's hooks); the update then
    keeps the model's own modules, and asking for lean attention there is a config error naming why."""
    from pipeline.config import ConfigError
    from pipeline.grpo.backend import AccelerateBackend
    from tests.grpo.test_trainer_behaviour import FakeScorer, by_member, make_trainer

    assert AccelerateBackend.lean_unsupported and "ZeRO-3" in AccelerateBackend.lean_unsupported
    trainer = make_trainer(tiny_model_dir, tmp_path / "a", FakeScorer(by_member([[1, 0, 0, 1], [0, 1, 1, 0]])))
    monkeypatch.setattr(trainer.backend, "lean_unsupported", AccelerateBackend.lean_unsupported)
    with trainer.update.attention():
        assert "forward" not in vars(trainer.backend.policy().model.layers[0].mlp)
    trainer.update.cfg.update_attention = "lean"
    with pytest.raises(ConfigError, match="lean is not available here: DeepSpeed/accelerate"):
        with trainer.update.attention():
            pass
