"""Typed configs: typos and bad values name the field; overrides apply."""

import dataclasses
from typing import Literal

import pytest

from pipeline.config import ConfigError, load_config


@dataclasses.dataclass
class Opt:
    lr: float = 1e-5
    """Learning rate."""
    schedule: Literal["constant", "cosine"] = "constant"
    """Learning-rate schedule."""


@dataclasses.dataclass
class Top:
    steps: int = 10
    """Optimizer steps."""
    name: str = "x"
    """Run name."""
    optim: Opt = dataclasses.field(default_factory=Opt)
    """Optimizer settings."""
    tags: list[str] = dataclasses.field(default_factory=list)
    """Free-form tags."""

    def validate(self):
        if self.steps <= 0:
            raise ConfigError(f"steps must be positive, got {self.steps}")


def write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("stpes: 3\n", r"unknown config field 'stpes' in Top\. Did you mean 'steps'\?"),
        ("optim:\n  lr_rate: 1\n", r"unknown config field 'optim\.lr_rate'.*Did you mean 'lr'"),
        ("steps: three\n", r"steps: expected an integer, got 'three'"),
        ("optim:\n  schedule: linear\n", r"optim\.schedule: 'linear' is not one of \['constant', 'cosine'\]"),
        ("steps: 0\n", r"steps must be positive"),
        ("tags: [1]\n", r"tags\[0\]: expected a string"),
    ],
    ids=["typo-top", "typo-nested", "bad-int", "bad-literal", "validate", "bad-list-item"],
)
def test_errors_name_the_field(tmp_path, yaml_text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(Top, write(tmp_path, yaml_text))


def test_overrides_and_coercion(tmp_path):
    cfg = load_config(Top, write(tmp_path, "steps: 3\noptim:\n  lr: 1\n"), ["optim.schedule=cosine", "name=run1"])
    assert cfg == Top(steps=3, name="run1", optim=Opt(lr=1.0, schedule="cosine"))
    assert isinstance(cfg.optim.lr, float)


def test_exponent_without_dot_is_a_float(tmp_path):
    cfg = load_config(Top, write(tmp_path, "optim:\n  lr: 1e-3\n"), ["optim.lr=2e-5"])
    assert cfg.optim.lr == 2e-5
    with pytest.raises(ConfigError, match="optim.lr: expected a number, got 'fast'"):
        load_config(Top, None, ["optim.lr=fast"])


def test_override_typo_names_field(tmp_path):
    with pytest.raises(ConfigError, match="Did you mean 'steps'"):
        load_config(Top, None, ["step=4"])


@dataclasses.dataclass
class Prec:
    mixed_precision: Literal["no", "bf16"] = "bf16"
    """Precision."""
    flag: Literal["a", "b"] = "a"
    """No yes/no member: a boolean stays an error."""


def test_bare_yaml_no_means_the_string_no(tmp_path):
    assert load_config(Prec, write(tmp_path, "mixed_precision: no\n")).mixed_precision == "no"
    assert load_config(Prec, None, ["mixed_precision=no"]).mixed_precision == "no"
    with pytest.raises(ConfigError, match=r"flag: False is not one of \['a', 'b'\]"):
        load_config(Prec, write(tmp_path, "flag: no\n"))


@dataclasses.dataclass
class Stage:
    optim: Opt = dataclasses.field(default_factory=lambda: Opt(lr=0.5))
    """Nested settings whose stage default differs from the class default."""


def test_partial_nested_mapping_keeps_the_fields_own_defaults(tmp_path):
    """`optim.schedule=cosine` changes only schedule: lr keeps this stage's default (0.5), not Opt's (1e-5)."""
    assert load_config(Stage, None, ["optim.schedule=cosine"]).optim == Opt(lr=0.5, schedule="cosine")
    assert load_config(Stage, write(tmp_path, "optim: {lr: 2}\n")).optim == Opt(lr=2.0)
    assert load_config(Stage).optim == Opt(lr=0.5)
