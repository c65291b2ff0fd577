"""Start and stop `prism mock` processes on loopback for the contract tests.

Prism is found through two environment variables that `.ci/run` sets:

- `POLAR_PRISM_SPEC`: the spec Prism serves (the Prism-patched Polar spec);
- `POLAR_PRISM_BIN`: the `prism` executable (`.ci/node/node_modules/.bin/prism`); when unset,
  a `prism` on `PATH` is used.

Without them the contract tests skip with the reason, except under `CI=true`, where a missing
piece is an error: CI must never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

__all__ = ["PrismServer", "PrismSetup", "find_prism"]

_STARTUP_SECONDS = 90.0
_START_ATTEMPTS = 3


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


class PrismSetup:
    """Where the Prism executable and the spec it mocks are."""

    def __init__(self, binary: Path, spec: Path) -> None:
        self.binary = binary
        self.spec = spec


def _unavailable(reason: str) -> PrismSetup:
    if _in_ci():
        pytest.fail(f"contract tests cannot run in CI: {reason} (see .ci/run)", pytrace=False)
    pytest.skip(f"contract tests need Prism: {reason} (see README, Testing)")


def find_prism() -> PrismSetup:
    """Locate Prism and the spec, or skip (fail under CI=true) saying what is missing."""
    spec_value = os.environ.get("POLAR_PRISM_SPEC")
    if not spec_value:
        return _unavailable(
            "POLAR_PRISM_SPEC is not set; point it at ../shared/polar-openapi/2026-10.prism.json"
        )
    spec = Path(spec_value)
    if not spec.is_file():
        return _unavailable(f"POLAR_PRISM_SPEC={spec_value} is not a file")
    bin_value = os.environ.get("POLAR_PRISM_BIN") or shutil.which("prism")
    if not bin_value:
        return _unavailable(
            "POLAR_PRISM_BIN is not set and no prism is on PATH; install it with "
            "`npm install --prefix .ci/node @stoplight/prism-cli@5.16.0`"
        )
    binary = Path(bin_value)
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        return _unavailable(f"POLAR_PRISM_BIN={bin_value} is not an executable file")
    if shutil.which("node") is None:
        return _unavailable("node is not installed (Prism is a Node.js program)")
    return PrismSetup(binary, spec)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PrismServer:
    """One `prism mock` process on 127.0.0.1, in its own process group.

    `dynamic=True` passes `-d`: every answer is generated from the schema (random values,
    random optional fields, random extra properties) instead of the spec's examples. No
    `--seed`: Prism 5.16 reseeds for every request, so a seeded server repeats one answer.
    """

    def __init__(self, setup: PrismSetup, *, dynamic: bool, log_path: Path) -> None:
        self.setup = setup
        self.dynamic = dynamic
        self.log_path = log_path
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The base URL to point the SDK at."""
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self) -> None:
        self.port = _free_port()
        args = [
            str(self.setup.binary),
            "mock",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--verboseLevel",
            "warn",
        ]
        if self.dynamic:
            args.append("--dynamic")
        args.append(str(self.setup.spec))
        env = {**os.environ, "NO_COLOR": "1", "SCARF_ANALYTICS": "false", "DO_NOT_TRACK": "1"}
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own process group, killed as a whole in stop()
            )

    def start(self) -> None:
        """Spawn the process (returns at once; call `wait_ready()` before use)."""
        self._spawn()

    def wait_ready(self) -> None:
        """Block until Prism answers HTTP, restarting it on another port if it died early."""
        for attempt in range(1, _START_ATTEMPTS + 1):
            if self._poll_until_ready():
                return
            self.stop()
            if attempt < _START_ATTEMPTS:
                self._spawn()
        tail = self.log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise RuntimeError(f"prism mock did not start after {_START_ATTEMPTS} tries:\n{tail}")

    def _poll_until_ready(self) -> bool:
        assert self._proc is not None
        deadline = time.monotonic() + _STARTUP_SECONDS
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    return False  # exited: port taken, bad spec, ...
                try:
                    client.get(f"{self.url}/__prism_ready_probe__")
                except httpx.TransportError:
                    time.sleep(0.2)
                    continue
                return True  # any HTTP answer (a 404 here) means it is serving
        return False

    def stop(self) -> None:
        """Terminate the process group (SIGTERM, then SIGKILL after 5 s)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        if proc.poll() is None:
            proc.wait(timeout=5.0)
