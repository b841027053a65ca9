"""HFEngine: the transformers rollout engine (CPU and GPU), with our own batched decode loop.

Input: prompts already rendered through the chat template, and `SamplingParams`.
Output: for each prompt, `params.n` `Completion`s (generated token ids only, EOS included when
generated; text decoded with special tokens skipped and cut before a matched stop string, as vLLM
does; finish_reason "stop" for EOS or a stop string, "length" at max_new_tokens).

Why not `model.generate`: for GRPO every prompt is sampled n times and on a 2-core CPU generation
dominates the step, so the loop here
  1. prefills each distinct prompt once (not n times), in length-sorted chunks so almost no
     padding is computed, keeping only the last position's logits (`logits_to_keep=1`);
  2. copies the prompt KV into one preallocated buffer per layer (`kvcache.BufferCache`):
     decode steps write in place instead of `torch.cat`-ing the whole cache every token;
  3. drops finished sequences from the batch (and then any left-padding columns no live row
     needs), so late steps only pay for sequences still running;
  4. runs under `torch.inference_mode`, keeps outputs in preallocated tensors, and touches
     Python per step only for stop strings (decoding a short window of the newest tokens);
  5. optionally (`dtype="bfloat16"`) samples from a bf16 copy of the policy, refreshed from the
     policy at every call: bf16 matmuls are several times faster on CPUs with AMX / AVX512-BF16;
  6. on the CPU, for Llama-family models (Llama, Mistral, Qwen2, Qwen3), runs prefill and decode
     through `native.NativeDecoder` (fused projections, pre-packed bf16 weights, a lean attention)
     instead of the model's forward; other models, GPUs, or `native=False` use the model's forward.
Sampling (`sampling.py`) follows vLLM's temperature -> top-k -> top-p order; temperature 0 is
greedy. All draws come from one private generator seeded with `params.seed`, so the same seed,
prompts and model give the same samples. `benchmarks/bench_rollout.py` compares against
`model.generate` and a matmul roofline.

    engine = HFEngine(model, tokenizer)
    groups = engine.generate(["<|im_start|>user\\n2+2?<|im_end|>\\n<|im_start|>assistant\\n"],
                             SamplingParams(n=4, temperature=1.0, max_new_tokens=64, seed=0))
"""

from __future__ import annotations

import torch
from transformers import DynamicCache

from pipeline.models import decoder_and_head
from pipeline.rollout.base import Completion, PromptEncoder, SamplingParams
from pipeline.rollout.kvcache import BufferCache
from pipeline.rollout.native import NativeDecoder
from pipeline.rollout.sampling import make_generator, sample_next, sampled_logprobs


def eos_token_ids(model, tokenizer) -> list[int]:
    """EOS ids from the tokenizer and the model's generation config (which may list several)."""
    ids: set[int] = set()
    for src in (tokenizer.eos_token_id, getattr(getattr(model, "generation_config", None), "eos_token_id", None)):
        if src is None:
            continue
        ids.update([src] if isinstance(src, int) else list(src))
    if not ids:
        raise ValueError("neither the tokenizer nor the model's generation_config defines an EOS token")
    return sorted(ids)


class HFEngine(PromptEncoder):
    """Rollout engine on a transformers causal LM (shares the model's weights: sync_weights is a no-op).

    return_logprobs: also return, per generated token, its log-prob under the distribution it was drawn from
        (temperature, top-k and top-p applied: vLLM's "processed_logprobs"), what truncated importance
        sampling compares with the trainer's log-probs.
    prefill_chunk_tokens: most (padded) prompt tokens per prefill forward.
    max_batch_rows: most sequences decoded together (None: all prompts x n at once); bounds KV memory.
    add_special_tokens: passed to the tokenizer (False: prompts are already chat-template rendered).
    dtype: None samples with `model` itself (sync_weights is then a no-op). "bfloat16" (or "float16") keeps a
        private copy of the model in that dtype for sampling and refreshes it from `model` at the start of every
        `generate` call (one cast-copy of the weights, ~0.1 s for 135M parameters), so it can never be stale. On
        CPUs with AMX/AVX512-BF16 bf16 matmuls run several times faster than float32; the samples then come from
        a bf16-rounded policy (as with vLLM in bf16), while the trainer scores them in its own dtype.
    native: on the CPU, use `NativeDecoder` when the architecture is supported (GPUs keep the model's forward;
        vLLM is the fast GPU path). Its weights, in `dtype` or the model's, are re-fused from the policy at every
        `generate` call, and no private model copy is kept. `native_reason` says why it is not used, if not.
    num_threads: torch intra-op threads while generating (None: leave the process setting). On a CPU shared
        with other busy processes 1 thread can be several times faster than 2 (threads wait on each other).
    """

    def __init__(self, model, tokenizer, *, return_logprobs: bool = False, prefill_chunk_tokens: int = 4096,
                 max_batch_rows: int | None = None, add_special_tokens: bool = False, num_threads: int | None = None,
                 dtype: str | None = None, native: bool = True):
        self.source = model
        self.dtype = getattr(torch, dtype) if dtype else None
        self.model = model
        on_cpu = next(model.parameters()).device.type == "cpu"
        self.native, self.native_reason = (NativeDecoder.build(model, self.dtype) if native and on_cpu
                                           else (None, "native=False" if not native else "not on the CPU"))
        if self.native is not None:
            self.dtype = None  # the native decoder holds its own weights in the compute dtype
        elif self.dtype is not None and next(model.parameters()).dtype != self.dtype:
            import copy

            self.model = copy.deepcopy(model).to(self.dtype).eval()
            for p in self.model.parameters():
                p.requires_grad_(False)
        else:
            self.dtype = None
        self.tokenizer = tokenizer
        self.return_logprobs = return_logprobs
        self.prefill_chunk_tokens = prefill_chunk_tokens
        self.max_batch_rows = max_batch_rows
        self.add_special_tokens = add_special_tokens
        self.num_threads = num_threads
        self.eos_ids = eos_token_ids(model, tokenizer)
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else self.eos_ids[0]

    def sync_weights(self, model) -> None:
        """Sample from `model`'s current weights: shared module (dtype None) or refreshed private copy."""
        self.source = model
        if self.dtype is None:
            self.model = model  # (the native decoder re-reads `self.source` at every generate call)
        else:
            self._refresh_copy()

    @torch.no_grad()
    def _refresh_copy(self) -> None:
        src = dict(self.source.named_parameters())
        for name, p in self.model.named_parameters():
            p.copy_(src[name])  # casts to the copy's dtype

    def generate(self, prompts: list[str] | list[list[int]], params: SamplingParams) -> list[list[Completion]]:
        prompt_ids = self._prompt_ids(prompts, params)
        if not prompt_ids:
            return []
        if self.native is not None:
            self.native.load(self.source, batch_hint=len(prompts) * params.n)
        elif self.dtype is not None:
            self._refresh_copy()
        device = next(self.model.parameters()).device
        gen = make_generator(params.seed, device)
        per_batch = len(prompts) if self.max_batch_rows is None else max(1, self.max_batch_rows // params.n)
        out: list[list[Completion]] = []
        was_training, threads = self.model.training, torch.get_num_threads()
        self.model.eval()
        if self.num_threads:
            torch.set_num_threads(self.num_threads)
        try:
            with torch.inference_mode():
                for start in range(0, len(prompts), per_batch):
                    out.extend(self._generate_batch(prompt_ids[start : start + per_batch], params, gen, device))
        finally:
            self.model.train(was_training)
            torch.set_num_threads(threads)
            if self.native is not None:
                self.native.release()
        return out

    # -- one batch of prompts x n ------------------------------------------------------------------

    def _prefill(self, prompt_ids: list[list[int]], device) -> dict[int, tuple]:
        """Prefill distinct prompts in length-sorted chunks.

        Returns {prompt index: (per-layer [(K, V)] of its chunk, row in chunk, prompt length, last logits (V,))}.
        """
        order = sorted(range(len(prompt_ids)), key=lambda i: len(prompt_ids[i]))
        chunks, cur = [], []
        for i in order:
            width = len(prompt_ids[i])  # sorted ascending: the newest is the longest in the chunk
            if cur and width * (len(cur) + 1) > self.prefill_chunk_tokens:
                chunks.append(cur)
                cur = []
            cur.append(i)
        chunks.append(cur)
        results: dict[int, tuple] = {}
        for chunk in chunks:
            lens = [len(prompt_ids[i]) for i in chunk]
            lc = max(lens)
            ids = torch.full((len(chunk), lc), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), lc), dtype=torch.long)
            for r, i in enumerate(chunk):
                ids[r, lc - lens[r] :] = torch.tensor(prompt_ids[i])
                mask[r, lc - lens[r] :] = 1
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            cache = DynamicCache()
            logits = self._last_logits(ids.to(device), mask.to(device), pos.to(device), cache)  # (U_c, V)
            kv = [(layer.keys, layer.values) for layer in cache.layers]  # (U_c, H, L_c, D) each
            for r, i in enumerate(chunk):
                results[i] = (kv, r, lens[r], logits[r])
        return results

    def _prefill_cache(self, prompt_ids: list[list[int]], n: int, capacity: int, device) -> tuple[BufferCache, torch.Tensor]:
        """Model-forward prefill laid out as the decode batch: (cache of len(prompt_ids) * n rows, logits (B, V))."""
        pre = self._prefill(prompt_ids, device)
        width = max(len(p) for p in prompt_ids)
        # KV parts in prompt order (one single-row part per prompt keeps assembly simple and exact)
        parts = []
        for i in range(len(prompt_ids)):
            kv, r, ln, _ = pre[i]
            parts.append(([(k[r : r + 1], v[r : r + 1]) for k, v in kv], [ln]))
        cache = BufferCache.from_prefill(parts, n, width, capacity)
        logits = torch.stack([pre[i][3] for i in range(len(prompt_ids))]).repeat_interleave(n, dim=0).float()
        return cache, logits

    def _last_logits(self, ids, mask, pos, cache) -> torch.Tensor:
        """Next-token logits (U, V) at the last position only. Projects a contiguous (U, H) hidden state with
        the output head ourselves: `logits_to_keep=1` hands the head a strided 3D view, which in bf16 on CPU
        falls into a batched matmul that materialises the head weight once per prompt (seconds, GBs)."""
        parts = decoder_and_head(self.model)
        if parts is None:
            return self.model(input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=cache,
                              use_cache=True, logits_to_keep=1).logits[:, -1]
        dec, head = parts
        hidden = dec(input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=cache,
                     use_cache=True).last_hidden_state[:, -1].contiguous()  # (U, H)
        return head(hidden)  # (U, V)

    def _generate_batch(self, prompt_ids: list[list[int]], params: SamplingParams, gen, device) -> list[list[Completion]]:
        n, max_new = params.n, params.max_new_tokens
        lens = [len(p) for p in prompt_ids]
        width = max(lens)
        if self.native is not None:
            cache, logits = self.native.prefill(prompt_ids, n, width + max_new, self.pad_id, self.prefill_chunk_tokens)
        else:
            cache, logits = self._prefill_cache(prompt_ids, n, width + max_new, device)
        rows_total = len(prompt_ids) * n
        row_len = torch.tensor(lens, device=device).repeat_interleave(n)  # (B,) real prompt lengths
        attn = torch.zeros((rows_total, width + max_new), dtype=torch.long, device=device)
        for r in range(rows_total):
            attn[r, width - int(row_len[r]) :] = 1
        tokens_out = torch.full((rows_total, max_new), self.pad_id, dtype=torch.long, device=device)
        lp_out = torch.zeros((rows_total, max_new), device=device) if self.return_logprobs else None
        gen_len = torch.full((rows_total,), max_new, dtype=torch.long)
        reason = ["length"] * rows_total
        state = _DecodeState(rows=torch.arange(rows_total, device=device), attn=attn, row_len=row_len)
        eos = torch.tensor(self.eos_ids, device=device)
        stop_window = 2 * max((len(s) for s in params.stop), default=0) + 4
        for step in range(max_new):
            nxt = sample_next(logits, params, gen)  # (B_live,)
            tokens_out[state.rows, step] = nxt
            if lp_out is not None:
                lp_out[state.rows, step] = sampled_logprobs(logits, nxt, params)
            done = torch.isin(nxt, eos) if not params.ignore_eos else torch.zeros_like(nxt, dtype=torch.bool)
            if params.stop:
                done = done | self._stop_hits(tokens_out, state.rows, step, params.stop, stop_window, device)
            if step == max_new - 1:
                for r in state.rows[done].tolist():
                    gen_len[r], reason[r] = step + 1, "stop"
                break
            if bool(done.any()):
                for r in state.rows[done].tolist():
                    gen_len[r], reason[r] = step + 1, "stop"
                if bool(done.all()):
                    break
                keep = (~done).nonzero().squeeze(-1)
                state.finish(keep, cache, nxt)
                nxt, logits = nxt[keep], None
            cur = cache.get_seq_length()
            mask = state.attn[:, : cur + 1]
            mask[:, cur] = 1
            pos = (state.row_len + step)[:, None]  # (B_live, 1) position of the token being fed
            if self.native is not None:
                logits = self.native.step(nxt, pos[:, 0], mask, cache)  # (B_live, V)
            else:
                logits = self.model(input_ids=nxt[:, None], attention_mask=mask, position_ids=pos,
                                    past_key_values=cache, use_cache=True).logits[:, -1].float()  # (B_live, V)
        return self._completions(prompt_ids, n, tokens_out, lp_out, gen_len, reason, params.stop)

    def _stop_hits(self, tokens_out, rows, step, stops, window, device) -> torch.Tensor:
        lo = max(0, step + 1 - window)
        tails = self.tokenizer.batch_decode(tokens_out[rows, lo : step + 1].tolist(), skip_special_tokens=True)
        return torch.tensor([any(s in t for s in stops) for t in tails], dtype=torch.bool, device=device)

    def _completions(self, prompt_ids, n, tokens_out, lp_out, gen_len, reason, stops) -> list[list[Completion]]:
        toks = tokens_out.tolist()
        lps = lp_out.tolist() if lp_out is not None else None
        seqs = [toks[r][: int(gen_len[r])] for r in range(len(toks))]
        texts = self.tokenizer.batch_decode(seqs, skip_special_tokens=True)
        out = []
        for u in range(len(prompt_ids)):
            group = []
            for r in range(u * n, u * n + n):
                text = texts[r]
                if stops:
                    cuts = [text.find(s) for s in stops if s in text]
                    if cuts:
                        text = text[: min(cuts)]
                group.append(Completion(text=text, token_ids=seqs[r], finish_reason=reason[r],
                                        logprobs=lps[r][: len(seqs[r])] if lps is not None else None))
            out.append(group)
        return out


class _DecodeState:
    """Live rows of the decode batch: original row ids, attention mask and prompt lengths (all (B_live, ...))."""

    def __init__(self, rows: torch.Tensor, attn: torch.Tensor, row_len: torch.Tensor):
        self.rows, self.attn, self.row_len = rows, attn, row_len

    def finish(self, keep: torch.Tensor, cache: BufferCache, nxt: torch.Tensor) -> None:
        """Drop finished rows, then left-padding columns that no live row attends to."""
        self.rows, self.attn, self.row_len = self.rows[keep], self.attn[keep], self.row_len[keep]
        cache.select_rows(keep)
        width_used = cache.get_seq_length()
        pad_cols = int(width_used - (self.attn[:, :width_used].sum(-1)).max())
        if pad_cols > 0:
            cache.drop_left(pad_cols)
            self.attn = self.attn[:, pad_cols:]
