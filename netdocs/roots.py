"""Which folders an ingest may read: ``NETDOCS_DOCS_ROOTS`` confines the ``path`` parameter.

A deployment's ``path`` is whatever its parameters say (the UI, ``prefect deployment run
--param``); with roots configured, a path that is not one of them (outside, or a folder
inside one) is refused before any work, and so is a ``policy`` other than the configured
NETDOCS_POLICY. Unset, any folder and policy are
allowed (the CLI ingests what its user names).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from netdocs.errors import ConfigError


def parse_roots(value: object) -> list[Path]:
    """``NETDOCS_DOCS_ROOTS`` as given: a JSON list, or folders separated by ``os.pathsep``."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as e:
                raise ConfigError(f"NETDOCS_DOCS_ROOTS: not a JSON list ({e.msg})") from None
        else:
            value = [p for p in text.split(os.pathsep) if p.strip()]
    if not isinstance(value, list | tuple):
        raise ConfigError("NETDOCS_DOCS_ROOTS: expected a list of folders")
    return [Path(str(p)).expanduser() for p in value]


def confine(path: str | Path, roots: Sequence[Path]) -> Path:
    """``path`` resolved (links followed); ConfigError naming it if ``roots`` are set and it
    is not one of them (each root is resolved too).

    A folder *inside* a root is refused as well: document ids are paths relative to the
    folder ingested, and the policy's rules match those ids, so ``/srv/docs/vpn`` would
    index ``wireguard/keys.md`` where the rules expect ``vpn/wireguard/keys.md`` and give
    it another rule's tags (whoever can start a run could re-tag what a role sees). A run
    limits itself to part of a root with ``only`` instead."""
    resolved = Path(path).expanduser().resolve()
    if not roots:
        return resolved
    allowed = [Path(r).expanduser().resolve() for r in roots]
    if resolved in allowed:
        return resolved
    for r in allowed:
        if resolved.is_relative_to(r):
            part = resolved.relative_to(r).as_posix()
            raise ConfigError(
                f"{path}: a folder inside the docs root {r}, not the root itself; with "
                "NETDOCS_DOCS_ROOTS set a run ingests a whole root (document ids and the "
                f"policy's tags are relative to it): ingest {r} with only=['{part}/**']"
            )
    names = ", ".join(str(r) for r in allowed)
    raise ConfigError(
        f"{path}: outside the configured docs roots (NETDOCS_DOCS_ROOTS: {names}); "
        "refusing to ingest it"
    )


def check_policy_param(policy: str | None, configured: Path | None, roots: Sequence[Path]) -> None:
    """With ``roots`` set (a deployment), a run's ``policy`` parameter may only name the
    configured NETDOCS_POLICY (paths compared resolved): whoever can start a run must not
    choose the policy the index stores, which would re-tag every document. ConfigError."""
    if not roots or not policy:
        return
    given = Path(policy).expanduser().resolve()
    if configured is not None and given == Path(configured).expanduser().resolve():
        return
    raise ConfigError(
        f"policy {policy}: not the configured NETDOCS_POLICY; with NETDOCS_DOCS_ROOTS set a "
        "run may not choose its policy: configure NETDOCS_POLICY on the worker instead"
    )
