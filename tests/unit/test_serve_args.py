"""`netdocs serve` refuses a port outside 1..65535 as a usage error (exit 2), before any
server or database is touched (it was a traceback from the socket layer)."""

from __future__ import annotations

import pytest

from netdocs.cli import build_parser


@pytest.mark.parametrize("port", ["0", "65536", "99999", "-1", "http"])
def test_a_bad_port_is_a_usage_error(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["serve", "--port", port])
    assert info.value.code == 2
    assert "argument --port" in capsys.readouterr().err


def test_a_good_port_is_kept() -> None:
    assert build_parser().parse_args(["serve", "--port", "65535"]).port == 65535


@pytest.mark.parametrize("workers", ["0", "65"])
def test_workers_out_of_range_is_exit_2_before_anything_starts(
    workers: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from netdocs.cli import main

    assert main(["serve", "--workers", workers]) == 2
    assert "--workers must be from 1 to 64" in capsys.readouterr().err
