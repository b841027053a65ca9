"""The verdict cache of `rewards.pool.VerifierPool`: digest keys and a thread-safe LRU of results.

Inputs: the parts of a check that decide its verdict: (verifier, gold, options) as the key prefix,
then either the completion ("c") or the answer key a verifier's `extract` hook computed in the
worker ("x").
Outputs: `digest(*parts)`, a 32-hex-digit blake2b key; `VerdictCache`, digest -> `VerifyResult` dict,
with hit and miss counters for the pool's stats.

Choices:
- When the verifier exposes an `extract` hook (an attribute of the verifier function, or a
  module-level `extract(completion, **options)`), the worker computes the answer key under the
  deadline and asks the parent whether that answer is cached (one extra pipe round trip), so model
  text is never parsed in the caller's process. Without a hook the key is a digest of the
  completion. Contract for hook authors: given the gold and options, the verdict must depend only
  on the hook's value (a hook may raise to fall back to the completion key).
- Timeouts, memory kills and infrastructure errors are never cached (`UNCACHED`): they say
  something about this attempt, not about the answer.
- Parts that are not strings are JSON-encoded with sorted keys (`repr` for the rest); a separator
  follows every part, so ("ab", "c") and ("a", "bc") differ.
"""

from __future__ import annotations

import collections
import hashlib
import json
import threading
from typing import Any

from rewards.base import Reason

UNCACHED = {Reason.TIMEOUT, Reason.MEMORY, Reason.INTERNAL_ERROR}


def digest(*parts: Any) -> str:
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        s = p if isinstance(p, str) else json.dumps(p, sort_keys=True, default=repr)
        h.update(s.encode("utf-8", "surrogatepass"))
        h.update(b"\x00|")
    return h.hexdigest()


class VerdictCache:
    """A thread-safe LRU map from digest to VerifyResult dict (0 size = off)."""

    def __init__(self, size: int):
        self.size, self._d, self._lock = size, collections.OrderedDict(), threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: str) -> dict | None:
        with self._lock:
            val = self._d.get(key)
            if val is None:
                self.misses += 1
                return None
            self._d.move_to_end(key)
            self.hits += 1
            return val

    def put(self, key: str, val: dict) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._d[key] = val
            self._d.move_to_end(key)
            while len(self._d) > self.size:
                self._d.popitem(last=False)
