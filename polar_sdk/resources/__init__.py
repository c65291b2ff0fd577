"""Async resource classes, one per API area; `AsyncPolar` exposes them as attributes."""

from .customer_sessions import AsyncCustomerSessions

__all__ = ["AsyncCustomerSessions"]
