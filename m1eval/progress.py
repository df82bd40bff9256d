"""A progress bar with ETA, token throughput and outcome counts (on stderr)."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from m1eval import activity
from m1eval.records import INFRA_ERROR, MODEL_FAILURE, SCORED, SKIPPED

LOG_INTERVAL_S = float(os.environ.get("M1EVAL_LOG_INTERVAL_S", "10"))
REFRESH_S = 1.0


def _tick_s(logging: bool) -> float:
    """How often the ticker wakes: a live bar refreshes every REFRESH_S; in logs, a line is due
    every LOG_INTERVAL_S, so an interval below REFRESH_S is honoured, not rounded up to it."""
    return min(REFRESH_S, LOG_INTERVAL_S) if logging else REFRESH_S


class RunProgress:
    def __init__(self, description: str, total: int, done: int, enabled: bool = True) -> None:
        self.enabled = enabled
        self.tokens = 0
        self.counts = {SCORED: 0, MODEL_FAILURE: 0, INFRA_ERROR: 0, SKIPPED: 0}
        self.started = time.perf_counter()
        self._progress: Progress | None = None
        self._task: Any = None
        self._description = description
        self._total = total
        self._done = done
        self._log_console: Console | None = None
        self._last_log = 0.0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self.activity = activity.reset()

    def __enter__(self) -> RunProgress:
        console = Console(file=sys.stderr)
        if self.enabled and not console.is_terminal:
            # Logs (CI, nohup): a plain line every LOG_INTERVAL_S instead of a live bar, also
            # while no sample finishes (a long prefill, an agent's episode)
            self._log_console = console
            self._last_log = time.perf_counter()
            self._start_ticker()
            return self
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("•"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                TextColumn("• {task.fields[tps]} tok/s • {task.fields[outcomes]}"),
                TextColumn("• {task.fields[now]}"),
                console=console,
                refresh_per_second=4,
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                self._description,
                total=self._total,
                completed=self._done,
                tps="0",
                outcomes=self._outcomes(),
                now="starting",
            )
            self._start_ticker()
        return self

    def _start_ticker(self) -> None:
        self._ticker = threading.Thread(target=self._tick, daemon=True, name="m1eval-progress")
        self._ticker.start()

    def _tick(self) -> None:
        """Signs of life between finished samples: live tokens/s and what is in flight."""
        while not self._stop.wait(_tick_s(self._log_console is not None)):
            if self._progress is not None:
                self._progress.update(self._task, tps=f"{self.tokens_per_second:,.1f}",
                                      now=self._now())  # fmt: skip
            elif self._log_console is not None:
                now = time.perf_counter()
                if now - self._last_log >= LOG_INTERVAL_S:
                    self._last_log = now
                    self._log_console.print(self.status_line(), highlight=False, soft_wrap=True)

    def _outcomes(self) -> str:
        text = (
            f"ok {self.counts[SCORED]} · fail {self.counts[MODEL_FAILURE]} · "
            f"err {self.counts[INFRA_ERROR]}"
        )
        return text + (f" · skip {self.counts[SKIPPED]}" if self.counts[SKIPPED] else "")

    def _now(self) -> str:
        retried = self.activity.retried()
        return f"{retried} · {self.activity.describe()}" if retried else self.activity.describe()

    def advance(self, outcome: str, completion_tokens: int | None) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        self.tokens += completion_tokens or 0
        self._done += 1
        if self._log_console is not None:
            now = time.perf_counter()
            if now - self._last_log >= LOG_INTERVAL_S or self._done == self._total:
                self._last_log = now
                self._log_console.print(self.status_line(), highlight=False, soft_wrap=True)
        if self._progress is not None:
            self._progress.update(
                self._task,
                advance=1,
                tps=f"{self.tokens_per_second:,.1f}",
                outcomes=self._outcomes(),
            )

    def status_line(self) -> str:
        elapsed = time.perf_counter() - self.started
        asked = sum(self.counts.values())
        remaining = self._total - self._done
        eta = f"{remaining * elapsed / asked:.0f} s" if asked else "unknown until a sample ends"
        retried = self.activity.retried()
        return (
            f"{self._description}: {self._done}/{self._total} samples, "
            f"elapsed {elapsed:.0f} s, eta {eta}, {self.tokens_per_second:,.1f} tok/s, "
            f"{self._outcomes()}{'; ' + retried if retried else ''}; "
            f"now: {self.activity.describe()}"
        )

    @property
    def tokens_per_second(self) -> float:
        """Tokens streamed so far (live, unfinished requests included) per second."""
        elapsed = time.perf_counter() - self.started
        tokens = max(self.tokens, self.activity.streamed_tokens)
        return tokens / elapsed if elapsed > 0 else 0.0

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
        if self._progress is not None:
            self._progress.stop()


class StepProgress:
    """What a long task that has no samples (an image build) is doing: its stage, a count
    within the stage and the elapsed time. A spinner line in a terminal; in logs a line at each
    stage change and every ``LOG_INTERVAL_S`` seconds, so a quiet minute never looks hung."""

    def __init__(self, title: str, enabled: bool = True, file: Any = None) -> None:
        self.title = title
        self.enabled = enabled
        self.stage_name = "starting"
        self.done = 0
        self.total: int | None = None
        self.detail = ""
        self.started = time.perf_counter()
        self._console = Console(file=file or sys.stderr)
        self._status: Any = None
        self._last_log = 0.0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> StepProgress:
        if self.enabled:
            if self._console.is_terminal:
                self._status = self._console.status(self.line())
                self._status.start()
            self._ticker = threading.Thread(target=self._tick, daemon=True, name="m1eval-steps")
            self._ticker.start()
        return self

    def stage(self, name: str, total: int | None = None, done: int = 0) -> None:
        """A new stage (``done`` of ``total`` already done, for a stage that resumes)."""
        self.stage_name, self.total, self.done, self.detail = name, total, done, ""
        if self.enabled and self._status is None:
            self._log()
        self._refresh()

    def update(self, detail: str = "", advance: int = 1) -> None:
        self.done += advance
        self.detail = detail
        self._refresh()

    def line(self) -> str:
        count = ""
        if self.done or self.total:
            count = f" {self.done}" + (f"/{self.total}" if self.total else "")
        detail = f" ({self.detail})" if self.detail else ""
        elapsed = time.perf_counter() - self.started
        return f"{self.title}: {self.stage_name}{count}{detail} · {elapsed:.0f} s"

    def _refresh(self) -> None:
        if self._status is not None:
            self._status.update(self.line())

    def _log(self) -> None:
        self._last_log = time.perf_counter()
        self._console.print(self.line(), highlight=False, soft_wrap=True, markup=False)

    def _tick(self) -> None:
        while not self._stop.wait(_tick_s(self._status is None)):
            if self._status is not None:
                self._refresh()
            elif time.perf_counter() - self._last_log >= LOG_INTERVAL_S:
                self._log()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
        if self._status is not None:
            self._status.stop()
