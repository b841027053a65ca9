"""Rollout engines behind one interface (`RolloutEngine`): transformers (default) and vLLM (CPU or GPU build)."""

from pipeline.rollout.base import Completion, EngineUnavailable, RolloutEngine, SamplingParams, make_engine  # noqa: F401
