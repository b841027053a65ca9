"""A lean forward pass for Llama-family decoders: the transformers engine's fast path for sampling.

Input: a transformers causal LM of a supported family (Llama, Mistral without a sliding window, Qwen2,
Qwen3) and a compute dtype. Output: `NativeDecoder`, which prefills prompts into a `BufferCache` and returns
next-token logits for one new token per row, reading the model's own weights (refreshed by `load` before
every generate call, so samples always come from the current policy).

Why: at rollout batch sizes (tens of rows, one token each) a decode step is a few hundred small matmuls,
and on a CPU the framework around them costs as much as the arithmetic. transformers' forward adds mask
building, cache bookkeeping, per-projection dispatch and an SDPA kernel that is slow for one query token.
Here each layer is six matmuls (q/k/v and gate/up fused into one weight each), the attention is two
batched matmuls per layer with one additive mask built once per step, and on CPUs whose oneDNN supports it
the bf16 weights are pre-packed into its blocked layout once per call (`torch.ops.mkldnn`), which skips the
per-call weight reorder that dominates small-batch bf16 matmuls. The arithmetic is the model's: RMSNorm in
float32, rotary embeddings from the model's own rotary module (so every RoPE scaling type is the model's),
softmax in float32, as transformers' eager attention does.

Anything this module does not recognise (another architecture, a sliding window, biases where the family
has none, soft-capping, a wrapped or quantised model) makes `NativeDecoder.build` return None with the
reason, and the engine uses the model's own forward. Tests compare logits and greedy samples against
transformers on tiny random models of every supported family.

    dec = NativeDecoder.build(model, torch.bfloat16)[0]
    dec.load(model)                                    # fuse (and pack) the current weights
    cache, logits = dec.prefill(prompt_ids, n=4, capacity=P + max_new, pad_id=0)
    dec.release()                                      # after sampling: the fused weights are freed
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pipeline.rollout.kvcache import BufferCache, BufferLayer

SUPPORTED = ("llama", "mistral", "qwen2", "qwen3")
NEG = -1e30  # additive mask value: finite, so a fully masked (padding) query row gives no NaN


class _Linear:
    """y = x W^T (+ b) with W optionally pre-packed for oneDNN (bf16 on CPU)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, pack: bool, batch_hint: int):
        self.weight, self.bias, self.packed = weight, bias, None
        if pack:  # the packed layout replaces the plain one (not both held: +0.2 GB for a 135M model)
            self.packed, self.weight = torch.ops.mkldnn._reorder_linear_weight(weight, batch_hint), None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed is not None:
            return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")
        return F.linear(x, self.weight, self.bias)


def _can_pack(dtype: torch.dtype, device: torch.device) -> bool:
    """oneDNN weight pre-packing: bf16 on CPU, and only if this build has the ops and they agree with F.linear."""
    if device.type != "cpu" or dtype != torch.bfloat16 or not torch.backends.mkldnn.is_available():
        return False
    try:
        w, x = torch.randn(48, 32, dtype=dtype), torch.randn(5, 32, dtype=dtype)
        got = _Linear(w, None, True, 8)(x)
        return bool(torch.allclose(got.float(), F.linear(x, w).float(), atol=1e-2, rtol=1e-2))
    except (RuntimeError, AttributeError):
        return False


def unsupported_reason(model) -> str | None:
    """Why `model` cannot use the native path (None: it can)."""
    cfg = getattr(model, "config", None)
    kind = getattr(cfg, "model_type", None)
    if kind not in SUPPORTED:
        return f"model_type {kind!r} is not one of {SUPPORTED}"
    inner = getattr(model, "model", None)
    if inner is None or not hasattr(inner, "layers") or not hasattr(model, "lm_head"):
        return "not a plain *ForCausalLM (wrapped, e.g. by peft?)"
    if getattr(cfg, "hidden_act", "silu") != "silu" or getattr(cfg, "mlp_bias", False):
        return "MLP is not bias-free SiLU-gated"
    if getattr(cfg, "pretraining_tp", 1) != 1:
        return "pretraining_tp != 1"
    if any(t != "full_attention" for t in (getattr(cfg, "layer_types", None) or [])):
        return "sliding-window attention layers"
    if kind == "mistral" and getattr(cfg, "sliding_window", None):
        return "sliding-window attention"
    if getattr(cfg, "final_logit_softcapping", None) or getattr(cfg, "attn_logit_softcapping", None):
        return "logit soft-capping"
    attn = inner.layers[0].self_attn
    if getattr(attn.o_proj, "bias", None) is not None:
        return "o_proj has a bias"
    if any(type(m).__name__ != "Linear" for m in (attn.q_proj, attn.k_proj, attn.v_proj, attn.o_proj)):
        return "projections are not plain nn.Linear (quantised or adapted)"
    if getattr(model.lm_head, "bias", None) is not None:
        return "lm_head has a bias"
    return None


class NativeDecoder:
    """Prefill and one-token decode over a `BufferCache` with fused (and, on CPU bf16, pre-packed) weights."""

    def __init__(self, model, dtype: torch.dtype):
        cfg = model.config
        self.dtype = dtype
        self.device = next(model.parameters()).device
        self.n_layers = cfg.num_hidden_layers
        self.n_q = cfg.num_attention_heads
        self.n_kv = getattr(cfg, "num_key_value_heads", None) or self.n_q
        attn = model.model.layers[0].self_attn
        self.head_dim = getattr(attn, "head_dim", None) or cfg.hidden_size // self.n_q
        self.scaling = getattr(attn, "scaling", self.head_dim ** -0.5)
        self.qk_norm = hasattr(attn, "q_norm")
        self.pack = _can_pack(dtype, self.device)
        self.rotary = model.model.rotary_emb
        self.layers: list[dict] = []

    @classmethod
    def build(cls, model, dtype: torch.dtype | None = None) -> tuple["NativeDecoder | None", str | None]:
        """(decoder, None), or (None, reason) when the model is not supported."""
        reason = unsupported_reason(model)
        if reason is not None:
            return None, reason
        return cls(model, dtype or next(model.parameters()).dtype), None

    @torch.no_grad()
    def load(self, model, batch_hint: int = 32) -> None:
        """Fuse (and pack) `model`'s current weights, cast to the compute dtype."""
        dt = self.dtype

        def cast(t):
            return None if t is None else t.detach().to(dt)

        def eps(norm):
            return getattr(norm, "variance_epsilon", getattr(norm, "eps", 1e-6))

        self.layers = []
        for layer in model.model.layers:
            a, m = layer.self_attn, layer.mlp
            qkv_w = torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]).to(dt)
            biases = [p.bias for p in (a.q_proj, a.k_proj, a.v_proj)]
            qkv_b = None if all(b is None for b in biases) else torch.cat(
                [b if b is not None else torch.zeros(p.out_features, device=self.device)
                 for b, p in zip(biases, (a.q_proj, a.k_proj, a.v_proj))]).to(dt)
            entry = {
                "in_norm": (cast(layer.input_layernorm.weight), eps(layer.input_layernorm)),
                "post_norm": (cast(layer.post_attention_layernorm.weight), eps(layer.post_attention_layernorm)),
                "qkv": _Linear(qkv_w, qkv_b, self.pack, batch_hint),
                "o": _Linear(cast(a.o_proj.weight), None, self.pack, batch_hint),
                "gate_up": _Linear(torch.cat([m.gate_proj.weight, m.up_proj.weight]).to(dt), None, self.pack, batch_hint),
                "down": _Linear(cast(m.down_proj.weight), None, self.pack, batch_hint),
            }
            if self.qk_norm:
                entry["q_norm"] = (cast(a.q_norm.weight), eps(a.q_norm))
                entry["k_norm"] = (cast(a.k_norm.weight), eps(a.k_norm))
            self.layers.append(entry)
        self.embed = cast(model.model.embed_tokens.weight)  # (V, H)
        self.final_norm = (cast(model.model.norm.weight), eps(model.model.norm))
        self.head = _Linear(cast(model.lm_head.weight), None, self.pack, batch_hint)

    def release(self) -> None:
        """Drop the fused (and packed) weights between generate calls: `load` rebuilds them from the current
        policy anyway, and kept they sat beside the update's activations (0.4 GB for a 135M model)."""
        self.layers, self.embed, self.final_norm, self.head = [], None, None, None

    # -- the forward pass ---------------------------------------------------------------------------

    @staticmethod
    def _rms(x: torch.Tensor, norm: tuple[torch.Tensor, float]) -> torch.Tensor:
        w, eps = norm
        xf = x.float()
        return w * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)

    @staticmethod
    def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        # x (B, heads, L, D); cos, sin (B, 1, L, D)
        half = x.shape[-1] // 2
        rot = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
        return x * cos + rot * sin

    def _hidden(self, ids: torch.Tensor, pos: torch.Tensor, layers: list[BufferLayer], start: int,
                bias: torch.Tensor) -> torch.Tensor:
        """Run new tokens through the decoder, appending their K/V to `layers` (each filled up to `start`).

        ids, pos: (B, L) token ids and positions; bias: (B, 1, L, S) additive attention mask over the
        S = start + L cached columns. Returns the final-norm hidden states (B, L, H)."""
        B, L = ids.shape
        S = start + L
        hq, hk, D = self.n_q, self.n_kv, self.head_dim
        g = hq // hk
        h = self.embed[ids]  # (B, L, H)
        cos, sin = self.rotary(h, pos)  # (B, L, D) each
        cos, sin = cos[:, None], sin[:, None]  # (B, 1, L, D)
        for w, cache in zip(self.layers, layers):
            qkv = w["qkv"](self._rms(h, w["in_norm"])).view(B, L, hq + 2 * hk, D)  # (B, L, hq + 2 hk, D)
            if self.qk_norm:
                q, k = self._rms(qkv[:, :, :hq], w["q_norm"]), self._rms(qkv[:, :, hq:hq + hk], w["k_norm"])
                qk = self._rope(torch.cat([q, k], dim=2).transpose(1, 2), cos, sin)  # (B, hq + hk, L, D)
            else:
                qk = self._rope(qkv[:, :, :hq + hk].transpose(1, 2), cos, sin)  # (B, hq + hk, L, D)
            q, k, v = qk[:, :hq], qk[:, hq:], qkv[:, :, hq + hk:]  # (B, hq, L, D), (B, hk, L, D), (B, L, hk, D)
            # append at column `start` (the cache is float32: small batched matmuls are faster than in bf16)
            keys, values = cache.update(k, v.transpose(1, 2))  # (B, hk, S, D) each
            qg = q.reshape(B, hk, g * L, D).float() * self.scaling  # query heads grouped by their KV head
            scores = torch.matmul(qg, keys.transpose(-1, -2))  # (B, hk, g L, S)
            scores = scores.view(B, hk, g, L, S) + bias[:, :, None]  # bias (B, 1, 1, L, S)
            probs = torch.softmax(scores, dim=-1).view(B, hk, g * L, S)
            o = torch.matmul(probs, values).view(B, hq, L, D).transpose(1, 2).reshape(B, L, hq * D)
            h = h + w["o"](o.to(self.dtype))
            x = w["gate_up"](self._rms(h, w["post_norm"]))  # (B, L, 2 F)
            gate, up = x.chunk(2, dim=-1)
            h = h + w["down"](F.silu(gate) * up)
        return self._rms(h, self.final_norm)

    # -- what the engine calls ----------------------------------------------------------------------

    @torch.inference_mode()
    def prefill(self, prompt_ids: list[list[int]], n: int, capacity: int, pad_id: int,
                chunk_tokens: int = 4096) -> tuple[BufferCache, torch.Tensor]:
        """Prefill each prompt once and lay it out `n` times (rows u*n .. u*n+n-1), left-padded to the longest.

        Returns the cache (B = len(prompt_ids) * n rows, `capacity` columns) and next-token logits (B, V) float32."""
        U, width, dev = len(prompt_ids), max(len(p) for p in prompt_ids), self.device
        buf = [(torch.zeros((U * n, self.n_kv, capacity, self.head_dim), device=dev),
                torch.zeros((U * n, self.n_kv, capacity, self.head_dim), device=dev))
               for _ in range(self.n_layers)]
        logits = []
        rows_per_chunk = max(1, chunk_tokens // width)
        for s in range(0, U, rows_per_chunk):
            chunk = prompt_ids[s : s + rows_per_chunk]
            ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.bool)
            for r, p in enumerate(chunk):
                ids[r, width - len(p):] = torch.tensor(p)
                mask[r, width - len(p):] = True
            pos = (mask.long().cumsum(-1) - 1).clamp(min=0)
            causal = torch.ones((width, width), dtype=torch.bool).tril()
            allowed = causal[None] & mask[:, None, :]  # (b, L, L)
            bias = torch.zeros(allowed.shape).masked_fill_(~allowed, NEG)[:, None].to(dev)  # (b, 1, L, L)
            tmp = [BufferLayer(*(t.new_zeros((len(chunk), self.n_kv, width, self.head_dim)) for t in kv), 0)
                   for kv in buf]
            h = self._hidden(ids.to(dev), pos.to(dev), tmp, 0, bias)[:, -1]  # (b, H)
            logits.append(self.head(h).float())
            rows = torch.arange(s * n, (s + len(chunk)) * n, device=dev)
            src = torch.arange(len(chunk), device=dev).repeat_interleave(n)
            for (kb, vb), t in zip(buf, tmp):
                kb[rows, :, :width] = t.keys[src]
                vb[rows, :, :width] = t.values[src]
        cache = BufferCache([BufferLayer(kb, vb, width) for kb, vb in buf])
        return cache, torch.cat(logits).repeat_interleave(n, dim=0)

    @torch.inference_mode()
    def step(self, tokens: torch.Tensor, positions: torch.Tensor, attn: torch.Tensor,
             cache: BufferCache) -> torch.Tensor:
        """One new token per row. tokens, positions: (B,); attn: (B, S) 0/1 over the cached columns plus the new
        one (S = cache length + 1). Returns next-token logits (B, V) float32."""
        start = cache.get_seq_length()
        bias = torch.zeros(attn.shape, dtype=torch.float32, device=attn.device).masked_fill_(attn == 0, NEG)
        h = self._hidden(tokens[:, None], positions[:, None], cache.layers, start, bias[:, None, None])  # (B, 1, H)
        return self.head(h[:, 0]).float()
