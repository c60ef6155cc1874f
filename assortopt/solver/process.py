"""A job in a second Python process that can be killed: the hard edge of a time limit.

HiGHS does not ask its interrupt callbacks everywhere (README.md, "Time limits"), so a run in
this process can outlast its limit by minutes on a large model. A job run in a `Child` can't:
the caller waits for its messages until the deadline and then kills it, keeping what it said.
The two ends talk through the child's stdin and stdout, one pickled message at a time.

The child runs ``target(job, send, inbox)``: ``target`` names a function as
``"package.module:function"`` (imported in the child), ``send(message)`` pickles one message to
the caller, ``inbox`` yields the caller's messages until the caller goes away (then the child
exits: it never outlives its caller). An exception in the target reaches the caller as
``error``, one line.
"""

from __future__ import annotations

import importlib
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

__all__ = ["Child"]


class Child:
    """``target(job, send, inbox)`` in a second process; its messages collected by a thread.

    `take` returns the messages received since the last call, `send` queues one for the child
    (a thread writes, so the caller never waits on the pipe), `wait` waits for the end or a
    deadline, `close` kills the process if it still runs. ``error`` is the child's error line,
    or a sentence naming its exit status when it ended without a word.
    """

    #: How the process is started (a class attribute so that a test can make it fail).
    command: tuple[str, ...] = (sys.executable, "-m", "assortopt.solver.process")

    def __init__(self, target: str, job: Any, verbose: bool = False) -> None:
        import assortopt

        root = os.path.dirname(os.path.dirname(os.path.abspath(assortopt.__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            list(self.command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if verbose else subprocess.DEVNULL,
            env=env,
        )
        self.lock = threading.Lock()
        self.received: list[tuple[Any, ...]] = []
        self.error: str | None = None
        self.killed = False
        self.ended = threading.Event()
        # the pipe holds 64 KiB: writing the job waits for the child to read it, after its
        # imports, so a thread writes everything, in order
        self.outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.outbox.put((target, job))
        self.writer = threading.Thread(target=self._write, daemon=True)
        self.writer.start()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def send(self, message: Any) -> None:
        """Queue ``message`` for the child (dropped if it has ended)."""
        self.outbox.put(message)

    def take(self) -> list[tuple[Any, ...]]:
        """The messages received since the last call, in order."""
        with self.lock:
            out, self.received = self.received, []
            return out

    def wait(self, until: float) -> bool:
        """Wait until the child has ended (True) or ``time.perf_counter()`` passes ``until``."""
        return self.ended.wait(max(0.0, until - time.perf_counter()))

    def close(self) -> None:
        """Kill the child if it still runs and collect the threads."""
        with self.lock:
            self.killed = self.proc.poll() is None
        self.proc.kill()
        self.proc.wait()
        self.outbox.put(None)
        self.writer.join(timeout=5.0)
        self.reader.join(timeout=5.0)

    def _write(self) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        while (message := self.outbox.get()) is not None:
            try:
                pickle.dump(message, stdin, protocol=pickle.HIGHEST_PROTOCOL)
                stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                return  # the child has ended: what it said is in self.received / self.error

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            try:
                message = pickle.load(out)
            except (EOFError, OSError, pickle.UnpicklingError, ValueError):
                break
            with self.lock:
                if message[0] == "error":
                    self.error = message[1]
                else:
                    self.received.append(message)
        code = self.proc.wait()
        with self.lock:
            if self.error is None and not self.killed and code != 0:
                self.error = f"the process ended with exit status {code}"
        self.ended.set()


def _inbox(inp: BinaryIO) -> Iterator[Any]:
    while True:
        try:
            yield pickle.load(inp)
        except (EOFError, OSError, pickle.UnpicklingError, ValueError):
            os._exit(0)  # the caller has gone: nobody is waiting for this job any more


def _resolve(target: str) -> Callable[..., Any]:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _main() -> None:
    import traceback

    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray output (HiGHS's log) goes to stderr, never into the messages
    inp = sys.stdin.buffer
    target, job = pickle.load(inp)
    lock = threading.Lock()

    def send(message: Any) -> None:
        with lock:
            pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()

    try:
        _resolve(target)(job, send, _inbox(inp))
    except Exception:  # noqa: BLE001 - reported to the caller, which decides
        send(("error", traceback.format_exc().strip().splitlines()[-1]))


if __name__ == "__main__":
    _main()
