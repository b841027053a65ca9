"""bf16_master: the compute copy is bf16 with float32 buffers, gradients land in float32 on the master and add up
across backward passes, sync refreshes the copy; a trainer run moves the master and the copy follows it."""

import pytest
import torch
from transformers import AutoModelForCausalLM

from pipeline.grpo.precision import Bf16Master, bf16_copy


def test_copy_is_bf16_with_float32_buffers(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    cp = bf16_copy(model)
    assert all(p.dtype == torch.bfloat16 for p in cp.parameters())
    for (name, b), (_, src) in zip(cp.named_buffers(), model.named_buffers()):
        assert b.dtype == src.dtype, name  # RoPE inverse frequencies stay float32
    assert all(p.dtype == torch.float32 for p in model.parameters())  # the master is untouched
    src = dict(model.named_parameters(remove_duplicate=False))
    for name, p in cp.named_parameters(remove_duplicate=False):
        assert torch.equal(p, src[name].detach().to(torch.bfloat16)), name
        assert p.untyped_storage().data_ptr() != src[name].untyped_storage().data_ptr(), name  # its own storage
    if model.config.tie_word_embeddings:  # tied weights stay one parameter in the copy
        assert cp.get_output_embeddings().weight is cp.get_input_embeddings().weight


def test_gradients_accumulate_in_float32_and_sync_refreshes(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    mp = Bf16Master(model)
    ids = torch.tensor([[5, 6, 7, 8]])
    grads = []
    for _ in range(2):
        mp.compute(input_ids=ids).logits.float().sum().backward()
        grads.append({n: p.grad.float().clone() for n, p in mp.compute.named_parameters() if p.grad is not None})
        mp.accumulate_grads()
        assert all(p.grad is None for p in mp.compute.parameters())
    for name, p in model.named_parameters():
        assert p.grad.dtype == torch.float32
        torch.testing.assert_close(p.grad, grads[0][name] + grads[1][name])
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5)
    mp.sync()
    for (name, pm), (_, pc) in zip(model.named_parameters(), mp.compute.named_parameters()):
        assert torch.equal(pc, pm.to(torch.bfloat16)), name


def test_trainer_updates_the_master_and_the_copy_follows(tiny_model_dir, tmp_path):
    from data.curriculum import Curriculum, CurriculumConfig
    from data.schema import Row
    from pipeline.grpo.config import RewardSpec, TrainConfig
    from pipeline.grpo.trainer import GRPOTrainer
    from pipeline.models import load_model_and_tokenizer

    model, tok = load_model_and_tokenizer(str(tiny_model_dir))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    cfg = TrainConfig(model=str(tiny_model_dir), prompts_per_step=2, group_size=4, max_new_tokens=8, lr=1e-2,
                      total_steps=1, checkpoint_every=0, samples_every=0, verifier_workers=1, temperature=1.0,
                      rewards=[RewardSpec(verifier="toy_parity")], reward_plugins=["tests.grpo.toy_rewards"],
                      mixed_precision="bf16_master", advantage="drgrpo", dynamic_sampling=False, seed=0)
    cfg.validate()
    rows = [Row(id=f"r{i}", problem=f"What is {i} + {i}?", verifier="math", gold=str(2 * i), source="t") for i in range(2)]
    trainer = GRPOTrainer(cfg, model, tok, Curriculum.from_dataset(rows, CurriculumConfig(bucket_by="none")), tmp_path)
    assert trainer.engine.native is not None  # the tiny Llama samples through the native path
    metrics = trainer.train_step(1)
    trainer.scorer.close()
    assert metrics["active_frac"] > 0  # the toy reward varied within a group, so there was a gradient
    assert all(p.dtype == torch.float32 for p in model.parameters())
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    assert len(changed) > len(before) // 2, "master weights did not move"
    for (name, pm), (_, pc) in zip(model.named_parameters(), trainer.mp.compute.named_parameters()):
        assert torch.equal(pc, pm.to(torch.bfloat16)), name


@pytest.mark.parametrize("mode, native, launched, want, warns", [
    ("auto", True, False, "bf16_master", False),
    ("auto", True, True, "bf16", False),          # bf16_master is single-process only
    ("auto", False, False, "no", False),          # emulated bf16: float32 instead
    ("bf16_master", False, False, "bf16_master", True),  # an explicit choice is kept, with a warning
    ("bf16", False, True, "bf16", True),
    ("no", False, False, "no", False),
    ("bf16_master", True, False, "bf16_master", False),
], ids=["auto-native", "auto-native-launched", "auto-emulated", "explicit-emulated", "bf16-emulated", "no",
        "explicit-native"])
def test_resolve_precision(monkeypatch, mode, native, launched, want, warns):
    from pipeline.grpo import precision

    monkeypatch.setattr(precision, "native_bf16", lambda device="cpu": native)
    got, warning = precision.resolve_precision(mode, "cpu", launched)
    assert got == want and (warning is not None) == warns
    if warns:
        assert "auto" in warning and mode in warning


def test_native_bf16_reads_the_cpu_flags(monkeypatch):
    from pipeline.grpo import precision

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert precision.native_bf16("cpu") is False
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert precision.native_bf16("cpu") is True
