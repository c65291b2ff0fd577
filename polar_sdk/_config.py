"""Static configuration: API version, servers, default timeout, headers."""

from __future__ import annotations

import platform
from typing import Final, Literal, TypeAlias

import httpx

from ._version import __version__

__all__ = [
    "DEFAULT_SERVER",
    "DEFAULT_TIMEOUT",
    "ENV_BASE_URL",
    "ENV_SERVER",
    "ENV_TOKEN",
    "POLAR_VERSION",
    "SERVERS",
    "USER_AGENT",
    "ServerName",
]

POLAR_VERSION: Final = "2026-10"
"""The `Polar-Version` this SDK's models are written for; sent with every request."""

ServerName: TypeAlias = Literal["production", "sandbox"]

SERVERS: Final[dict[str, str]] = {
    "production": "https://api.polar.sh",
    "sandbox": "https://sandbox-api.polar.sh",
}

DEFAULT_TIMEOUT: Final = httpx.Timeout(60.0, connect=10.0)
"""Used when neither the caller nor a caller-supplied `httpx.AsyncClient` sets one."""

USER_AGENT: Final = (
    f"polar_sdk/{__version__} (python {platform.python_version()}; httpx {httpx.__version__})"
)

ENV_TOKEN: Final = "POLAR_ACCESS_TOKEN"
"""The access token, when `access_token=` is not passed."""

ENV_SERVER: Final = "POLAR_SERVER"
"""`production` or `sandbox`, when neither `server=` nor `base_url=` is passed."""

ENV_BASE_URL: Final = "POLAR_BASE_URL"
"""Another API root, when neither `server=` nor `base_url=` is passed (excludes POLAR_SERVER)."""

DEFAULT_SERVER: Final[ServerName] = "production"
"""The server used when no argument and no environment variable names one."""
