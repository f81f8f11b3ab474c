"""Fake Cohere and OpenAI-compatible HTTP servers for driving the official SDKs in tests."""

from fakes.cohere import FakeCohere
from fakes.openai import FakeOpenAI
from fakes.server import RecordedRequest, ServedApp

__all__ = ["FakeCohere", "FakeOpenAI", "RecordedRequest", "ServedApp"]
