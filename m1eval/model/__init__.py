"""Talking to a model server: any OpenAI-compatible chat-completions endpoint."""

from m1eval.model.client import ChatClient, ClientSettings
from m1eval.model.types import Completion, RequestFailed

__all__ = ["ChatClient", "ClientSettings", "Completion", "RequestFailed"]
