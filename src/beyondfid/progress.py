"""Progress bars that stay readable in logs.

DVC passes a stage's stderr through, so a long stage talks through its tqdm bar. On a terminal
that is the usual in-place bar (refreshed at most once a second). When stderr is *not* a
terminal (a CI log, ``dvc repro 2> log``, papermill) an in-place bar would be one endless line
of carriage returns, so :func:`progress_bar` then writes one plain line every ``interval``
seconds instead (default :data:`LOG_INTERVAL_S`, or the environment variable
``BEYONDFID_PROGRESS_INTERVAL``), plus the first and the final state; every line carries the
count, the rate, the elapsed time and the ETA, e.g.::

    ddpm_s: 24%|##4       | 600/2500 [00:31<01:38, 19.3it/s]

Use it wherever tqdm would be used: ``progress_bar(total=n, desc="features", unit="img")`` or
``for x in progress_bar(items, desc="check"): ...``.
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any, TextIO

#: Seconds between two lines when the output is not a terminal.
LOG_INTERVAL_S = 30.0
TTY_INTERVAL_S = 1.0


class LineWriter(io.TextIOBase):
    """A text stream wrapper that turns tqdm's in-place updates into whole lines.

    tqdm writes ``"\\r" + status + padding``; this writes ``status + "\\n"`` and drops empty
    writes (tqdm's clearing of a bar and its final bare newline)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self._last = ""

    def write(self, s: str) -> int:
        text = str(s).replace("\r", "").strip()
        count = text.split(" [", 1)[0]  # "desc: 40%|####  | 4/10": a line per new count, not per refresh
        if text and count != self._last:
            self.stream.write(text + "\n")
            self.stream.flush()
            self._last = count
        return len(s)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def log_interval() -> float:
    """Seconds between progress lines in logs: ``BEYONDFID_PROGRESS_INTERVAL`` or :data:`LOG_INTERVAL_S`."""
    raw = os.environ.get("BEYONDFID_PROGRESS_INTERVAL", "")
    try:
        value = float(raw) if raw else LOG_INTERVAL_S
    except ValueError:
        raise ValueError(f"BEYONDFID_PROGRESS_INTERVAL must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"BEYONDFID_PROGRESS_INTERVAL must be >= 0, got {value}")
    return value


def progress_bar(iterable: Any = None, *, total: float | None = None, desc: str = "", unit: str = "it",
                 initial: float = 0,
                 disable: bool = False, file: TextIO | None = None, interval: float | None = None,
                 **kwargs: Any) -> Any:
    """A ``tqdm`` bar with an ETA: in place on a terminal, one line per ``interval`` seconds otherwise.

    ``file`` defaults to ``sys.stderr``; ``interval`` (only for non-terminals) to :func:`log_interval`.
    Other keyword arguments go to ``tqdm`` (e.g. ``leave``; on non-terminals the final line is always
    kept).
    """
    from tqdm import tqdm

    stream = sys.stderr if file is None else file
    if _is_tty(stream):
        kwargs.setdefault("mininterval", TTY_INTERVAL_S)
        return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, disable=disable, file=stream,
                    **kwargs)
    every = log_interval() if interval is None else float(interval)
    kwargs.pop("leave", None)
    return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, disable=disable, file=LineWriter(stream),
                mininterval=every, maxinterval=max(every, 1.0), miniters=1, ascii=True, ncols=90,
                dynamic_ncols=False, leave=True, **kwargs)
