"""Run a request in a worker thread while telling the user that it runs and for how long.

The main thread waits with a short poll, so Ctrl-C (``KeyboardInterrupt``) stops the wait
at once and leaves the kernel usable; the worker is a daemon thread whose late answer is
dropped. Feedback goes where the user looks:

- in a Jupyter kernel, one output line updated in place (a display with a ``display_id``):
  ``Running query on https://my_cluster.scuba.io… 3.2 s``, replaced by the receipt;
- in a terminal IPython, the same line rewritten with ``\\r`` on stderr, then erased;
- elsewhere (scripts, tests), nothing until the receipt.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["QueryInterrupted", "run_with_progress"]

T = TypeVar("T")

# how often the waiting thread wakes up: bounds the delay before Ctrl-C is seen
POLL_SECONDS = 0.05
# quick answers show no progress line at all, so nothing flickers
SHOW_AFTER_SECONDS = 0.3
UPDATE_EVERY_SECONDS = 0.2

INTERRUPTED_MESSAGE = "Stopped waiting for the query; the server may still be running it."


class QueryInterrupted(Exception):
    """Raised when the user pressed Ctrl-C while waiting for an answer."""

    def __init__(self) -> None:
        super().__init__(INTERRUPTED_MESSAGE)


class _Worker(threading.Thread):
    def __init__(self, call: Callable[[], Any]) -> None:
        # daemon: a query abandoned with Ctrl-C must not keep the interpreter from exiting
        super().__init__(name="scuba-magic-query", daemon=True)
        self._call = call
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self.result = self._call()
        except BaseException as exc:  # handed to the waiting thread, which re-raises it
            self.error = exc
        finally:
            self.done.set()


class _Feedback:
    """Shows nothing while waiting; prints the receipt. Base of the live variants."""

    def show(self, text: str) -> None:
        """Show (or update) the running line."""

    def finish(self, receipt: str | None) -> None:
        """Replace the running line by the receipt (``None``: remove it)."""
        if receipt:
            print(receipt)


class _DisplayFeedback(_Feedback):
    """One updating output line in a Jupyter frontend."""

    def __init__(self) -> None:
        self._handle: Any = None

    def show(self, text: str) -> None:
        from IPython.display import display

        bundle = {"text/plain": text}
        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    def finish(self, receipt: str | None) -> None:
        if self._handle is None:
            super().finish(receipt)
        else:
            # an empty bundle draws nothing: the running line disappears
            self._handle.update({"text/plain": receipt} if receipt else {}, raw=True)


class _TerminalFeedback(_Feedback):
    """A line rewritten in place on a terminal's stderr."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._width = 0

    def show(self, text: str) -> None:
        self._width = max(self._width, len(text))
        self._stream.write("\r" + text.ljust(self._width))
        self._stream.flush()

    def finish(self, receipt: str | None) -> None:
        if self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
        super().finish(receipt)


def _feedback_for(shell: Any) -> _Feedback:
    if shell is not None and getattr(shell, "kernel", None) is not None:
        return _DisplayFeedback()
    stream = sys.stderr
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return _TerminalFeedback(stream)
    return _Feedback()


def run_with_progress(
    call: Callable[[], T],
    *,
    host: str,
    shell: Any = None,
    receipt: Callable[[T, float], str | None] | None = None,
    label: str = "Running query",
) -> tuple[T, float]:
    """Call ``call()`` in a worker thread and wait for it, showing a running line.

    Args:
        call: the request to make; its exception, if any, is re-raised here.
        host: named in the running line.
        shell: the IPython shell; a kernel's shell gets an updating display.
        receipt: builds the line left when the call succeeded, from its result and the
            elapsed seconds; ``None`` (or a callable returning ``None``) leaves nothing.
        label: what is running, e.g. ``"Running query"``.

    Returns:
        The call's result and the elapsed seconds.

    Raises:
        QueryInterrupted: Ctrl-C was pressed while waiting; the worker is abandoned.
    """
    feedback = _feedback_for(shell)
    worker = _Worker(call)
    started = time.monotonic()
    worker.start()
    shown_at = 0.0
    try:
        while not worker.done.wait(POLL_SECONDS):
            elapsed = time.monotonic() - started
            if elapsed >= SHOW_AFTER_SECONDS and elapsed - shown_at >= UPDATE_EVERY_SECONDS:
                feedback.show(f"{label} on {host}… {elapsed:.1f} s")
                shown_at = elapsed
    except KeyboardInterrupt:
        feedback.finish(None)
        raise QueryInterrupted() from None
    elapsed = time.monotonic() - started
    if worker.error is not None:
        feedback.finish(None)
        raise worker.error
    feedback.finish(receipt(worker.result, elapsed) if receipt else None)
    return worker.result, elapsed
