"""A loopback HTTP/1.1 server that ingests usage events the way Polar does, and misbehaves.

`POST /v1/events/ingest` keeps events per organization keyed by `external_id` (insert or
skip: a second copy is a duplicate, inside one batch too; an event without one is stored
again each time), refuses the whole batch with 422 when any event breaks the rules the
real server applies (naming every bad event by index), and answers
`{"inserted": n, "duplicates": m}`. The rules and shapes follow the recorded exchanges in
the fixtures (`api/events/ingest_*`).

Faults come from a script (one `Fault` per request, in order) or at random with
`fault_rate`: the connection reset before or after the batch is stored, an answer that
comes after the client's timeout (stored), 500 after storing, 502/503 without, 429 with
`Retry-After`. uvicorn cannot reset a connection halfway, so this server speaks just
enough HTTP/1.1 itself (like `tests/faultserver.py`).

Run it alone for benchmarks: `python tests/ingestserver.py PORT`.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import struct
import sys
import threading
import uuid
from collections import Counter, deque
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

FAULTS = (
    "reset_before_store",
    "reset_after_store",
    "slow_after_store",
    "500_after_store",
    "502",
    "503",
    "429",
)

CUSTOMERS = frozenset(
    {
        "5e95a770-688f-436f-8328-b9c881ba0fe3",
        "7a2cb01c-4e96-4370-9eef-c06833547fe5",
        "41d9d3c1-18d8-4a09-bbce-4005da5f3b02",
    }
)


@dataclass
class Fault:
    """What to do with one request instead of answering it normally (see module docstring).

    `slow` is how long `slow_after_store` waits before answering; `retry_after` the 429 hint.
    """

    kind: str
    slow: float = 2.0
    retry_after: str = "0"


@dataclass
class Store:
    """Every stored event by external id, the ones without, and request statistics."""

    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    anonymous: list[dict[str, Any]] = field(default_factory=list)
    batches: int = 0
    refused: int = 0
    faults: Counter[str] = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return len(self.by_id) + len(self.anonymous)


def _missing(index: int, name: str, event: Any) -> list[dict[str, Any]]:
    members = ("EventCreateCustomer", "EventCreateExternalCustomer")
    return [
        {
            "type": "missing",
            "loc": ["body", "events", index, member, name],
            "msg": "Field required",
            "input": event,
        }
        for member in members
    ]


def _member(event: dict[str, Any]) -> str:
    return "EventCreateCustomer" if "customer_id" in event else "EventCreateExternalCustomer"


def check_event(index: int, event: Any, now: datetime) -> list[dict[str, Any]]:
    """The validation errors of one event, shaped like the real server's."""
    if not isinstance(event, dict):
        return [{"type": "model_type", "loc": ["body", "events", index], "msg": "not an object"}]
    errors: list[dict[str, Any]] = []
    if not isinstance(event.get("name"), str):
        errors += _missing(index, "name", event)
    elif len(event["name"]) > 128:
        errors.append(
            {
                "type": "string_too_long",
                "loc": ["body", "events", index, _member(event), "name"],
                "msg": "String should have at most 128 characters",
            }
        )
    if "customer_id" not in event and "external_customer_id" not in event:
        errors += _missing(index, "customer_id", event)[:1]
        errors += _missing(index, "external_customer_id", event)[1:]
    stamp = event.get("timestamp")
    if stamp is not None:
        try:
            when = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        except ValueError:
            when = None
        if when is None or when.tzinfo is None or when > now:
            errors.append(
                {
                    "type": "value_error",
                    "loc": ["body", "events", index, _member(event), "timestamp"],
                    "msg": "Value error, Timestamp must be in the past.",
                    "input": stamp,
                }
            )
    metadata = event.get("metadata", {})
    if not isinstance(metadata, dict) or len(metadata) > 50:
        errors.append(
            {
                "type": "too_long",
                "loc": ["body", "events", index, _member(event), "metadata"],
                "msg": "metadata",
            }
        )
    else:
        for key, value in metadata.items():
            bad = len(key) > 40 or (
                key not in ("_llm", "_cost")
                and not isinstance(value, (int, float, bool))
                and not (isinstance(value, str) and 0 < len(value) <= 500)
            )
            if bad:
                errors.append(
                    {
                        "type": "value_error",
                        "loc": ["body", "events", index, _member(event), "metadata", key],
                        "msg": "bad metadata value",
                    }
                )
    return errors


def check_customers(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The server's second pass: unknown Polar customer ids (a different error shape)."""
    return [
        {
            "type": "customer_id",
            "loc": ["body", "events", index, "customer_id"],
            "msg": "Customer not found.",
            "input": event["customer_id"],
        }
        for index, event in enumerate(events)
        if "customer_id" in event and event["customer_id"] not in CUSTOMERS
    ]


class IngestServer:
    """See the module docstring. `start()`/`stop()`; `store` holds what was stored."""

    def __init__(self, host: str = "127.0.0.1", *, fault_rate: float = 0.0, seed: int = 0) -> None:
        self.host = host
        self.port = 0
        self.fault_rate = fault_rate
        self.random = random.Random(seed)
        self.store = Store()
        self.lock = threading.Lock()
        self.script: deque[Fault] = deque()
        self.requests = 0
        self.authorization: set[str] = set()
        self.refuse_auth = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def queue_faults(self, faults: Iterable[Fault]) -> None:
        with self.lock:
            self.script.extend(faults)

    def _fault(self) -> Fault | None:
        with self.lock:
            if self.script:
                return self.script.popleft()
        if self.fault_rate and self.random.random() < self.fault_rate:
            kind = self.random.choice(FAULTS)
            return Fault(kind, slow=0.6, retry_after=self.random.choice(("0", "0.05")))
        return None

    def ingest(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """Store a batch the way Polar does; give the status and the JSON answer."""
        try:
            data = json.loads(body)
            events = data["events"]
            assert isinstance(events, list)
        except Exception:
            return 422, {"error": "RequestValidationError", "detail": [{"loc": ["body"]}]}
        now = datetime.now(timezone.utc)
        errors = [e for i, ev in enumerate(events) for e in check_event(i, ev, now)]
        if errors:
            with self.lock:
                self.store.refused += 1
            return 422, {"error": "RequestValidationError", "detail": errors}
        unknown = check_customers(events)
        if unknown:
            with self.lock:
                self.store.refused += 1
            return 422, {"error": "PolarRequestValidationError", "detail": unknown}
        inserted = 0
        with self.lock:
            self.store.batches += 1
            for event in events:
                key = event.get("external_id")
                if key is None:
                    self.store.anonymous.append(event)
                    inserted += 1
                elif key not in self.store.by_id:
                    self.store.by_id[key] = event
                    inserted += 1
        return 200, {"inserted": inserted, "duplicates": len(events) - inserted}

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            if not writer.is_closing():
                writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        with self.lock:
            self.requests += 1
        if method != "POST" or path != "/v1/events/ingest":
            self._write(writer, 404, {"detail": "Not Found"})
            return True
        if self.refuse_auth:
            self._write(writer, 403, {"error": "insufficient_scope", "error_description": "no"})
            return True
        fault = self._fault()
        kind = fault.kind if fault else None
        if kind is not None:
            with self.lock:
                self.store.faults[kind] += 1
        if kind == "reset_before_store":
            self._rst(writer)
            return False
        if kind == "502":
            self._write(writer, 502, b"Bad Gateway")
            return True
        if kind == "503":
            self._write(writer, 503, b"Service Unavailable")
            return True
        if kind == "429":
            self._write(
                writer,
                429,
                {"error": "TooManyRequests", "detail": "slow down"},
                {"retry-after": fault.retry_after if fault else "0"},
            )
            return True
        status, answer = self.ingest(body)
        if kind == "reset_after_store":
            self._rst(writer)
            return False
        if kind == "500_after_store":
            self._write(writer, 500, b"Internal Server Error")
            return True
        if kind == "slow_after_store":
            await asyncio.sleep(fault.slow if fault else 2.0)
        self._write(writer, status, answer)
        await writer.drain()
        return True

    @staticmethod
    def _write(
        writer: asyncio.StreamWriter,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        if isinstance(body, bytes):
            payload, kind = body, "text/plain"
        else:
            payload, kind = json.dumps(body).encode(), "application/json"
        out = [f"HTTP/1.1 {status} X", f"content-type: {kind}", f"content-length: {len(payload)}"]
        out += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + payload)

    @staticmethod
    def _rst(writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    def start(self, port: int = 0) -> None:
        ready: Future[None] = Future()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop

            async def serve() -> None:
                self._server = await asyncio.start_server(
                    self._handle, self.host, port, limit=2**24
                )
                self.port = self._server.sockets[0].getsockname()[1]
                ready.set_result(None)

            loop.run_until_complete(serve())
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.result(timeout=10)

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is None or server is None:
            return

        async def shutdown() -> None:
            server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            await asyncio.sleep(0)
            await server.wait_closed()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:  # handlers still waiting (a slow answer, say)
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        if self._thread is not None:
            self._thread.join(timeout=10)


def new_customer_event(name: str = "api_call", **extra: Any) -> dict[str, Any]:
    """A valid wire event for the default organization's first customer."""
    return {
        "name": name,
        "customer_id": sorted(CUSTOMERS)[0],
        "external_id": str(uuid.uuid4()),
        **extra,
    }


if __name__ == "__main__":  # a standalone server for benchmarks
    server = IngestServer()
    server.start(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(server.port, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
