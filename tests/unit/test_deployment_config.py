"""`deployments/serve.py` serves the same deployments as prefect.yaml (names, entrypoints,
parameters, schedules, concurrency limit), and `netdocs ingest --deployment` sends `only`
only when the user gave it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from netdocs.prefect_cli import ingest_parameters

from ..conftest import REPO


def _yaml_deployments(env: dict[str, str]) -> dict[str, dict[str, object]]:
    text = (REPO / "prefect.yaml").read_text()
    for name, value in env.items():
        text = text.replace("{{ $" + name + " }}", value)
    assert "{{" not in text  # every placeholder is one of the env variables above
    return {d["name"]: d for d in yaml.safe_load(text)["deployments"]}


def test_serve_py_matches_prefect_yaml() -> None:
    from deployments.serve import build_deployments

    env = {"NETDOCS_DOCS_DIR": "/srv/docs", "NETDOCS_POLICY": "/srv/docs/tags.yaml"}
    expected = _yaml_deployments(env)
    served = {d.name: d for d in build_deployments(env)}
    assert set(served) == set(expected)
    for name, d in served.items():
        want = expected[name]
        assert d.entrypoint == want["entrypoint"], name
        assert d.parameters == want["parameters"], name
        assert [s.schedule.cron for s in d.schedules] == [
            s["cron"]
            for s in want["schedules"]  # type: ignore[attr-defined]
        ], name
        limit = want["concurrency_limit"]
        assert d.concurrency_limit == limit["limit"], name  # type: ignore[index]
        strategy = d.concurrency_options.collision_strategy.value
        assert strategy == limit["collision_strategy"], name  # type: ignore[index]
    assert expected["ingest-hourly"]["parameters"]["policy"] == env["NETDOCS_POLICY"]  # type: ignore[index]


def test_serve_py_refuses_to_run_without_folder_and_policy() -> None:
    from deployments.serve import build_deployments

    with pytest.raises(SystemExit, match="NETDOCS_POLICY"):
        build_deployments({"NETDOCS_DOCS_DIR": "/srv/docs"})


def _args(**kw: object) -> argparse.Namespace:
    base = {"path": None, "policy": None, "full": False, "allow_mass_delete": False}
    return argparse.Namespace(**{**base, "reembed": False, **kw})


def test_deployment_run_parameters(tmp_path: Path) -> None:
    assert ingest_parameters(_args()) == {"full": False}  # the deployment's folder and policy
    params = ingest_parameters(_args(path=tmp_path, full=True, only=["routing/**"]))
    assert params == {"full": True, "path": str(tmp_path), "only": ["routing/**"]}
    assert "only" not in ingest_parameters(_args(only=None))  # no --only: not sent


def test_a_folder_after_deployment_is_the_path(tmp_path: Path) -> None:
    from netdocs.cli import build_parser
    from netdocs.prefect_cli import DEFAULT_DEPLOYMENT, _split_path

    args = build_parser().parse_args(["ingest", "--deployment", str(tmp_path)])
    _split_path(args)
    assert (args.deployment, args.path) == (DEFAULT_DEPLOYMENT, tmp_path)
    args = build_parser().parse_args(["ingest", str(tmp_path), "--deployment", "ingest/other"])
    _split_path(args)
    assert (args.deployment, args.path) == ("ingest/other", tmp_path)


def test_served_flows_are_confined_to_the_docs_folder_by_default() -> None:
    """Without NETDOCS_DOCS_ROOTS a run started with another path would read any folder:
    serve.py confines its flows to NETDOCS_DOCS_DIR unless roots are set."""
    from deployments.serve import confined

    assert confined({"NETDOCS_DOCS_DIR": "/srv/docs"})["NETDOCS_DOCS_ROOTS"] == "/srv/docs"
    both = {"NETDOCS_DOCS_DIR": "/srv/docs", "NETDOCS_DOCS_ROOTS": "/srv/docs:/srv/kb"}
    assert confined(both)["NETDOCS_DOCS_ROOTS"] == "/srv/docs:/srv/kb"
    blank = {"NETDOCS_DOCS_DIR": "/srv/docs", "NETDOCS_DOCS_ROOTS": " "}
    assert confined(blank)["NETDOCS_DOCS_ROOTS"] == "/srv/docs"
