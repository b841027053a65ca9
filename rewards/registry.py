"""One registry for verifiers: a name maps to a callable, imported lazily from "module:attr".

Add a verifier in one file:

    from rewards.registry import register
    @register("my_checker")
    def my_checker(completion, gold, **options) -> VerifyResult: ...

and either list it in `BUILTIN` below or name the module in a config
(`reward_plugins: [my_pkg.my_module]` in a train, difficulty or eval config), which imports it so its decorator runs.
Every list of verifier names (CLI choices, config validation, docs) reads `names()`.
"""

from __future__ import annotations

from pipeline.registry import Registry, load_plugins  # noqa: F401  (load_plugins is part of this API)

BUILTIN = {
    "math": "rewards.math:verify_math",
    "format_r1": "rewards.format:verify_format_r1",
    "code": "rewards.code:verify_code",
    "process": "rewards.process:verify_process",
}
VERIFIERS = Registry("verifier", BUILTIN)
register, get, names = VERIFIERS.register, VERIFIERS.get, VERIFIERS.names
