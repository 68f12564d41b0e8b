"""The sandbox: student code runs in a separate, isolated worker process; values cross by value."""

from .client import Limits, Sandbox, SandboxConfig, SandboxUnavailable, StudentError, StudentTimeout

__all__ = ["Limits", "Sandbox", "SandboxConfig", "SandboxUnavailable", "StudentError", "StudentTimeout"]
