"""SWE-bench Verified: the Agentless-style scaffold writes a patch per instance; the official
swebench harness grades it in the instance's Docker image.

``--subset m1-486`` drops the 14 instances the MiniMax-M1 report excluded; every summary
reports the score over all instances of the run and over the 486 side by side.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from m1eval import activity
from m1eval.artifacts import Artifact, ArtifactWriter
from m1eval.contract import SUITE_ROW, breakdown, headline
from m1eval.data import LoadedDataset, load_rows
from m1eval.errors import InfraFault
from m1eval.model.types import merge_completions
from m1eval.records import INFRA_ERROR, MODEL_FAILURE, SCORED
from m1eval.suites.base import Grade, Item, RunContext, Solution, SolveContext, Suite
from m1eval.suites.options import Option
from m1eval.summary import summarize_suite

SUBSETS = ("all", "m1-486")


class SweBenchSuite(Suite):
    #: a repository tree, then whole files of the localised code
    longest_prompt_tokens: ClassVar[int] = 65_536
    binary_scores: ClassVar[bool] = True
    adapter_name = "swe_bench"
    exports = True  # predictions.jsonl
    declared_options = (
        Option("subset", "all", "instances", choices=tuple(SUBSETS)),
        Option("patch_samples", 4, "repair samples", type=int, positive=True),
        Option("repos_dir", None, "local clones DIR/<owner>__<name>", identity=False),
        Option("swe_timeout", 1800, "test timeout in seconds", type=int, positive=True),
        Option("swe_workers", 4, "grading containers", type=int, positive=True, identity=False),
    )  # fmt: skip

    def __init__(self, spec: Any, options: dict[str, Any] | None = None) -> None:
        super().__init__(spec, options)
        self.excluded: set[str] = set(spec.method.get("excluded_instances") or [])
        self._rows: dict[str, dict[str, Any]] = {}
        self._grading: asyncio.Semaphore | None = None
        self._client: Any = None

    def docker(self) -> Any:
        """The Docker client :meth:`prepare` opened."""
        if self._client is None:
            raise RuntimeError("prepare() first")
        return self._client

    def request_identity(self) -> dict[str, Any]:
        from m1eval.swebench import scaffold

        return {"scaffold": scaffold.identity(), "patch_samples": self.options["patch_samples"]}

    def load(
        self, split: str | None, data_dir: str | Path | None
    ) -> tuple[list[Item], LoadedDataset]:
        dataset = load_rows(self.spec.dataset, split, data_dir)
        rows = dataset.rows()
        self._rows = {r["instance_id"]: r for r in rows}
        items = self.items(rows)
        if self.options["subset"] == "m1-486":
            items = [i for i in items if i.item_id not in self.excluded]
        return items, dataset

    def build_messages(self, item: Item) -> list[dict[str, Any]]:
        # The identity of what is asked; the scaffold builds its own prompts from it.
        return [{"role": "user", "content": item.row["problem_statement"]}]

    async def prepare(self, context: RunContext) -> None:
        await super().prepare(context)
        from m1eval.sandbox.image import docker_client

        self._client = await asyncio.to_thread(docker_client)
        self._grading = asyncio.Semaphore(int(self.options["swe_workers"]))
        from m1eval.swebench.grading import swebench_version

        context.reported["swebench"] = swebench_version()

    async def solve(self, item: Item, messages: list[dict[str, Any]], ctx: SolveContext
                    ) -> Solution:  # fmt: skip
        """Run the scaffold on a fresh working copy; the answer is the selected patch. Every
        stage's inputs and outputs are artifacts of the sample."""
        from m1eval.swebench.repo import checkout
        from m1eval.swebench.scaffold import cleanup, run_scaffold

        if ctx.files is None:
            raise RuntimeError("the SWE-bench scaffold writes its stages into the run directory")
        repos = self.options["repos_dir"]
        activity.CURRENT.step(f"swe/{ctx.sample_id}", f"{item.item_id}: checkout + scaffold")
        root = await asyncio.to_thread(
            checkout, item.row, Path(repos) if repos else None, self._client
        )
        try:
            result = await run_scaffold(
                item.row, root, ctx.ask, int(self.options["patch_samples"]), ctx.files.root,
            )  # fmt: skip
        finally:
            cleanup(root)
            activity.CURRENT.step(f"swe/{ctx.sample_id}", None)
        merged = merge_completions(result.completions, answer=result.patch)
        merged = replace(
            merged,
            reasoning=f"{len(result.completions)} requests; {result.error or 'patch selected'}",
            reasoning_truncated=False,
        )
        return Solution(merged, {"scaffold_error": result.error} if result.error else {},
                        artifacts=ctx.files.collect(STAGE_FILES))  # fmt: skip

    async def score(self, item: Item, solution: Solution) -> Grade:
        """The patch graded by the official harness in the instance's image (its logs are
        artifacts of the sample)."""
        patch = solution.completion.answer
        if not patch.strip():
            return Grade.failure("empty patch")
        if solution.files is None:
            raise RuntimeError("SWE-bench grading writes the harness logs into the run directory")
        pred = {"instance_id": item.item_id, "model_name_or_path": "m1eval",
                "model_patch": patch}  # fmt: skip
        key = f"swe-grade/{item.item_id}/{id(patch)}"
        activity.CURRENT.step(key, f"grading {item.item_id} in Docker")
        try:
            res = await self._grade_patch(item, pred, solution.files.sub("harness").root)
        finally:
            activity.CURRENT.step(key, None)
        return grade_of(res, solution.files)

    async def _grade_patch(self, item: Item, pred: dict[str, Any], log_root: Path) -> Any:
        from m1eval.swebench.grading import grade_predictions

        assert self._grading is not None, "prepare() first"
        executor = self.context.executor
        if executor is not None:  # a Ray task on a Docker node; Ray queues by its resources
            return await executor.grade_swebench(item.row, pred, int(self.options["swe_timeout"]),
                                                 log_root)  # fmt: skip
        async with self._grading:  # a missing image is this instance's infra error
            [res] = await asyncio.to_thread(
                grade_predictions, {item.item_id: item.row}, [pred],
                "m1eval", log_root, 1, int(self.options["swe_timeout"]), True,
            )  # fmt: skip
        return res

    def tags(self, item: Item) -> dict[str, Any]:
        return {"repo": item.row.get("repo"), "m1_excluded": item.item_id in self.excluded}

    def summarize(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        out = subsets_summary(records, self.excluded)
        subsets = out["subsets"]
        # the paper's 56.0 is over its 486: that line carries the paper's number
        out["headlines"] = [
            headline(f"{self.name} ({name})", s["score"], s["ci_low"], s["ci_high"],
                     paper_row=SUITE_ROW if name == "m1-486" else None)
            for name, s in subsets.items()
        ]  # fmt: skip
        rows = [{"group": k, "score": v["score"], "resolved": v["resolved"],
                 "instances": v["n_instances"]} for k, v in subsets.items()]  # fmt: skip
        out["breakdowns"] = [breakdown("by subset", ["score", "resolved", "instances"], rows)]
        return out

    def export(self, records: list[dict[str, Any]], files: ArtifactWriter) -> list[Artifact]:
        """``predictions.jsonl`` in the official format, from the records' patches."""
        rows = [{"instance_id": r["item_id"], "model_name_or_path":
                 r.get("served_model") or "m1eval", "model_patch": r.get("answer") or ""}
                for r in sorted(records, key=lambda r: r["item_id"])]  # fmt: skip
        if not rows:
            return []
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        return [files.write_text("text", "predictions.jsonl", text)]


STAGE_FILES = {".json": "json", ".patch": "diff"}
HARNESS_FILES = {".json": "json", ".txt": "text", ".log": "text", ".diff": "diff", ".sh": "text"}
FAILING_TESTS_KEPT = 20  # per list; the full report stays in the harness's report.json


def grade_of(res: Any, files: ArtifactWriter | None = None) -> Grade:
    """A grade from the harness's verdict on one instance (every path that grades a patch
    goes through here): its infra failures are infra errors, a patch that does not apply or
    breaks the run is the model's failure, else resolved (1) or not (0), with the failing
    FAIL_TO_PASS and PASS_TO_PASS tests named."""
    if res.outcome == INFRA_ERROR:
        raise InfraFault(res.error or "swebench harness failure")
    logs = _harness_artifacts(res, files)
    if res.outcome == MODEL_FAILURE:
        return Grade(MODEL_FAILURE, 0.0, error=res.error or "not graded",
                     details=report_details(res.report), artifacts=logs)  # fmt: skip
    details = report_details(res.report)
    return Grade(SCORED, res.score, details=details, artifacts=logs,
                 cause=None if res.score >= 1 else failing_tests_cause(details))  # fmt: skip


def failing_tests_cause(details: dict[str, Any]) -> str:
    """``FAIL_TO_PASS: 2 still failing; PASS_TO_PASS: 1 broken`` (the names are in the
    sample's details)."""
    parts = []
    if details.get("fail_to_pass_failed"):
        parts.append(f"FAIL_TO_PASS: {details['fail_to_pass_failed']} still failing")
    if details.get("pass_to_pass_failed"):
        parts.append(f"PASS_TO_PASS: {details['pass_to_pass_failed']} broken")
    return "; ".join(parts) or "not resolved"


def _harness_artifacts(res: Any, files: ArtifactWriter | None) -> tuple[Artifact, ...]:
    if files is None or not res.log_dir:
        return ()
    log_dir = Path(res.log_dir)
    try:
        rel = log_dir.resolve().relative_to(files.run_dir.resolve())
    except ValueError:  # logs outside the run directory (copied back by an executor)
        return ()
    return tuple(ArtifactWriter(files.run_dir, rel.as_posix()).collect(HARNESS_FILES))


def report_details(report: dict[str, Any]) -> dict[str, Any]:
    """What a reader needs from swebench's report: resolved, and which tests failed."""
    status = report.get("tests_status") or {}
    out: dict[str, Any] = {"resolved": report.get("resolved")}
    for key, name in (("FAIL_TO_PASS", "fail_to_pass"), ("PASS_TO_PASS", "pass_to_pass")):
        failed = [str(t) for t in (status.get(key) or {}).get("failure", [])]
        out[f"{name}_failed"] = len(failed)
        out[f"{name}_failing"] = [t[:300] for t in failed[:FAILING_TESTS_KEPT]]
    return out


def subsets_summary(records: list[dict[str, Any]], excluded: set[str]) -> dict[str, Any]:
    """Resolved rate over every instance of the run and over the paper's 486, side by side."""
    kept = [r for r in records if r["item_id"] not in excluded]
    out = {}
    for name, recs in (("all", records), ("m1-486", kept)):
        s = summarize_suite(recs, binary=False)
        resolved = sum(1 for r in recs if r["outcome"] == SCORED and (r["score"] or 0) >= 1)
        out[name] = {
            "score": s["score"], "ci_low": s["ci_low"], "ci_high": s["ci_high"],
            "n_instances": s["n_items"], "resolved": resolved, "outcomes": s["outcomes"],
        }  # fmt: skip
    return {"subsets": out, "excluded_by_paper": sorted(excluded)}
