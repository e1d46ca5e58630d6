"""Pytest fixtures for the provider stub.

Use from a test module with ``pytest_plugins = ["tests.stubs.fixtures"]`` (or from the root
conftest the same way)::

    def test_retry(provider_stub):
        provider_stub.script("429", "ok")
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stubs.provider_server import ProviderStub


@pytest.fixture
def provider_stub() -> Iterator[ProviderStub]:
    """A fresh stub server per test (starts in milliseconds), stopped afterwards."""
    with ProviderStub() as stub:
        yield stub
