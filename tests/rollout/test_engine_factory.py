"""Engine factory and the vLLM engine's CPU-safe parts (vLLM itself is only exercised by test_vllm.py on a GPU)."""

import importlib.util
import sys

import pytest

from pipeline.rollout.base import make_engine


def test_unknown_engine_is_named():
    with pytest.raises(ValueError, match="unknown rollout engine 'vlm'"):
        make_engine("vlm", None, None)


def test_vllm_module_imports_without_vllm():
    import pipeline.rollout.vllm_engine  # noqa: F401

    assert "vllm" not in sys.modules or importlib.util.find_spec("vllm") is not None


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_vllm_engine_without_vllm_says_how_to_install():
    with pytest.raises(ImportError, match=r"pip install -e \.\[vllm\]"):
        make_engine("vllm", None, None)


class _Param:
    def __init__(self, tag):
        self.data = tag


class _FakePeft:
    def named_parameters(self):
        names = ["base_model.model.model.layers.0.self_attn.q_proj.base_layer.weight",
                 "base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight",
                 "base_model.model.model.layers.0.self_attn.q_proj.lora_B.default.weight",
                 "base_model.model.lm_head.original_module.weight",
                 "base_model.model.lm_head.modules_to_save.default.weight",
                 "base_model.model.model.norm.weight"]
        return [(n, _Param(n)) for n in names]


def test_peft_names_map_back_to_the_base_checkpoint():
    from pipeline.rollout.vllm_engine import _named_weights

    got = [name for name, _ in _named_weights(_FakePeft(), is_peft=True)]
    assert got == ["model.layers.0.self_attn.q_proj.weight", "lm_head.weight", "model.norm.weight"]
