"""Rollout engines behind one interface (`RolloutEngine`): transformers (default) and vLLM (GPU extra)."""

from pipeline.rollout.base import Completion, RolloutEngine, SamplingParams, make_engine  # noqa: F401
