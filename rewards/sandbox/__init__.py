"""Isolated execution of untrusted (model-written) Python; see runner.py for the design.

    from rewards.sandbox import default_sandbox, sandbox_mode
    r = default_sandbox().run({"mode": "program", "code": "print(1)"})
"""

from rewards.sandbox.probe import SandboxRefused, probe_host, select_mode  # noqa: F401
from rewards.sandbox.runner import Limits, RunResult, Sandbox, default_sandbox, sandbox_mode  # noqa: F401
