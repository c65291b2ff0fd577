"""The event-loop thread behind the blocking `Polar` client (hand-written; the facade is generated).

`PortalCore` owns one async client (an `AsyncPolar`) and one anyio `BlockingPortal` running
in a daemon thread of its own. Every blocking call is handed to that loop, so the client's
connection pool lives on exactly one event loop for the life of the `Polar` object:

- the portal starts on first use (or `__enter__`) and stops in `close()`, after the async
  client has been closed on the loop that owns its connections;
- the loop runs on uvloop when it is importable (it is markedly faster than asyncio's own);
- a call from the portal's own thread (an httpx event hook, say) raises `BlockingUsageError`
  instead of waiting on itself forever;
- after `os.fork()` the child drops the parent's thread and pool, builds a fresh async client
  from the same arguments and starts its own portal on first use; the parent is untouched;
- the thread is a daemon and an `atexit` hook closes what is still open, so a script that
  never calls `close()` still exits promptly.

Hand-off: anyio's `BlockingPortal.call` costs two thread round trips per call (one to spawn
the task, one to wait for its result), which the project's sync-facade benchmark (in its repository)
shows as the largest overhead of the facade. Calls therefore take a single trip: the caller
schedules the coroutine with `call_soon_threadsafe` and sleeps until the task's last step
wakes it. The portal itself still runs the loop and performs the start-up and shut-down steps.

The wake-up goes through a small per-thread channel (an eventfd on Linux, a pipe elsewhere on
POSIX) rather than a `threading.Lock`: writing to it releases the GIL while the waiting thread
wakes, so the caller runs on at once, where a lock released with the GIL held makes the two
threads bounce over the GIL (about seven context switches per round trip instead of two,
measured on one core). That suits a lone call; when other calls are in flight, the caller
waits on a lock instead, so that the loop keeps the GIL and goes on with the others (handing
it to each woken caller first cost 16 threads sharing one client up to a fifth of their
throughput). Channels are bounded (`_CHANNELS_MAX` threads at a time hold one); other
threads, Windows and waits with a timeout use the lock.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ._exceptions import BlockingUsageError, ClientClosedError

if TYPE_CHECKING:  # anyio and asyncio load when the first portal starts, not at import
    import asyncio

    from anyio.from_thread import BlockingPortal

__all__ = ["PortalCore"]

_T = TypeVar("_T")

_THREAD_NAME = "polar-sdk-portal"
_START_TIMEOUT = 30.0
_EXIT_TIMEOUT = 5.0


class AsyncClosable(Protocol):
    """What the portal needs from the async client it drives: a way to close it."""

    def aclose(self) -> Coroutine[Any, Any, None]: ...


_C = TypeVar("_C", bound=AsyncClosable)


def _uvloop_available() -> bool:
    return importlib.util.find_spec("uvloop") is not None


_CHANNELS_MAX = 64  # threads holding a wake-up channel at once (one or two fds each)
_channels_lock = threading.Lock()
_channels_live = 0


class _Channel:
    """A thread's wake-up channel: the loop signals it, the thread sleeps in a read of it.

    Both ends release the GIL around the system call. A signal may be left over from a call
    the thread stopped waiting for (KeyboardInterrupt, say): a waiter reads until its own
    call is done, so a stray signal only costs one more read. Pending waiters keep their
    channel alive, so its descriptors are never closed (and reused) before the last signal.
    """

    __slots__ = ("__weakref__", "busy", "read_fd", "write_fd")

    def __init__(self) -> None:
        eventfd = getattr(os, "eventfd", None)
        if eventfd is not None:
            self.read_fd = self.write_fd = eventfd(0, os.EFD_CLOEXEC)
        else:
            self.read_fd, self.write_fd = os.pipe()  # non-inheritable by default
        # A thread waiting here whose signal handler makes a blocking call of its own: that
        # call waits on a lock, or it could read the wake-up meant for the waiting one.
        self.busy = False
        closer = weakref.finalize(self, _close_channel, self.read_fd, self.write_fd, os.getpid())
        # Not at exit: atexit hooks run after it (a caller's `atexit.register(polar.close)`)
        # may still wait on this channel; the process closes the descriptors anyway.
        closer.atexit = False

    def wait(self) -> None:
        if self.read_fd == self.write_fd:
            while True:
                try:
                    os.eventfd_read(self.read_fd)
                    return
                except InterruptedError:  # a signal handler ran; unlike os.read, not retried
                    continue
        os.read(self.read_fd, 64)  # drains stray signals too (retried after signals: PEP 475)

    def signal(self) -> None:
        if self.read_fd == self.write_fd:
            while True:
                try:
                    os.eventfd_write(self.write_fd, 1)
                    return
                except InterruptedError:
                    continue
        os.write(self.write_fd, b"\0")


def _close_channel(read_fd: int, write_fd: int, pid: int) -> None:
    global _channels_live
    if pid == os.getpid():  # a forked child counts only its own channels
        with _channels_lock:
            _channels_live -= 1
    os.close(read_fd)
    if write_fd != read_fd:
        os.close(write_fd)


class _ThreadChannels(threading.local):
    channel: _Channel | None = None
    refused = False  # this thread found every channel taken: it uses locks


_threads = _ThreadChannels()


def _my_channel() -> _Channel | None:
    """The calling thread's wake-up channel, made on its first call; None when out of them."""
    global _channels_live
    mine = _threads
    channel = mine.channel
    if channel is not None:
        return None if channel.busy else channel
    if mine.refused:
        return None
    if os.name != "posix":
        mine.refused = True
        return None
    with _channels_lock:
        if _channels_live >= _CHANNELS_MAX:
            mine.refused = True
            return None
        _channels_live += 1
    try:
        channel = mine.channel = _Channel()
    except OSError:  # out of file descriptors: locks work too
        with _channels_lock:
            _channels_live -= 1
        mine.refused = True
        return None
    return channel


class _Waiter:
    """One pending call: how its caller sleeps (a channel or a lock) and the outcome.

    `finish()` is the loop's last word on the call: it marks it done and wakes the caller.
    """

    __slots__ = ("abandoned", "channel", "done", "error", "lock", "result", "started", "task")

    def __init__(self, channel: _Channel | None) -> None:
        self.channel = channel
        self.lock: threading.Lock | None = None
        if channel is None:
            self.lock = threading.Lock()
            self.lock.acquire()
        self.done = self.started = self.abandoned = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.task: asyncio.Task[Any] | None = None

    def wait(self, timeout: float) -> bool:
        """Sleep until the call is done (`timeout` < 0: no limit); whether it is."""
        channel = self.channel
        if channel is None:
            assert self.lock is not None
            return self.lock.acquire(True, timeout)
        channel.busy = True
        try:
            while not self.done:
                channel.wait()
        finally:
            channel.busy = False
        return True

    def finish(self) -> None:
        channel = self.channel
        self.done = True
        if channel is None:
            assert self.lock is not None
            self.lock.release()
        else:
            channel.signal()

    def cancel(self) -> None:
        """Stop the call for a caller that left (on the loop thread).

        A task cancelled before its first step would never run `_Running._run`, which is
        what takes the call out of `pending` and closes its coroutine: such a task is left
        to start, and stops at once.
        """
        self.abandoned = True
        if self.task is not None and self.started:
            self.task.cancel()


class _Running:
    """A started portal: its thread, its loop and the anyio portal object."""

    __slots__ = ("cancelled", "loop", "pending", "portal", "thread", "thread_id")

    def __init__(self, use_uvloop: bool) -> None:
        import asyncio

        import anyio
        from anyio.from_thread import BlockingPortal

        self.cancelled = asyncio.CancelledError
        ready = threading.Event()
        box: list[Any] = []
        # Calls handed over but not finished. Whatever is left when the loop has ended (a
        # call scheduled just as close() stopped the loop) is failed here, never left waiting.
        self.pending: set[_Waiter] = set()

        async def main() -> None:
            async with BlockingPortal() as portal:
                box.append((portal, asyncio.get_running_loop()))
                ready.set()
                await portal.sleep_until_stopped()

        def run() -> None:
            try:
                anyio.run(main, backend="asyncio", backend_options={"use_uvloop": use_uvloop})
            except BaseException as exc:  # reported to the thread that started us
                box.append(exc)
                ready.set()
            finally:
                for waiter in list(self.pending):
                    self.pending.discard(waiter)
                    waiter.error = _closed_while_running()
                    waiter.finish()

        self.thread = threading.Thread(target=run, name=_THREAD_NAME, daemon=True)
        self.thread.start()
        if not ready.wait(_START_TIMEOUT) or not box:
            raise RuntimeError("the Polar portal thread did not start")
        if isinstance(box[0], BaseException):
            raise box[0]
        self.portal: BlockingPortal = box[0][0]
        self.loop: asyncio.AbstractEventLoop = box[0][1]
        ident = self.thread.ident
        assert ident is not None
        self.thread_id: int = ident

    def submit(
        self,
        fn: Callable[..., Coroutine[Any, Any, _T]],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        timeout: float = -1,
    ) -> _T:
        """Run `fn(*args, **kwargs)` on the loop and wait for its outcome (one round trip)."""
        # A lone call wakes its caller through the thread's channel; with other calls in
        # flight the loop keeps the GIL and goes on with them, so their callers wait on locks.
        waiter = _Waiter(_my_channel() if timeout < 0 and not self.pending else None)
        self.pending.add(waiter)
        try:
            self.loop.call_soon_threadsafe(self._spawn, fn, args, kwargs or {}, waiter)
        except RuntimeError:  # the loop has just been closed by close()
            self.pending.discard(waiter)
            raise _closed_while_running() from None
        try:
            finished = waiter.wait(timeout)
        except BaseException:  # KeyboardInterrupt while waiting: do not leave the task running
            self._cancel_soon(waiter)
            raise
        if not finished:
            self._cancel_soon(waiter)
            raise TimeoutError("the Polar portal did not answer in time")
        error = waiter.error
        if error is not None:
            # The error's traceback holds the frames that hold the waiter (and this frame):
            # without dropping both references, the waiter and its thread's channel would
            # live in a reference cycle until a garbage collection.
            waiter.error = None
            try:
                raise error
            finally:
                del error
        result: _T = waiter.result
        return result

    def _spawn(
        self,
        fn: Callable[..., Coroutine[Any, Any, Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        waiter: _Waiter,
    ) -> None:
        try:
            coroutine = fn(*args, **kwargs)
        except BaseException as exc:  # building the coroutine failed (bad arguments)
            self.pending.discard(waiter)
            waiter.error = exc
            waiter.finish()
            return
        waiter.task = self.loop.create_task(self._run(coroutine, waiter))

    async def _run(self, coroutine: Coroutine[Any, Any, Any], waiter: _Waiter) -> None:
        # The caller is released from the task's last step itself: a done-callback would
        # cost the loop one more turn before the answer is handed over.
        waiter.started = True
        try:
            if waiter.abandoned:  # its caller left before it started
                coroutine.close()
            else:
                waiter.result = await coroutine
        except self.cancelled:
            waiter.error = _closed_while_running()
        except BaseException as exc:
            waiter.error = exc
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt, SystemExit: still the loop's business
        finally:
            self.pending.discard(waiter)
            waiter.task = None
            waiter.finish()

    def _cancel_soon(self, waiter: _Waiter) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            self.loop.call_soon_threadsafe(waiter.cancel)

    def stop(self, timeout: float | None) -> None:
        """Stop the portal (cancelling what still runs) and wait for its thread."""
        try:
            self.submit(_stop_portal(self.portal), timeout=-1 if timeout is None else timeout)
        except (RuntimeError, TimeoutError):  # the loop is gone or stuck: the thread is a daemon
            return
        self.thread.join(timeout)


def _stop_portal(portal: BlockingPortal) -> Callable[[], Coroutine[Any, Any, None]]:
    async def stop() -> None:
        await portal.stop(cancel_remaining=True)

    return stop


class PortalCore(Generic[_C]):
    """Runs an async client's coroutines from blocking code, on a private event-loop thread.

    Args:
        factory: builds the async client; called now (so configuration errors surface in the
            constructor) and again in a forked child.
        owns_transport: `False` when the async client wraps a caller-supplied HTTP client,
            which cannot be rebuilt after a fork.
    """

    __slots__ = (
        "__weakref__",
        "_client",
        "_closed",
        "_factory",
        "_fork_blocked",
        "_fork_pending",
        "_lock",
        "_owns_transport",
        "_run",
    )

    def __init__(self, factory: Callable[[], _C], *, owns_transport: bool = True) -> None:
        self._factory = factory
        self._client: _C = factory()
        self._owns_transport = owns_transport
        self._lock = threading.Lock()
        self._run: _Running | None = None
        self._closed = False
        self._fork_pending = False
        self._fork_blocked = False
        _LIVE.add(self)

    @property
    def client(self) -> _C:
        """The async client calls go to (a fresh one in a forked child)."""
        if self._fork_pending:
            self._rebuild_after_fork()
        return self._client

    @property
    def closed(self) -> bool:
        """Whether `close()` was called."""
        return self._closed

    def start(self) -> None:
        """Start the portal thread now instead of on the first call."""
        if self._run is None:
            self._start()

    def call(self, fn: Callable[..., Coroutine[Any, Any, _T]], /, *args: Any, **kwargs: Any) -> _T:
        """Run the coroutine `fn(*args, **kwargs)` on the portal loop; return or raise its outcome.

        The arguments are deliberately untyped here: the generated facade methods carry the
        precise (overloaded) signatures, and pass their arguments through unchanged.
        """
        run = self._run
        if run is None:
            run = self._start()
        elif threading.get_ident() == run.thread_id:
            raise _loop_thread_error()
        return run.submit(fn, args, kwargs)

    def iterate(
        self, fn: Callable[..., AsyncIterator[_T]], /, *args: Any, **kwargs: Any
    ) -> Iterator[_T]:
        """Drive the async iterator `fn(*args, **kwargs)` with one portal call per item.

        The iterator is closed on the loop when the caller stops early (break, exception or
        garbage collection of the blocking iterator).
        """
        iterator = self.call(_make_iterator(partial(fn, *args, **kwargs)))
        try:
            while True:
                items = self.call(_next_item(iterator))
                if not items:
                    return
                yield items[0]
        finally:
            aclose: Callable[[], Coroutine[Any, Any, None]] | None = getattr(
                iterator, "aclose", None
            )
            if aclose is not None and not self._closed:
                # Collected on the loop thread itself: nothing can wait there.
                with contextlib.suppress(BlockingUsageError):
                    self.call(aclose)

    def close(self, timeout: float | None = None) -> None:
        """Close the async client on its loop, then stop the portal and its thread."""
        with self._lock:
            run = self._run
            if run is not None and threading.get_ident() == run.thread_id:
                raise _loop_thread_error()
            if self._closed:
                return
            self._closed = True
            self._run = None
        _LIVE.discard(self)
        if run is None:
            return  # never started: no connection was ever opened
        try:
            run.submit(self._client.aclose, timeout=-1 if timeout is None else timeout)
        finally:
            run.stop(timeout)

    # internals ---------------------------------------------------------------------------
    def _start(self) -> _Running:
        with self._lock:
            if self._closed:
                raise ClientClosedError("this Polar client is closed; create a new one")
            if self._fork_pending:
                self._rebuild_after_fork_locked()
            if self._fork_blocked:
                raise BlockingUsageError(
                    "this Polar client was created with http_client=... in a parent process; "
                    "that client's connections belong to the parent, so create a new Polar "
                    "(and a new httpx.AsyncClient) in the child process"
                )
            run = self._run
            if run is None:
                run = self._run = _Running(use_uvloop=_uvloop_available())
        return run

    def _rebuild_after_fork(self) -> None:
        with self._lock:
            self._rebuild_after_fork_locked()

    def _rebuild_after_fork_locked(self) -> None:
        if not self._fork_pending:
            return
        self._fork_pending = False
        if self._closed:
            return
        if not self._owns_transport:
            self._fork_blocked = True
            return
        _ABANDONED.append(self._client)
        self._client = self._factory()

    def _after_fork_in_child(self) -> None:
        # The parent's portal thread does not exist here and its sockets must not be shared.
        # Keep the stale objects referenced so that nothing tries to finalise them.
        self._lock = threading.Lock()
        if self._run is not None:
            _ABANDONED.append(self._run)
            self._run = None
        self._fork_pending = True


def _closed_while_running() -> ClientClosedError:
    return ClientClosedError("the Polar client was closed while this call was running")


def _loop_thread_error() -> BlockingUsageError:
    return BlockingUsageError(
        "a blocking Polar method was called from the client's own event-loop thread (for "
        "example inside an httpx event hook); waiting there would deadlock. Use AsyncPolar "
        "with await in async code, or call Polar from another thread"
    )


def _make_iterator(
    fn: Callable[[], AsyncIterator[_T]],
) -> Callable[[], Coroutine[Any, Any, AsyncIterator[_T]]]:
    async def make() -> AsyncIterator[_T]:
        return fn()

    return make


def _next_item(iterator: AsyncIterator[_T]) -> Callable[[], Coroutine[Any, Any, list[_T]]]:
    # StopAsyncIteration must not escape a task: report exhaustion as an empty list instead.
    async def step() -> list[_T]:
        try:
            return [await iterator.__anext__()]
        except StopAsyncIteration:
            return []

    return step


_LIVE: weakref.WeakSet[PortalCore[Any]] = weakref.WeakSet()
_ABANDONED: list[object] = []


def _reset_in_child() -> None:
    global _threads, _channels_lock, _channels_live
    # The parent's channels are shared with it: a read here could take the parent's wake-up.
    # Forget them (their finalizers close this process's copies) and count afresh.
    _channels_lock = threading.Lock()
    _threads = _ThreadChannels()
    _channels_live = 0
    for core in list(_LIVE):
        core._after_fork_in_child()  # pyright: ignore[reportPrivateUsage]


def _close_all_at_exit() -> None:
    for core in list(_LIVE):
        # Exiting anyway: never turn a clean exit into a traceback.
        with contextlib.suppress(Exception):
            core.close(timeout=_EXIT_TIMEOUT)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)
atexit.register(_close_all_at_exit)
