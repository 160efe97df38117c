"""DKIM signing for the sending engine: in its event loop, or spread over worker processes.

Why processes: an RSA-2048 signature costs about a millisecond of CPU in
OpenSSL, several times what rendering and MIME cost together, and it holds
the GIL, so in the event loop it caps a signed blast at one core. Only the
signature moves out: the engine still renders and builds the MIME bytes
(tens of microseconds), ships them to the workers in one batch per
hand-over, and gets back just the ``DKIM-Signature`` fields. The workers hold
nothing but the signer, rebuilt from its key bytes, so they need neither the
database nor the compiled templates.

Durability does not change: signing happens while the rows are only
claimed, before they are committed as ``sending``, exactly where the in-loop
signature happened. A worker that dies breaks the pool; the batch raises
``SigningError``, the engine's run stops with it (loudly), and the claimed
rows go back to the queue like any other interrupted hand-over. Workers
ignore SIGINT and SIGTERM: stopping is the sending process's decision (it
finishes in-flight messages, then shuts the pool down).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from outreach.dkimsign import DkimSigner, crlf
from outreach.errors import SigningError

_WORKER_SIGNER: DkimSigner | None = None


def _start_worker(signer: DkimSigner) -> None:
    global _WORKER_SIGNER  # one per worker process, set once by the pool's initializer
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _WORKER_SIGNER = signer


def _signatures(messages: list[bytes]) -> list[bytes]:
    assert _WORKER_SIGNER is not None
    return [_WORKER_SIGNER.signature(m) for m in messages]


class Signing:
    """Signs the engine's batches with ``signer`` (None: DKIM off, messages pass through).

    ``processes`` 1 signs in the event loop, yielding between messages so the
    SMTP connections keep moving; more starts that many worker processes
    (spawned, not forked: the sending process has a running loop and database
    connections) on the first batch.
    """

    def __init__(self, signer: DkimSigner | None, processes: int = 1) -> None:
        self.signer = signer
        self.processes = max(1, processes)
        self.pool: ProcessPoolExecutor | None = None

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
        return [s + m for s, m in zip(await self._in_workers(messages), messages, strict=True)]

    async def _in_workers(self, messages: list[bytes]) -> list[bytes]:
        if self.pool is None:
            self.pool = ProcessPoolExecutor(self.processes, multiprocessing.get_context("spawn"),
                                            initializer=_start_worker, initargs=(self.signer,))  # fmt: skip
        loop = asyncio.get_running_loop()
        size = -(-len(messages) // self.processes)
        parts = [messages[i : i + size] for i in range(0, len(messages), size)]
        try:
            done = await asyncio.gather(*(loop.run_in_executor(self.pool, _signatures, p) for p in parts))
        except BrokenProcessPool as exc:
            raise SigningError(f"a DKIM signing process died ({exc}); the messages it held were not sent "
                               "and are back in the queue; run the send again") from None  # fmt: skip
        return [s for part in done for s in part]

    def close(self) -> None:
        """Stop the workers (idempotent); they have nothing to flush."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
