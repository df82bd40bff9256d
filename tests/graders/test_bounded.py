"""Grader workers belong to the process that started them: a forked process grades with its
own, never through its parent's pipes."""

from __future__ import annotations

import os
import signal
import time

from m1eval.graders.bounded import call_bounded


class Echo:
    """A stand-in suite: ``square`` returns its argument squared, slowly enough for two
    processes' calls to overlap."""

    def square(self, x: int) -> int:
        time.sleep(0.2)
        return x * x


def test_forked_processes_grade_with_their_own_workers() -> None:
    suite = Echo()
    assert call_bounded(suite, "square", 3) == 9  # the parent's workers are started
    children = []
    for x in (5, 7):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit status
            try:
                signal.alarm(30)  # a child that waits on its parent's worker never returns
                os._exit(0 if [call_bounded(suite, "square", x) for _ in range(3)] == [x * x] * 3
                         else 1)  # fmt: skip
            except BaseException:
                os._exit(2)
        children.append(pid)
    statuses = [os.waitpid(pid, 0)[1] for pid in children]
    assert [os.waitstatus_to_exitcode(s) for s in statuses] == [0, 0]
    assert call_bounded(suite, "square", 4) == 16  # the parent's workers still answer


def test_a_worker_that_died_while_idle_is_replaced_not_blamed_on_the_next_output() -> None:
    """A grader worker killed between gradings (the OOM killer, a test runner's clean-up)
    must not turn the next grading into "grading failed on the model's output"."""
    from m1eval.graders import bounded

    suite = Echo()
    assert call_bounded(suite, "square", 2) == 4
    pool = bounded._pool()
    idle = [pool._idle.get() for _ in range(pool.size)]
    for worker in idle:
        if worker is not None:
            worker.proc.kill()
            worker.proc.join(5)
        pool._idle.put(worker)
    assert [call_bounded(suite, "square", x) for x in range(1, 6)] == [1, 4, 9, 16, 25]


def test_shutdown_stops_the_workers_and_they_start_again() -> None:
    from m1eval.graders import bounded

    suite = Echo()
    assert call_bounded(suite, "square", 3) == 9
    bounded.shutdown()
    pool = bounded._pool()
    idle = [pool._idle.get() for _ in range(pool.size)]
    assert idle == [None] * pool.size
    for worker in idle:
        pool._idle.put(worker)
    assert call_bounded(suite, "square", 5) == 25
