"""A database error that outlives the task retries ends the CLI with exit 3 and a one-line
message, not a traceback (found by the PostgreSQL-restart test with retries off)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from netdocs.cli import main


@pytest.mark.parametrize(
    "exc",
    [
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.OperationalError("server closed the connection unexpectedly"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_database_errors_after_retries_exit_3(
    exc: Exception,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import flows.ingest

    def down(**kwargs: object) -> None:
        raise exc

    monkeypatch.setattr(flows.ingest, "ingest", down)
    assert main(["ingest", str(tmp_path), "--json"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("netdocs: error: database unavailable: ") and str(exc) in err
    assert "Traceback" not in err
