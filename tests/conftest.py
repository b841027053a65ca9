import os
from pathlib import Path

import pytest

from pipeline.datadir import data_dir

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def benchmark_dir() -> Path:
    d = data_dir()
    if d is None:
        pytest.skip("local benchmark data not found: set RLVR_DATA_DIR or place it at ../shared/benchmarks")
    return d


CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def build_tiny_model(path: Path, seed: int = 0) -> Path:
    """A real (random-weight) 2-layer Llama with a real byte-level BPE tokenizer trained on the spot."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    corpus = [
        "What is 12 + 7? The answer is \\boxed{19}.",
        "<think> 3 * 4 = 12 </think> <answer> 12 </answer>",
        "Solve for x: 2x + 3 = 11. So x = 4. Final answer: \\boxed{4}",
        "def add(a, b):\n    return a + b\n",
    ] * 20 + [" ".join(str(i) for i in range(200))]
    tk = Tokenizer(models.BPE(unk_token=None))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tk.train_from_iterator(corpus, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                  bos_token="<|im_start|>")
    tok.chat_template = CHATML
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                      tie_word_embeddings=True)
    model = LlamaForCausalLM(cfg)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """Path of a tiny Hugging Face model directory (build once per test session)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny_model") / "model")


@pytest.fixture(scope="session")
def sandbox():
    """One shared Sandbox (2 slots); skips with the reason when the host cannot build the namespaces
    (bubblewrap missing: run scripts/setup_sandbox.sh)."""
    from rewards.sandbox import Sandbox, SandboxRefused

    try:
        sb = Sandbox(slots=2, allow_unsafe=False)
    except SandboxRefused as e:
        pytest.skip(f"sandbox unavailable on this host: {e}")
    yield sb
    sb.close()
