"""Grading predictions with the official ``swebench`` harness (5.x), in Docker.

For each prediction, ``swebench.harness.utils.make_test_spec`` builds the test spec from the
instance row and ``swebench.harness.run_evaluation.run_instance`` does the rest, exactly as
the official harness: it starts the instance image, applies the patch (git apply, then its
fallbacks), runs the instance's eval script and grades the log with the repository's parser
(resolved iff every FAIL_TO_PASS and PASS_TO_PASS test passes). Its logs and per-instance
``report.json`` are kept under the run directory; their verdicts are merged into our records.

Outcomes: an empty patch or one that does not apply is a ``model_failure``, and so is what the
integrity rules (:mod:`m1eval.swebench.integrity`) catch; a missing image, a container error or
a test command the environment cannot start (without the patch too) is an ``infra_error``;
everything else is ``scored`` (1 if resolved), including instances swebench flags as likely
environment failures (its flag is advisory: they stay unresolved in its denominator, and in
ours). A verdict is reused only for the same patch, image id, swebench version and timeout.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import re
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from m1eval.hashing import stable_hash
from m1eval.records import INFRA_ERROR, MODEL_FAILURE, SCORED
from m1eval.sandbox.errors import SandboxError
from m1eval.sandbox.image import docker_client
from m1eval.swebench.integrity import (
    UNRUNNABLE_CODES,
    exit_code,
    forged_status,
    graded_tests,
    infra_files,
)

DEFAULT_TIMEOUT_S = 1800
_LOG_ROOT_LOCK = threading.Lock()
_RELATIVE_LOG_DIR = Path("logs/run_evaluation")
# swebench names its container and its logger after the instance (and run id): two gradings
# of one instance at the same time would remove each other's container and mix their logs.
# One Docker daemon per host: the lock is per host, across processes (the Ray executor runs
# gradings in several worker processes of a node), a thread lock plus a file lock.
_INSTANCE_LOCKS: dict[str, threading.Lock] = {}
_INSTANCE_LOCKS_GUARD = threading.Lock()
_LOCK_DIR = Path(tempfile.gettempdir()) / "m1eval-swebench-locks"


def _lock_name(instance_id: str) -> str:
    return hashlib.sha256(instance_id.encode()).hexdigest()[:24]


@contextlib.contextmanager
def _instance_lock(instance_id: str) -> Iterator[None]:
    with _INSTANCE_LOCKS_GUARD:
        thread_lock = _INSTANCE_LOCKS.setdefault(instance_id, threading.Lock())
    name = _lock_name(instance_id)
    with thread_lock:
        _LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
        with open(_LOCK_DIR / f"{name}.lock", "a") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


# A grading's container, named in a ledger beside its instance lock while swebench runs it
# and removed after: a ledger whose lock nobody holds is a grading that never ended (kill -9),
# and its container (swebench's `tail -f /dev/null`, kept alive forever) is removed.
def _ledger(instance_id: str) -> Path:
    return _LOCK_DIR / f"{_lock_name(instance_id)}.container"


def _remove_containers(client: Any, name: str) -> int:
    """Remove the container ``name`` and swebench's retry names for it (``name.<time>``)."""
    removed = 0
    try:
        found = client.containers.list(all=True, filters={"name": name})
    except Exception:  # the daemon's trouble shows in the grading itself
        return 0
    for container in found:
        if container.name == name or container.name.startswith(name + "."):
            with contextlib.suppress(Exception):
                container.remove(force=True)
                removed += 1
    return removed


def sweep_orphan_gradings(client: Any) -> int:
    """Remove the containers of gradings on this host whose process is gone; their count."""
    removed = 0
    for ledger in sorted(_LOCK_DIR.glob("*.container")) if _LOCK_DIR.is_dir() else []:
        with open(ledger.with_suffix(".lock"), "a") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live grading holds it
            try:
                removed += _clear_ledger(client, ledger)
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return removed


def _clear_ledger(client: Any, ledger: Path) -> int:
    try:
        name = ledger.read_text().strip()
    except OSError:
        return 0
    removed = _remove_containers(client, name) if name.startswith("sweb.eval.") else 0
    ledger.unlink(missing_ok=True)
    return removed


@dataclass
class InstanceResult:
    instance_id: str
    outcome: str
    resolved: bool
    error: str | None = None
    report: dict[str, Any] = field(default_factory=dict)
    log_dir: str | None = None

    @property
    def score(self) -> float:
        return 1.0 if self.resolved else 0.0


def swebench_version() -> str:
    return metadata.version("swebench")


def missing_images(client: Any, instances: list[dict[str, Any]]) -> list[str]:
    import docker.errors

    missing = []
    for image in sorted({i["image"] for i in instances}):
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            missing.append(image)
    return missing


def grade_predictions(
    instances: dict[str, dict[str, Any]],
    predictions: list[dict[str, Any]],
    run_id: str,
    log_root: Path,
    max_workers: int = 4,
    timeout_s: int = DEFAULT_TIMEOUT_S,
    allow_missing_images: bool = False,
) -> list[InstanceResult]:
    """Grade every prediction; ``log_root`` receives swebench's ``logs/run_evaluation`` tree."""
    client = docker_client()
    wanted = [instances[p["instance_id"]] for p in predictions if (p["model_patch"] or "").strip()]
    missing = missing_images(client, wanted)
    if missing and not allow_missing_images:
        raise SandboxError(
            f"{len(missing)} instance image(s) missing, e.g. {missing[0]}: pull them from the "
            "swebench namespace (or build them), or pass --skip-missing-images"
        )
    log_root.mkdir(parents=True, exist_ok=True)
    sweep_orphan_gradings(client)

    def one(pred: dict[str, Any]) -> InstanceResult:
        inst = instances[pred["instance_id"]]
        if not (pred["model_patch"] or "").strip():
            return InstanceResult(pred["instance_id"], MODEL_FAILURE, False, "empty patch")
        touched = infra_files(pred["model_patch"] or "")
        if touched:  # what Python or pytest would load by themselves: never graded
            return InstanceResult(pred["instance_id"], MODEL_FAILURE, False, "the patch changes "
                                  f"test infrastructure: {', '.join(touched)[:200]}")
        if inst["image"] in missing:
            return InstanceResult(pred["instance_id"], INFRA_ERROR, False,
                                  f"instance image {inst['image']} is missing")  # fmt: skip
        return _run_one(client, inst, pred, run_id, log_root, timeout_s)

    _use_log_root(log_root)
    with ThreadPoolExecutor(max_workers) as ex:
        return list(ex.map(one, predictions))


def _use_log_root(log_root: Path) -> None:
    """swebench writes under its module constant RUN_EVALUATION_LOG_DIR, a path relative to
    the working directory; point it at ``log_root`` instead of changing directory."""
    import swebench.harness.run_evaluation as run_evaluation

    with _LOG_ROOT_LOCK:
        run_evaluation.RUN_EVALUATION_LOG_DIR = (log_root / _RELATIVE_LOG_DIR).resolve()


def _run_one(
    client: Any, inst: dict[str, Any], pred: dict[str, Any], run_id: str, log_root: Path,
    timeout_s: int,
) -> InstanceResult:  # fmt: skip
    from swebench.harness.constants import LOG_INSTANCE, LOG_TEST_OUTPUT
    from swebench.harness.run_evaluation import run_instance
    from swebench.harness.utils import make_test_spec

    iid = inst["instance_id"]
    spec = make_test_spec(inst)
    model = pred.get("model_name_or_path", "None").replace("/", "__")
    # swebench answers from an existing report.json under the same run id without running
    # anything: the run id it sees names everything the verdict depends on
    keyed_run_id = f"{run_id}.{verdict_key(client, inst, pred, timeout_s)}"
    log_dir = (log_root / _RELATIVE_LOG_DIR).resolve() / keyed_run_id / model / iid
    ledger = _ledger(iid)
    try:
        with _instance_lock(iid):
            _clear_ledger(client, ledger)  # a grading of this instance that never ended
            ledger.write_text(f"sweb.eval.{iid.lower()}.{keyed_run_id}\n")
            try:
                out = run_instance(spec, pred, client, keyed_run_id, timeout=timeout_s)
            finally:
                ledger.unlink(missing_ok=True)
    except Exception as exc:  # swebench raises on some container failures
        return InstanceResult(iid, INFRA_ERROR, False, f"swebench: {exc}", log_dir=str(log_dir))
    log = _read(log_dir / LOG_INSTANCE) if out is None else ""
    output = _read(log_dir / LOG_TEST_OUTPUT)
    baseline = None
    if out is not None and exit_code(output) in UNRUNNABLE_CODES:  # asked of the unpatched image
        baseline = _baseline_exit(client, inst, spec, run_id, log_root, timeout_s)
    return verdict(iid, out, log, timeout_s, str(log_dir), output, graded_tests(inst), baseline)


_BASELINES: dict[str, int | None] = {}


def _baseline_exit(client: Any, inst: dict[str, Any], spec: Any, run_id: str,
                   log_root: Path, timeout_s: int) -> int | None:  # fmt: skip
    """The test command's exit status on the instance's image without any patch (swebench's
    own no-patch mode), once per image; None when it could not be had."""
    from swebench.harness.constants import LOG_TEST_OUTPUT
    from swebench.harness.run_evaluation import run_instance

    key = verdict_key(client, inst, {"model_patch": ""}, timeout_s)
    if key not in _BASELINES:
        iid = inst["instance_id"]
        baseline_run = f"{run_id}.baseline.{key}"
        pred = {"instance_id": iid, "model_name_or_path": "baseline", "model_patch": ""}
        try:
            with _instance_lock(iid):
                run_instance(spec, pred, client, baseline_run, timeout=timeout_s,
                             skip_patch=True)  # fmt: skip
            output = (log_root / _RELATIVE_LOG_DIR).resolve() / baseline_run / "baseline" / iid
            _BASELINES[key] = exit_code(_read(output / LOG_TEST_OUTPUT))
        except Exception:
            _BASELINES[key] = None
    return _BASELINES[key]


def verdict_key(client: Any, inst: dict[str, Any], pred: dict[str, Any], timeout_s: int) -> str:
    """What a reusable verdict must share: the patch, the instance image (by id: a rebuilt
    image is another environment), the swebench version and the test timeout."""
    try:
        image_id = client.images.get(inst["image"]).id
    except Exception:  # the image check before grading reports a missing image
        image_id = inst["image"]
    return stable_hash({"patch": pred.get("model_patch") or "", "image": image_id,
                        "swebench": swebench_version(), "timeout_s": timeout_s})[:12]  # fmt: skip


def verdict(iid: str, out: tuple[str, dict[str, Any]] | None, log: str, timeout_s: int,
            log_dir: str | None = None, test_output: str = "", tests: list[str] | None = None,
            baseline: int | None = None) -> InstanceResult:  # fmt: skip
    """Our outcome for swebench's answer about one instance: ``out`` is what ``run_instance``
    returned (None when it stopped early), ``log`` its instance log in that case,
    ``test_output`` what the test command printed, ``tests`` the graded tests and
    ``baseline`` the test command's exit status on the image without the patch (asked only
    when this one could not start its tests).

    swebench's accounting is followed: its ``infra_failure`` flag is advisory (the instance
    stays unresolved, in the denominator; the flag and reason are kept). The integrity rules
    of :mod:`m1eval.swebench.integrity` stand over it: a graded test's status printed after
    pytest's summary is forged output (the model's failure); a test command that cannot start
    (exit 126/127) is an infra error only when it cannot start without the patch either."""
    from swebench.harness.constants import APPLY_PATCH_FAIL

    if out is None:
        if APPLY_PATCH_FAIL in log:
            return InstanceResult(iid, MODEL_FAILURE, False, "patch does not apply",
                                  log_dir=log_dir)  # fmt: skip
        if "timed out after" in log:
            return InstanceResult(iid, SCORED, False, f"tests timed out after {timeout_s} s",
                                  log_dir=log_dir)  # fmt: skip
        last = next((ln for ln in reversed(log.strip().splitlines()) if ln.strip()), "")
        return InstanceResult(iid, INFRA_ERROR, False, f"swebench: {last[-300:] or 'no log'}",
                              log_dir=log_dir)  # fmt: skip
    _, report = out
    entry = report[iid]
    code = exit_code(test_output)
    if code in UNRUNNABLE_CODES:
        why = _unrunnable_test_command(test_output) or f"exit status {code}"
        if baseline in UNRUNNABLE_CODES:
            return InstanceResult(iid, INFRA_ERROR, False, "the environment cannot run the "
                                  f"tests: {why} (without the patch too)", entry, log_dir)
        return InstanceResult(iid, MODEL_FAILURE, False, f"the tests could not start with this "
                              f"patch ({why}); without it they do (exit status {baseline})",
                              entry, log_dir)  # fmt: skip
    forged = forged_status(test_output, tests or [])
    if forged is not None:
        return InstanceResult(iid, MODEL_FAILURE, False, f"forged test output: '{forged}' "
                              "printed after pytest's own summary", entry, log_dir)
    if entry.get("infra_failure"):
        reason = entry.get("infra_failure_reason", "environment failure")
        return InstanceResult(iid, SCORED, False, f"unresolved; swebench flags a likely "
                              f"environment failure ({reason})", entry, log_dir)  # fmt: skip
    if not entry.get("patch_successfully_applied"):
        return InstanceResult(iid, MODEL_FAILURE, False, "no test results (patch or tests "
                              "did not run)", entry, log_dir)  # fmt: skip
    return InstanceResult(iid, SCORED, bool(entry.get("resolved")), None, entry, log_dir)


_UNRUNNABLE = re.compile(r"^\S*: line \d+: (.{1,200}): (command not found|Permission denied)$",
                         re.M)  # fmt: skip


def _unrunnable_test_command(test_output: str) -> str | None:
    """bash's refusal to start a command between swebench's test-output markers."""
    from swebench.harness.constants import END_TEST_OUTPUT, START_TEST_OUTPUT

    start = test_output.find(START_TEST_OUTPUT)
    if start < 0:
        return None
    end = test_output.find(END_TEST_OUTPUT, start)
    m = _UNRUNNABLE.search(test_output[start : end if end >= 0 else len(test_output)])
    return None if m is None else f"{m.group(1)}: {m.group(2)}"


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
