"""A small progress display for the client commands: percent, bytes, rate and ETA.

On a terminal the bar is redrawn in place with a carriage return; anywhere else
(a pipe, a log file, CI) it prints plain lines, at most one per ``plain_interval``
seconds or per 10 % step, so logs stay readable.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

__all__ = ["ProgressBar", "format_bytes", "format_duration"]

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def _terminal_columns() -> int:
    return max(20, shutil.get_terminal_size((100, 24)).columns)


def format_bytes(value: float) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    amount = float(value)
    for unit in _UNITS:
        if abs(amount) < 1024 or unit == _UNITS[-1]:
            return f"{int(amount)} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def format_duration(seconds: float) -> str:
    """``75`` -> ``"1:15"``; ``3725`` -> ``"1:02:05"``."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    """``update()`` it as work advances, then ``finish()`` once.

    Percent comes from ``percent=`` when the server computes it (jobs), else from
    ``done / total`` bytes (transfers). The rate is measured over the last few
    seconds of byte counts; the ETA follows from it.
    """

    RATE_WINDOW = 5.0

    def __init__(
        self,
        label: str,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        width: int = 28,
        plain_interval: float = 1.0,
        tty_interval: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stdout
        self.tty = self._isatty(self.stream) if tty is None else tty
        self.width = width
        self.plain_interval = plain_interval
        self.tty_interval = tty_interval
        self._last_draw: float | None = None
        self._clock = clock
        self._start = clock()
        self._samples: deque[tuple[float, int]] = deque()
        self._percent = 0.0
        self._done = 0
        self._total: int | None = None
        self._phase: str | None = None
        self._last_width = 0
        self._last_plain_time: float | None = None
        self._last_plain_step = -1
        self._finished = False

    @staticmethod
    def _isatty(stream: TextIO) -> bool:
        try:
            return stream.isatty()
        except (AttributeError, ValueError):
            return False

    # -- state ---------------------------------------------------------------------------

    def update(
        self,
        *,
        done: int | None = None,
        total: int | None = None,
        percent: float | None = None,
        phase: str | None = None,
    ) -> None:
        now = self._clock()
        if total is not None and total > 0:
            self._total = total
        if done is not None:
            self._done = done
            self._samples.append((now, done))
            while len(self._samples) > 2 and now - self._samples[0][0] > self.RATE_WINDOW:
                self._samples.popleft()
        if percent is not None:
            self._percent = max(0.0, min(100.0, percent))
        elif self._total:
            self._percent = min(100.0, 100.0 * self._done / self._total)
        if phase is not None:
            self._phase = phase
        self._render(final=False)

    def finish(self, *, success: bool = True) -> None:
        """Draw the last state (100 % on success) and end the line."""
        if self._finished:
            return
        if success:
            self._percent = 100.0
            if self._total:
                self._done = max(self._done, self._total)
        self._render(final=True)
        self._finished = True

    @property
    def rate(self) -> float:
        """Bytes per second: over the recent window, or since the start."""
        now = self._clock()
        if len(self._samples) >= 2:
            (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
            if t1 - t0 > 0.05:
                return max(0.0, (b1 - b0) / (t1 - t0))
        elapsed = now - self._start
        return self._done / elapsed if elapsed > 0 else 0.0

    def _average_rate(self) -> float:
        elapsed = self._clock() - self._start
        return self._done / elapsed if elapsed > 0 else 0.0

    # -- drawing -----------------------------------------------------------------------------

    def line(self, *, final: bool = False, max_length: int | None = None) -> str:
        """One frame; with ``max_length`` the bar narrows (then the phase goes, then
        the end is cut) so a terminal line never wraps, which would break redraws."""
        text = self._line(self.width, final=final, phase=True)
        if max_length is None or len(text) <= max_length:
            return text
        width = max(10, self.width - (len(text) - max_length))
        text = self._line(width, final=final, phase=True)
        if len(text) > max_length:
            text = self._line(width, final=final, phase=False)
        return text[:max_length]

    def _line(self, width: int, *, final: bool, phase: bool) -> str:
        filled = round(width * self._percent / 100)
        bar = "#" * filled + "-" * (width - filled)
        parts = [f"{self.label} [{bar}] {self._percent:5.1f}%"]
        if self._total:
            parts.append(f"{format_bytes(self._done)} / {format_bytes(self._total)}")
        else:
            parts.append(format_bytes(self._done))
        rate = self._average_rate() if final else self.rate
        parts.append(f"{format_bytes(rate)}/s")
        if final:
            parts.append(f"in {format_duration(self._clock() - self._start)}")
        else:
            parts.append(f"ETA {self._eta(rate)}")
        if self._phase and phase and not final:
            parts.append(self._phase)
        return "  ".join(parts)

    def _eta(self, rate: float) -> str:
        if self._percent >= 100:
            return format_duration(0)
        if self._total and rate > 0:
            return format_duration(max(0, self._total - self._done) / rate)
        elapsed = self._clock() - self._start
        if self._percent > 0 and elapsed > 0:
            return format_duration(elapsed * (100 - self._percent) / self._percent)
        return "--:--"

    def _render(self, *, final: bool) -> None:
        if self._finished:
            return
        if self.tty:
            now = self._clock()
            recent = self._last_draw is not None and now - self._last_draw < self.tty_interval
            if recent and not final:
                return  # a redraw per network chunk would only cost time
            self._last_draw = now
            text = self.line(final=final, max_length=_terminal_columns() - 1)
            padding = " " * max(0, self._last_width - len(text))
            self.stream.write("\r" + text + padding + ("\n" if final else ""))
            self._last_width = len(text)
            self.stream.flush()
            return
        text = self.line(final=final)
        now = self._clock()
        step = int(self._percent // 10)
        if not final and self._percent >= 100:
            return  # finish() prints the last line, with the totals
        due = (
            final
            or self._last_plain_time is None
            or now - self._last_plain_time >= self.plain_interval
            or step > self._last_plain_step
        )
        if due:
            self.stream.write(text + "\n")
            self.stream.flush()
            self._last_plain_time = now
            self._last_plain_step = step
