"""A KV cache over preallocated buffers, for our own decode loop (pipeline/rollout/hf.py).

transformers' `DynamicCache` appends with `torch.cat`, copying the whole cache at every decode
step (O(T^2) memory traffic; on CPU that costs about as much as the forward pass itself for a
135M model at batch 64). Here each layer owns a (B, H_kv, capacity, D) buffer, appends are
in-place writes, and the model sees a view of the filled part. Two operations serve the
engine: `select_rows` (drop finished sequences from the batch) and `drop_left` (cut left-padding
columns no live row needs any more).

Built from per-prompt prefill caches by `BufferCache.from_prefill`: prompts are left-padded to
a common length P, each repeated `n` times (the group), capacity P + max_new_tokens.
"""

from __future__ import annotations

import torch
from transformers.cache_utils import DynamicCache, DynamicLayer


class BufferLayer(DynamicLayer):
    """One layer's keys/values in a preallocated buffer; `self.keys`/`self.values` view the filled part."""

    def __init__(self, k_buf: torch.Tensor, v_buf: torch.Tensor, length: int):
        super().__init__()
        self._k, self._v, self._len = k_buf, v_buf, length  # (B, H, cap, D) each
        self.dtype, self.device = k_buf.dtype, k_buf.device
        self.is_initialized = True
        self._refresh()

    def _refresh(self) -> None:
        self.keys = self._k[:, :, : self._len]
        self.values = self._v[:, :, : self._len]

    def lazy_initialization(self, key_states, value_states) -> None:  # buffers exist from the start
        return None

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        q = key_states.shape[-2]
        end = self._len + q
        if end > self._k.shape[2]:  # grow (rare: only if the caller under-sized the buffer)
            extra = max(end - self._k.shape[2], self._k.shape[2])
            pad = (0, 0, 0, extra)
            self._k = torch.nn.functional.pad(self._k, pad)
            self._v = torch.nn.functional.pad(self._v, pad)
        self._k[:, :, self._len : end] = key_states
        self._v[:, :, self._len : end] = value_states
        self._len = end
        self._refresh()
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self._len

    def select_rows(self, rows: torch.Tensor) -> None:
        """Keep only batch rows `rows` (copies the filled part only)."""
        b, h, cap, d = self._k.shape
        for name in ("_k", "_v"):
            old = getattr(self, name)
            new = old.new_empty((rows.numel(), h, cap, d))
            new[:, :, : self._len] = old[rows, :, : self._len]
            setattr(self, name, new)
        self._refresh()

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self.select_rows(indices)

    def drop_left(self, cols: int) -> None:
        """Forget the first `cols` positions (left padding of every live row); no copy."""
        self._k = self._k[:, :, cols:]
        self._v = self._v[:, :, cols:]
        self._len -= cols
        self._refresh()


class BufferCache(DynamicCache):
    """A DynamicCache whose layers are `BufferLayer`s (so model code treats it as a dynamic cache)."""

    def __init__(self, layers: list[BufferLayer]):
        super().__init__()
        self.layers = list(layers)

    @classmethod
    def from_prefill(cls, parts: list[tuple[list[tuple[torch.Tensor, torch.Tensor]], list[int]]],
                     n: int, width: int, capacity: int) -> "BufferCache":
        """Assemble a cache from prefill chunks.

        parts: [(per-layer [(K, V)] with K: (U_c, H, L_c, D) left-padded, real lengths of the U_c prompts)], in
        prompt order. Each prompt is left-padded to `width` columns and repeated `n` times (rows u*n .. u*n+n-1).
        """
        n_layers = len(parts[0][0])
        total = sum(len(lens) for _, lens in parts) * n
        layers = []
        for li in range(n_layers):
            k0 = parts[0][0][li][0]
            h, d = k0.shape[1], k0.shape[3]
            k_buf = k0.new_zeros((total, h, capacity, d))
            v_buf = k0.new_zeros((total, h, capacity, d))
            row = 0
            for kv, lens in parts:
                k, v = kv[li]
                lc = k.shape[2]
                for u, ln in enumerate(lens):
                    k_buf[row : row + n, :, width - ln : width] = k[u : u + 1, :, lc - ln :]
                    v_buf[row : row + n, :, width - ln : width] = v[u : u + 1, :, lc - ln :]
                    row += n
            layers.append(BufferLayer(k_buf, v_buf, width))
        return cls(layers)

    def select_rows(self, rows: torch.Tensor) -> None:
        for layer in self.layers:
            layer.select_rows(rows)

    def drop_left(self, cols: int) -> None:
        for layer in self.layers:
            layer.drop_left(cols)
