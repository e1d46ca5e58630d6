"""Local stand-ins for remote providers (a fault-injecting OpenAI/Anthropic HTTP server)."""

from tests.stubs.faults import Fault
from tests.stubs.provider_server import ProviderStub, RecordedRequest

__all__ = ["Fault", "ProviderStub", "RecordedRequest"]
