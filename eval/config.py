"""What an evaluation run is told to do: the typed config of the evaluation stage (eval/evaluate.py).

Inputs: a YAML file and `key=value` overrides, through `pipeline.config.load_config`.
Outputs: `EvalConfig` (benchmarks and subsets, protocol, sampling, engine, models, verifier pool,
bootstrap, held-out split) and `JsonlBenchmark` (a user JSONL file and its field mapping).

Choices: every field has its documentation under it; `validate` rejects contradictions with a
message naming the field (unknown benchmarks with a did-you-mean, limits for benchmarks that are
not evaluated, duplicate names, n/batch_size/max_new_tokens < 1, T=0 under the sample protocol).
`samples_per_problem` is the one place that says greedy means one sample.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from eval.benchmarks import registry as bench_registry
from pipeline.config import ConfigError
from pipeline.prompts import VERIFIER_TEMPLATES, check_stop, check_templates
from pipeline.rollout.vllm_options import VLLMOptions


@dataclasses.dataclass
class JsonlBenchmark:
    name: str
    """Name used in reports and sample files."""
    path: str
    """JSONL file, one record per line."""
    verifier: str = "math"
    """rewards.registry key applied to every record."""
    problem_field: str = "problem"
    """Record field holding the problem text."""
    gold_field: str = "answer"
    """Record field holding the gold answer (or test spec)."""
    id_field: str | None = None
    """Record field holding a stable id (default: the line index)."""
    template: str | None = None
    """Prompt template for this file (default: the config's template, else boxed)."""


@dataclasses.dataclass
class EvalConfig:
    benchmarks: list[str] = dataclasses.field(default_factory=lambda: ["math500", "gsm8k", "aime24"])
    """Benchmark names (the table in data/benchmarks.py, listed by eval/benchmarks/registry.py)."""
    limits: dict[str, int] = dataclasses.field(default_factory=dict)
    """Per-benchmark seeded subset size; absent or 0 = the whole benchmark."""
    jsonl: list[JsonlBenchmark] = dataclasses.field(default_factory=list)
    """User JSONL benchmarks (name, path, verifier, field mapping)."""
    data_dir: str | None = None
    """Local benchmark data directory (default: RLVR_DATA_DIR, else ../shared/benchmarks, else hub)."""
    seed: int = 0
    """Seed for subsets, sampling and bootstrap."""
    protocol: Literal["greedy", "sample"] = "sample"
    """greedy: 1 sample at T=0; sample: n samples at temperature/top_p."""
    n: int = 4
    """Samples per problem under the sample protocol."""
    temperature: float = 0.6
    """Sampling temperature (sample protocol)."""
    top_p: float = 0.95
    """Nucleus mass (sample protocol)."""
    k: list[int] = dataclasses.field(default_factory=lambda: [1])
    """k values for pass@k and maj@k (values above n are skipped)."""
    template: str | None = None
    """Prompt template for every benchmark (default: each benchmark's own, boxed for math)."""
    templates: dict[str, str] = dataclasses.field(default_factory=lambda: dict(VERIFIER_TEMPLATES))
    """Per-verifier prompt templates overriding `template` for the rows that verifier checks (default: code rows
    get the code template); {} asks every row with `template`."""
    engine: Literal["transformers", "vllm"] = "transformers"
    """Rollout engine: transformers, or vllm (its CPU build on a CPU machine, its CUDA build on a GPU one)."""
    batch_size: int = 8
    """Problems per generate call (x n completions)."""
    max_new_tokens: int = 1024
    """Generation budget per completion."""
    stop: list[str] = dataclasses.field(default_factory=list)
    """Stop strings ending a completion (pipeline.prompts), as in the train config; [] : EOS only."""
    dtype: str = "float32"
    """Model dtype (the transformers engine's; vLLM's too unless vllm.dtype names another)."""
    device: str = "cpu"
    """Device for the transformers engine (vLLM runs where its build runs)."""
    vllm: VLLMOptions = dataclasses.field(default_factory=lambda: VLLMOptions(gpu_memory_utilization=0.85))
    """vLLM engine settings when engine is vllm (pipeline/rollout/vllm_options.py); evaluation has the
    GPU to itself, so vLLM's share defaults to 0.85 here."""
    torch_threads: int = 0
    """torch.set_num_threads for generation (0 = torch's default). On a CPU shared with other jobs,
    1 can be several times faster than oversubscribed threads that spin-wait."""
    models: dict[str, str] = dataclasses.field(default_factory=lambda: {"base": "embedded"})
    """label -> model spec (training stage dir, "embedded", model dir or hub name), in report order."""
    verifier_workers: int = 2
    """Verifier pool processes (0 = in-process, no deadlines; debugging only)."""
    verifier_deadline_s: float = 5.0
    """Per-check deadline in seconds."""
    verifier_deadlines: dict[str, float] = dataclasses.field(default_factory=lambda: {"code": 30.0})
    """Per-verifier deadline overrides (code runs tests in a sandbox)."""
    bootstrap: int = 1000
    """Bootstrap resamples for confidence intervals."""
    reward_plugins: list[str] = dataclasses.field(default_factory=list)
    """Modules imported (here and by the verifier workers) so their `@register` verifiers exist; the same key in
    the curate, difficulty, train and eval configs."""
    dataset: str | None = None
    """A curate/difficulty stage directory: its `dataset_split` rows are evaluated as benchmark
    "heldout" (the curriculum's evaluation split, never seen in training), with per-bucket figures."""
    dataset_split: str = "eval"
    """Which split of `dataset` to evaluate."""
    dataset_bucket_by: str = "level"
    """Row metadata key (or "source") whose values split the held-out figures into buckets."""

    def validate(self) -> None:
        for b in self.benchmarks:
            try:
                bench_registry.check(b)
            except KeyError as e:
                raise ConfigError(f"benchmarks: {e.args[0]}") from None
        known = list(self.benchmarks) + [j.name for j in self.jsonl] + (["heldout"] if self.dataset else [])
        for name in self.limits:
            if name not in known:
                raise ConfigError(f"limits: {name!r} is not among the evaluated benchmarks {known}")
        if len(set(known)) != len(known):
            raise ConfigError(f"benchmarks/jsonl: names must be unique, got {known}")
        for key, value in {"n": self.n, "batch_size": self.batch_size, "max_new_tokens": self.max_new_tokens}.items():
            if value < 1:
                raise ConfigError(f"{key} must be >= 1, got {value}")
        if any(k < 1 for k in self.k):
            raise ConfigError(f"k: every value must be >= 1, got {self.k}")
        check_templates(self.template, self.templates)
        check_stop(self.stop)
        if not self.models:
            raise ConfigError("models: name at least one model (label: spec)")
        if self.protocol == "sample" and self.temperature <= 0:
            raise ConfigError("temperature must be > 0 under protocol 'sample' (use protocol: greedy)")

    @property
    def samples_per_problem(self) -> int:
        return 1 if self.protocol == "greedy" else self.n
