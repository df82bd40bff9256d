"""``--suite lm-eval:<task>``: an lm-evaluation-harness generation task run by m1eval.

lm-eval supplies the documents, the prompt (its chat messages, few-shot turns included), the
filters and ``process_results``; m1eval supplies everything around them: per-repeat seeds at
the protocol's sampling, concurrency and retries, resumable per-sample records, summaries with
intervals, and the paper's number when the task YAML carries one (``metadata.m1eval``).

Sampling is the run's protocol (``m1-80k``: T=1.0, top_p=0.95, an 80K budget) over the task's
``generation_kwargs``, which only fill in what the protocol leaves open; ``--seed`` gives every
repeat its own seed.

A task's ``until`` stop strings are applied to the final answer after the reasoning has been
split off, never sent to the server: a stop string such as ``"\\n\\n"`` would otherwise end a
reasoning model's thinking. Its ``max_gen_toks`` gives way to the protocol's thinking budget.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from m1eval.data import LoadedDataset
from m1eval.errors import ConfigError, DataError
from m1eval.graders.math_answer import extract_last_boxed
from m1eval.hashing import canonical_json
from m1eval.lmeval import PREFIX
from m1eval.lmeval.tasks import build_task, find_task, redirect
from m1eval.suite_specs import DatasetSpec, SuiteSpec
from m1eval.suites.base import AnswerSuite, Grade, Item, Solution
from m1eval.suites.options import Option

# what lm-eval's filters leave when they find no answer (their regex fallback), or nothing
NO_ANSWER = ("", "[invalid]")

FEWSHOT_SEED = 1234  # lm-eval's default --fewshot_seed; offset by the document's index
BINARY_METRICS = {"exact_match", "acc", "em", "correct", "pass@1"}


def stop_at(text: str, until: list[str]) -> str:
    """``text`` up to the first of the stop strings, as a server would have cut it."""
    cut = len(text)
    for stop in until:
        if stop:
            at = text.find(stop)
            if at != -1:
                cut = min(cut, at)
    return text[:cut]


def _as_json(messages: list[dict[str, Any]], add_generation_prompt: bool = True) -> str:
    return json.dumps(messages)


class LmEvalSuite(AnswerSuite):
    adapter_name = "lm_eval"
    grade_in_worker = False  # its task object (lm-eval's) stays in this process
    declared_options = (
        Option("lm_eval_include", None, "a folder of task YAMLs to search (repeatable)",
               repeatable=True, identity=False),
        Option("num_fewshot", None, "few-shot examples (the task's)", type=int),
    )  # fmt: skip

    @classmethod
    def family(cls) -> str:
        return "lm-eval:<task> suites"

    def __init__(self, name: str, options: dict[str, Any] | None = None) -> None:
        task_name = name[len(PREFIX) :]
        include = tuple(str(p) for p in (options or {}).get("lm_eval_include") or ())
        yaml_path, cfg = find_task(task_name, include)
        if cfg.get("output_type", "generate_until") != "generate_until":
            raise ConfigError(
                f"lm-eval task {task_name} is {cfg.get('output_type')}: chat endpoints give no "
                "log-probabilities of given continuations; run a generate_until variant"
            )
        meta = (cfg.get("metadata") or {}).get("m1eval") or {}
        gen = cfg.get("generation_kwargs") or {}
        method: dict[str, Any] = {"repeats": int(meta.get("repeats", 1))}
        for key in ("temperature", "top_p"):
            if gen.get(key) is not None:
                method[key] = gen[key]
        kwargs = cfg.get("dataset_kwargs") or {}
        spec = SuiteSpec(
            name=name,
            title=str(meta.get("title") or task_name),
            adapter="lm_eval",
            dataset=DatasetSpec(
                repo_id=str(cfg.get("dataset_path")),
                revision=kwargs.get("revision"),
                split=str(cfg.get("test_split") or cfg.get("validation_split")),
                id_field=meta.get("id_field"),
                checksum_fields=(),
                content_sha256=meta.get("content_sha256"),
            ),
            method=method,
            paper=dict(meta.get("paper") or {}),
            deviations=tuple(str(d) for d in meta.get("deviations") or ()),
            path=yaml_path,
        )
        super().__init__(spec, options)
        self.task_name = task_name
        self.cfg = cfg
        until = gen.get("until") or []
        self.until = [until] if isinstance(until, str) else [str(u) for u in until]
        metrics = [m.get("metric") for m in cfg.get("metric_list") or [] if isinstance(m, dict)]
        self.metric: str | None = meta.get("metric") or (metrics[0] if metrics else None)
        self.binary_scores = self.metric in BINARY_METRICS
        self.task: Any = None
        self.num_fewshot = int(self.options["num_fewshot"] if self.options["num_fewshot"]
                               is not None else cfg.get("num_fewshot") or 0)  # fmt: skip
        self._config_sha = _config_sha(yaml_path)

    # -- data ------------------------------------------------------------------------------

    def load(self, split: str | None, data_dir: str | Path | None
             ) -> tuple[list[Item], LoadedDataset]:  # fmt: skip
        cfg, data = redirect(self.cfg, split, data_dir)
        cfg["num_fewshot"] = self.num_fewshot
        task = build_task(cfg, data)
        if getattr(task, "multiple_input", 0):
            raise ConfigError(f"lm-eval task {self.task_name} has several inputs per document")
        self._check_metric(task)
        self.task = task
        try:
            docs = task.eval_docs
            rows = [dict(doc) for doc in docs]
        except Exception as exc:
            raise DataError(f"lm-eval task {self.task_name}: cannot read its documents: {exc}"
                            ) from None  # fmt: skip
        if not rows:
            raise DataError(f"lm-eval task {self.task_name}: split {data.split} has no rows")
        digest = hashlib.sha256()
        for row in rows:
            digest.update(canonical_json(row).encode())
            digest.update(b"\n")
        id_field = self.spec.dataset.id_field
        items, seen = [], set()
        for index, row in enumerate(rows):
            if id_field is not None and id_field not in row:
                raise DataError(f"lm-eval task {self.task_name}: documents lack '{id_field}'")
            item_id = str(row[id_field]) if id_field else str(index)
            if item_id in seen:
                raise DataError(f"lm-eval task {self.task_name}: duplicate id {item_id!r}")
            seen.add(item_id)
            items.append(Item(item_id, {"doc": row, "index": index}))
        own = data.split == self.spec.dataset.split and data.source != "bundled"
        dataset = LoadedDataset(
            tables=(docs,), repo_id=data.repo_id, revision=data.revision, split=data.split,
            source=data.source, location=data.location, content_sha256=digest.hexdigest(),
            pinned_sha256=self.spec.dataset.content_sha256 if own else None,
        )  # fmt: skip
        return items, dataset

    def _check_metric(self, task: Any) -> None:
        from lm_eval.api.metrics import mean

        aggregations = task.aggregation()
        if self.metric is None or self.metric not in aggregations:
            raise ConfigError(f"lm-eval task {self.task_name}: no metric '{self.metric}' "
                              f"(it reports {', '.join(aggregations) or 'none'})")  # fmt: skip
        if aggregations[self.metric] is not mean:
            raise ConfigError(
                f"lm-eval task {self.task_name}: metric {self.metric} is aggregated by "
                f"{getattr(aggregations[self.metric], '__name__', '?')}, not a mean over "
                "documents; m1eval scores are per-sample means"
            )

    def identity(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {**self.options, "lm_eval_include": None, "task": self.task_name,
                "lm_eval": version("lm-eval"), "task_config_sha256": self._config_sha,
                "num_fewshot": self.num_fewshot}  # fmt: skip

    # -- one item --------------------------------------------------------------------------

    def build_messages(self, item: Item) -> list[dict[str, Any]]:
        task, doc = self._loaded(), item.row["doc"]
        if task.doc_to_prefix(doc):
            raise ConfigError(f"lm-eval task {self.task_name} prefills the assistant's answer "
                              "(gen_prefix), which chat endpoints do not continue")  # fmt: skip
        task.set_fewshot_seed(FEWSHOT_SEED + item.row["index"])
        rendered = task.fewshot_context(
            doc, self.num_fewshot, apply_chat_template=True, fewshot_as_multiturn=True,
            chat_template=_as_json,
        )  # fmt: skip
        return [{"role": m["role"], "content": m["content"]} for m in json.loads(rendered)]

    def grade(self, item: Item, answer: str) -> Grade:
        from lm_eval.api.instance import Instance

        task, doc = self._loaded(), item.row["doc"]
        inst = Instance(request_type="generate_until", doc=doc, arguments=("", {}), idx=0,
                        metadata=(self.task_name, item.row["index"], 1))  # fmt: skip
        inst.resps = [stop_at(answer, self.until)]
        metrics: dict[str, Any] = {}
        primary_filter = None
        for ensemble in task._filters:
            ensemble.apply([inst])
            primary_filter = primary_filter or ensemble.name
            for metric, value in task.process_results(doc, [inst.filtered_resps[ensemble.name]]
                                                      ).items():  # fmt: skip
                metrics[f"{metric},{ensemble.name}"] = value
        key = f"{self.metric},{primary_filter}"
        value = metrics.get(key)
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, int | float):
            raise DataError(f"lm-eval task {self.task_name}: {key} is {value!r}, not a number")
        filtered = inst.filtered_resps[primary_filter]
        shown = str(filtered if not isinstance(filtered, list) else filtered[0])
        boxed = extract_last_boxed(shown)  # what maj@k votes on, where the answer is boxed
        # an answer is there when boxed, or when the task's filter extracted something other
        # than the whole reply (an identity filter extracts nothing)
        answered = boxed is not None or (
            shown.strip() not in NO_ANSWER and shown.strip() != stop_at(answer, self.until).strip()
        )
        shown = boxed.strip() if boxed is not None else shown.strip()
        return Grade.scored(
            float(value), extracted_answer=shown[-500:], gold=str(task.doc_to_target(doc)),
            vote_key=re.sub(r"\s+", " ", shown)[:500],
            details={"metrics": {k: _plain(v) for k, v in metrics.items()},
                     "answered": answered},
        )  # fmt: skip

    async def score(self, item: Item, solution: Solution) -> Grade:
        """As the built-in suites count them: an answer cut off by the token budget
        (finish_reason ``length``) from which the task's filters extract nothing is a model
        failure (truncated), not a scored zero."""
        grade = self.grade(item, solution.completion.answer)
        cut = solution.completion.finish_reason == "length"
        if cut and not grade.details.get("answered", True) and not grade.score:
            return Grade.failure("truncated before an answer the task's filters could extract",
                                 gold=grade.gold)  # fmt: skip
        return grade

    def _loaded(self) -> Any:
        if self.task is None:
            raise RuntimeError("LmEvalSuite.load() has not run")
        return self.task


def _plain(value: Any) -> Any:
    return value if isinstance(value, int | float | str | bool | None) else repr(value)


def _config_sha(yaml_path: Path) -> str:
    """SHA-256 over the task's YAML (includes resolved) and the Python files its ``!function``
    entries name, independent of where the checkout lives."""
    from lm_eval.tasks._yaml_loader import load_yaml

    raw = load_yaml(yaml_path, resolve_func=False)
    sources: dict[str, str] = {}

    def norm(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items()}
        if isinstance(value, list):
            return [norm(v) for v in value]
        if isinstance(value, str) and "/" in value:
            module, _, func = value.rpartition(".")
            source = Path(module + ".py")
            if func and source.is_file():
                sources[source.name] = hashlib.sha256(source.read_bytes()).hexdigest()
                return f"{source.stem}.{func}"
        return value

    body = norm(raw)
    return hashlib.sha256(canonical_json({"config": body, "sources": sources}).encode()
                          ).hexdigest()  # fmt: skip
