"""Evaluation stages: named sets of settings overrides, applied through the environment.

A stage list such as ``fused,+diversity,+model,+llm`` is cumulative: each ``+name`` adds
its overrides to those of the stage before it. A stage whose settings this build does not
define (or rejects) is reported as not available instead of failing the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from pydantic import ValidationError

from netdocs.config import Settings, get_settings, load_settings


@dataclass(frozen=True)
class StageDef:
    """One building block: its overrides and the Settings fields they need."""

    env: Mapping[str, str]
    requires: tuple[str, ...] = ()
    model: str | None = None  # the local model the index must be built with
    llm: bool = False  # needs the recorded-answer provider stub


#: The baseline turns every optional stage off where this build knows the setting.
BASELINE_OFF = {
    "diversity_per_doc": ("NETDOCS_DIVERSITY_PER_DOC", "0"),
    "rerank": ("NETDOCS_RERANK", "off"),
    "query_rewrite": ("NETDOCS_QUERY_REWRITE", "off"),
}

DEFS: dict[str, StageDef] = {
    "fused": StageDef({}),
    # the shipped per-document limit (Settings' default; 0 in the baseline)
    "diversity": StageDef(
        {"NETDOCS_DIVERSITY_PER_DOC": str(Settings.model_fields["diversity_per_doc"].default)},
        ("diversity_per_doc",),
    ),
    "model": StageDef(
        {"NETDOCS_LOCAL_MODEL": "all-mpnet-base-v2"}, ("local_model",), "all-mpnet-base-v2"
    ),
    "llm": StageDef(
        {"NETDOCS_RERANK": "llm", "NETDOCS_QUERY_REWRITE": "llm"},
        ("rerank", "query_rewrite"),
        llm=True,
    ),
}


@dataclass(frozen=True)
class Stage:
    """A stage as run: its name and the cumulative overrides of the stages it builds on."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    model: str | None = None
    llm: bool = False

    def unavailable(self) -> str | None:
        """Why this build cannot run the stage, or None."""
        fields = Settings.model_fields
        missing = [f for f in self.requires if f not in fields]
        if missing:
            names = ", ".join("NETDOCS_" + f.upper() for f in missing)
            return f"not available: this build has no setting {names}"
        try:
            with overrides(self.env):
                pass
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            return f"not available: {where}: {first['msg']}"
        return None


def parse_stages(spec: str) -> list[Stage]:
    """``fused,+diversity,+model`` -> cumulative stages; unknown names raise ValueError."""
    stages: list[Stage] = []
    base = Stage("fused", baseline_env())
    for raw in (s.strip() for s in spec.split(",") if s.strip()):
        name = raw.lstrip("+")
        if name not in DEFS:
            known = ", ".join(DEFS)
            raise ValueError(f"--stages: unknown stage {raw!r} (known: {known})")
        d = DEFS[name]
        prev = (stages[-1] if stages else base) if raw.startswith("+") else base
        stages.append(
            Stage(
                raw if raw.startswith("+") or name == "fused" else name,
                {**prev.env, **d.env},
                tuple(dict.fromkeys(prev.requires + d.requires)),
                d.model or prev.model,
                d.llm or prev.llm,
            )
        )
    if not stages:
        raise ValueError("--stages: give at least one stage")
    return stages


def baseline_env() -> dict[str, str]:
    """The off-values of the optional stages this build defines."""
    fields = Settings.model_fields
    return {env: value for name, (env, value) in BASELINE_OFF.items() if name in fields}


@contextmanager
def overrides(env: Mapping[str, str]) -> Iterator[Settings]:
    """Set ``env`` in the process environment, yield fresh Settings, restore afterwards
    (the cached ``get_settings`` is cleared on the way in and out)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    get_settings.cache_clear()
    try:
        yield load_settings()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        get_settings.cache_clear()
