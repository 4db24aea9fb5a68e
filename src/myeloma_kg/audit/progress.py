"""What a long audit says while it runs, on standard error: a progress bar on a terminal, a line
per phase (and every tenth of the decision points, or half a minute) otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

import click


class Progress:
    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.perf_counter()

    def phase(self, text: str) -> None:
        if not self.quiet:
            click.echo(f"audit [{time.perf_counter() - self.started:6.1f} s] {text}", file=self.stream)

    def count(self, items: Iterable[Any], total: int, label: str) -> Iterator[Any]:
        if self.quiet:
            yield from items
            return
        if self.tty:
            with click.progressbar(items, length=total, label=label, file=self.stream) as bar:
                yield from bar
            return
        step = max(1, total // 10)
        said = time.perf_counter()
        done = 0
        for item in items:
            yield item
            done += 1
            if done % step == 0 or time.perf_counter() - said > 30:
                said = time.perf_counter()
                self.phase(f"{label}: {done} of {total}")
