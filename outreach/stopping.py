"""How outreach stops: a stop signal is a request to finish, never a crash.

A service manager (systemd, a container runtime, cron's timeout) sends
SIGTERM; a person presses Ctrl-C (SIGINT). Either can arrive at any instant,
including the first seconds while the CLI is still importing and checking the
campaign, so there are two phases:

* **Starting.** ``catch_stop_signals()`` is the first thing the ``outreach``
  command does (outreach/__main__.py, before the CLI's imports). SIGTERM and
  SIGINT then raise ``Stopped``, a ``KeyboardInterrupt``, so whatever was
  under way unwinds through its ``with`` blocks (open transactions roll back)
  and the command exits with status 0 and ``Stopped (SIGTERM) before sending
  anything.`` (or ``(Ctrl-C)``). Nothing can have been sent: sending only
  starts inside the next phase.

  Ctrl-C raises ``Stopped`` too, not Python's own ``KeyboardInterrupt``:
  CPython 3.11 marks a bare ``KeyboardInterrupt`` raised inside a string run
  by ``eval()`` (``collections.namedtuple`` does that while modules import)
  as unhandled even when it is caught, and the interpreter then ends a clean
  ``sys.exit(0)`` by killing itself with SIGINT (status -2; it checks for
  that exact type, not for subclasses). Seen about once in 60 stops.
* **Running.** ``stop_requests(event)`` hands both signals to the event loop,
  which only sets ``event``: the engine finishes the messages in flight, gives
  the rest back to the queue and reports; the worker stops its jobs the same
  way. When the run ends, a signal that arrives while the command prints its
  summary is ignored: the command is finishing anyway.

Before the interpreter has run outreach's first line (tens of milliseconds
after the process starts) the kernel's default applies; nothing has happened
yet then.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import asyncio

SIGNALS = (signal.SIGINT, signal.SIGTERM)
NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class Stopped(KeyboardInterrupt):
    """A stop signal while starting: unwinds like Ctrl-C, and says which signal it was."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(NAMES.get(signal.Signals(signum), signal.Signals(signum).name))
        self.signum = signum


def _raise_stopped(signum: int, _frame: FrameType | None) -> None:
    raise Stopped(signum)


class _SendAgain:
    """The unraisable-exception hook of the starting phase.

    Python runs a signal handler wherever the main thread is, also inside a ``__del__`` or a
    weakref callback (importlib's module-lock clean-up, while modules import), where an exception
    cannot propagate: it is printed as "Exception ignored" and dropped, and the stop would be lost.
    Such a ``Stopped`` is not printed; a timer thread sends the signal again 50 ms later, when the
    main thread has left the place that dropped it, so that it lands where it can unwind.
    """

    def __init__(self, previous: Callable[[Any], Any]) -> None:
        self.previous = previous

    def __call__(self, unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, Stopped):
            again = threading.Timer(0.05, os.kill, (os.getpid(), unraisable.exc_value.signum))
            again.daemon = True
            again.start()  # later, not now: sent at once, it would land in this hook, where it is dropped too
            return
        self.previous(unraisable)


def _finishing(_signum: int, _frame: FrameType | None) -> None:
    """A stop request once the run is over: the command is already finishing."""


def catch_stop_signals() -> None:
    """The starting phase: SIGTERM and SIGINT raise ``Stopped`` (see the module's docstring for why not
    Python's own KeyboardInterrupt for SIGINT)."""
    with contextlib.suppress(ValueError):  # not the main thread (an embedding host): leave its handlers
        signal.signal(signal.SIGTERM, _raise_stopped)
        signal.signal(signal.SIGINT, _raise_stopped)
        if not isinstance(sys.unraisablehook, _SendAgain):
            sys.unraisablehook = _SendAgain(sys.unraisablehook)


def stopped_message(exc: KeyboardInterrupt) -> str:
    """What the command prints when a stop signal arrived before it started sending."""
    name = str(exc) if isinstance(exc, Stopped) else "Ctrl-C"
    return f"Stopped ({name}) before sending anything."


def exit_stopped(exc: KeyboardInterrupt) -> NoReturn:
    """Say so and exit 0: stopping on request is a clean exit, which is what a service manager expects."""
    for sig in SIGNALS:  # a second signal while saying so changes nothing
        with contextlib.suppress(ValueError):
            signal.signal(sig, _finishing)
    with contextlib.suppress(OSError):
        print(stopped_message(exc), file=sys.stderr, flush=True)
    sys.exit(0)


def run_starting(start: Callable[[], None]) -> None:
    """The ``outreach`` command's first lines: catch stop signals, then ``start`` (the CLI's imports and the
    command); a stop before sending is a clean exit (``exit_stopped``).

    Python 3.11 wraps an exception raised in a ``__set_name__`` (ipaddress's ``cached_property``, which
    pathlib imports while the CLI loads) in a RuntimeError: a stop landing there is a stop all the same."""
    try:
        catch_stop_signals()  # inside: a signal may land while the second handler is being installed
        start()
    except KeyboardInterrupt as exc:  # SIGTERM (Stopped) or Ctrl-C while the CLI was still loading
        exit_stopped(exc)
    except RuntimeError as exc:
        if not isinstance(exc.__cause__, KeyboardInterrupt):
            raise
        exit_stopped(exc.__cause__)


@contextlib.asynccontextmanager
async def stop_requests(stop: asyncio.Event) -> AsyncIterator[asyncio.Event]:
    """The running phase: SIGINT and SIGTERM set ``stop`` instead of interrupting the code that runs.

    On the way out the handlers that were there before come back, except the starting phase's:
    the run is over, so a late signal is ignored instead of reported as a stop before sending.
    """
    import asyncio

    loop = asyncio.get_running_loop()
    previous: dict[signal.Signals, Any] = {}
    for sig in SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
            before = signal.getsignal(sig)
            loop.add_signal_handler(sig, stop.set)
            previous[sig] = before
    try:
        yield stop
    finally:
        ours = previous.get(signal.SIGTERM) is _raise_stopped  # the outreach command, not a host program
        for sig, before in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, _finishing if ours else before if before is not None else signal.SIG_DFL)
