"""DKIM signing for the sending engine: in its event loop, or spread over worker processes.

Why processes: an RSA-2048 signature costs about a millisecond of CPU in
OpenSSL, several times what rendering and MIME cost together, and it holds
the GIL, so in the event loop it caps a signed blast at one core. Only the
signature moves out: the engine still renders and builds the MIME bytes
(tens of microseconds), ships them to the workers in one batch per
hand-over, and gets back just the ``DKIM-Signature`` fields. The workers hold
nothing but the signer, rebuilt from its key bytes, so they need neither the
database nor the compiled templates.

Why plain subprocesses on pipes rather than ``multiprocessing``: a spawned
multiprocessing child re-runs the parent's main script (a user's script
without a ``__main__`` guard would start sending again in every worker), and
its executor adds two threads that contend for the GIL with the event loop.
Here each worker is ``python -m outreach.sending.signing`` talking
length-prefixed pickles over its stdin and stdout; the event loop reads the
answers like any other socket, and a worker whose parent dies (even by
SIGKILL) sees its stdin close and exits.

Durability does not change: signing happens while the rows are only
claimed, before they are committed as ``sending``, exactly where the in-loop
signature happened. A worker that dies or fails makes the batch raise
``SigningError``; the engine's run stops with it (loudly), and the claimed
rows go back to the queue like any other interrupted hand-over. Workers
ignore SIGINT and SIGTERM: stopping is the sending process's decision (it
finishes in-flight messages, then closes the workers' stdin).
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import struct
import sys
from pathlib import Path
from typing import BinaryIO

from outreach.content.dkim import DkimSigner, crlf
from outreach.errors import SigningError

_LENGTH = struct.Struct(">I")
BATCH_TIMEOUT = 120.0  # seconds
_NOT_SENT = "the messages it held were not sent and are back in the queue; run the send again"


def _frame(obj: object) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


class _Worker:
    """One signing subprocess and its two pipes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, signer: DkimSigner) -> _Worker:
        package_root = str(Path(__file__).resolve().parents[2])  # importable even when outreach is not installed
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root,
                                                                          os.environ.get("PYTHONPATH")]))}  # fmt: skip
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "outreach.sending.signing", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        worker = cls(proc)
        worker.send(signer)  # the key travels over the pipe, never on a command line or in the environment
        return worker

    def send(self, obj: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(_frame(obj))

    async def receive(self) -> list[bytes]:
        assert self.proc.stdout is not None
        assert self.proc.stdin is not None
        await self.proc.stdin.drain()
        (size,) = _LENGTH.unpack(await self.proc.stdout.readexactly(_LENGTH.size))
        signatures: list[bytes] = pickle.loads(await self.proc.stdout.readexactly(size))
        return signatures

    async def why_dead(self) -> str:
        assert self.proc.stderr is not None
        try:
            code = await asyncio.wait_for(self.proc.wait(), 5)
            err = (await asyncio.wait_for(self.proc.stderr.read(), 5)).decode(errors="replace").strip()
        except TimeoutError:
            return "it stopped answering"
        last = err.splitlines()[-1] if err else ""
        return f"exit status {code}" + (f": {last}" if last else "")

    async def close(self) -> None:
        if self.proc.returncode is None and self.proc.stdin is not None:
            self.proc.stdin.close()  # the worker's signal to exit
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


class Signing:
    """Signs the engine's batches with ``signer`` (None: DKIM off, messages pass through).

    ``processes`` 1 signs in the event loop, yielding between messages so the
    SMTP connections keep moving; more starts that many worker processes on
    the first batch.
    """

    def __init__(self, signer: DkimSigner | None, processes: int = 1) -> None:
        self.signer = signer
        self.processes = max(1, processes)
        self.workers: list[_Worker] = []
        self.lock = asyncio.Lock()

    async def sign(self, messages: list[bytes]) -> list[bytes]:
        """The messages (in CRLF form) with their signature fields prepended, in order."""
        if self.signer is None:
            return messages
        messages = [crlf(m) for m in messages]
        if self.processes == 1:
            signed = []
            for m in messages:
                signed.append(self.signer.signature(m) + m)
                await asyncio.sleep(0)
            return signed
        async with self.lock:  # one batch in the pipes at a time
            signatures = await self._in_workers(messages)
        return [s + m for s, m in zip(signatures, messages, strict=True)]

    async def _in_workers(self, messages: list[bytes]) -> list[bytes]:
        assert self.signer is not None
        if not self.workers:
            self.workers = list(await asyncio.gather(*(_Worker.start(self.signer) for _ in range(self.processes))))
        size = -(-len(messages) // self.processes)
        busy = []
        for worker, start in zip(self.workers, range(0, len(messages), size), strict=False):
            worker.send(messages[start : start + size])
            busy.append(worker)
        try:  # a batch takes milliseconds; a worker silent this long is stuck
            done = await asyncio.wait_for(asyncio.gather(*(w.receive() for w in busy), return_exceptions=True),
                                          BATCH_TIMEOUT)  # fmt: skip
        except TimeoutError:
            raise SigningError(f"a DKIM signing process did not answer within {BATCH_TIMEOUT:g} s; "
                               f"{_NOT_SENT}") from None  # fmt: skip
        signatures: list[bytes] = []
        for worker, part in zip(busy, done, strict=True):
            if isinstance(part, BaseException):
                raise SigningError(f"a DKIM signing process died ({await worker.why_dead()}); {_NOT_SENT}")
            signatures += part
        return signatures

    async def close(self) -> None:
        """Stop the workers (idempotent); they have nothing to flush."""
        workers, self.workers = self.workers, []
        await asyncio.gather(*(w.close() for w in workers))


def _read_frame(stream: BinaryIO) -> object | None:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None  # stdin closed: the parent is done (or gone)
    (size,) = _LENGTH.unpack(head)
    return pickle.loads(stream.read(size))


def worker_main() -> None:
    """The worker: read the signer, then batches of messages; answer each with their signature fields."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    signer = _read_frame(stdin)
    assert isinstance(signer, DkimSigner)
    while (batch := _read_frame(stdin)) is not None:
        assert isinstance(batch, list)
        stdout.write(_frame([signer.signature(m) for m in batch]))
        stdout.flush()


if __name__ == "__main__":
    worker_main()
