"""OpenAI-MRCR: multi-round co-reference resolution over long conversations.

Grading is the dataset card's ``grade``: 0 unless the final answer starts with the random
string, else ``difflib.SequenceMatcher(None, response, answer).ratio()`` after removing that
prefix from both. Items are binned by the o200k_base token count of prompt + answer; a prompt
longer than the served model's context window is ``skipped`` (the card's behaviour), counted per
bin, never dropped. Prompts are read from the memory-mapped dataset when asked, never held.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, ClassVar

from m1eval.contract import GROUP_COLUMNS, SUITE_ROW, breakdown, group_rows, headline
from m1eval.data import SMOKE_SPLIT, LoadedDataset, load_rows
from m1eval.fsutil import atomic_write_json
from m1eval.model.types import RequestFailed
from m1eval.paths import cache_dir
from m1eval.records import GRADED, MODEL_FAILURE, SKIPPED
from m1eval.stats import stratified_bootstrap_ci
from m1eval.suites.base import AnswerSuite, Grade, Item, Solution, SolveContext
from m1eval.suites.options import Option
from m1eval.summary import summarize_groups, summarize_suite
from m1eval.tokenizers import o200k_count

# (low, high, label): the first bin is [4096, 8192], the others (low, high]
BINS: tuple[tuple[int, int, str], ...] = (
    (4096, 8192, "4K-8K"),
    (8192, 16384, "8K-16K"),
    (16384, 32768, "16K-32K"),
    (32768, 65536, "32K-64K"),
    (65536, 131072, "64K-128K"),
    (131072, 262144, "128K-256K"),
    (262144, 524288, "256K-512K"),
    (524288, 1048576, "512K-1M"),
)
OUT_OF_RANGE = "out-of-range"
ANSWER, KEPT, STRIPPED = "answer", "kept", "stripped"
READINGS = (ANSWER, KEPT, STRIPPED)
# how each reading is named in summaries (its score key is ``score_<slug>``)
SLUG = {ANSWER: "answer", KEPT: "whitespace_kept", STRIPPED: "whitespace_stripped"}
LABEL = {ANSWER: "answer after the reasoning", KEPT: "whitespace kept",
         STRIPPED: "whitespace stripped"}  # fmt: skip
SCORE_KEY = {reading: f"score_{slug}" for reading, slug in SLUG.items()}
AGGREGATES = {"128K": 131072, "1M": 1048576}
CONVENTIONS = ("mean_up_to", "top_bin")
LIGHT_COLUMNS = [
    "answer", "random_string_to_prepend", "n_needles", "desired_msg_index", "total_messages",
    "n_chars",
]  # fmt: skip


FIT, SKIP = "fit", "skip"
OVERFLOW = (FIT, SKIP)
# vLLM's refusals of a request longer than max_model_len, in its older and newer wording:
# "... maximum context length is W tokens. However, you requested T tokens (P in the
# messages, C in the completion) ..." and "... maximum context length is W tokens and your
# request has P input tokens (C > W - P)"
_WINDOW = re.compile(r"maximum context length is (\d{1,9}) tokens")
# the prompt's tokens in vLLM's refusal: "(N in the messages" (older), "request has N input
# tokens" (0.10-0.12), "prompt contains N input tokens" (0.23; "contains at least N" is a
# count cut short by truncation and is not used)
_PROMPT = re.compile(
    r"\((\d{1,9}) in the messages|request has (\d{1,9}) input tokens"
    r"|prompt contains (\d{1,9}) input tokens"
)


def fitted_budget(failure: RequestFailed, requested: int | None) -> int | None:
    """The generation budget that fits the server's window, from its 400 refusal: the window
    less the prompt's tokens, when that leaves at least one token and less than asked."""
    if failure.status != 400:
        return None
    window, prompt = _WINDOW.search(failure.cause), _PROMPT.search(failure.cause)
    if window is None or prompt is None:
        return None
    budget = int(window.group(1)) - int(next(g for g in prompt.groups() if g))
    if budget < 1 or (requested is not None and budget >= requested):
        return None
    return budget


def grade(response: str, answer: str, random_string_to_prepend: str) -> float:
    """The MRCR dataset card's grader, unchanged in meaning."""
    if not response.startswith(random_string_to_prepend):
        return 0.0
    response = response.removeprefix(random_string_to_prepend)
    answer = answer.removeprefix(random_string_to_prepend)
    return float(SequenceMatcher(None, response, answer).ratio())


def bin_label(n_tokens: int) -> str:
    for low, high, label in BINS:
        if (low <= n_tokens if low == BINS[0][0] else low < n_tokens) and n_tokens <= high:
            return label
    return OUT_OF_RANGE


def count_message_tokens(messages: list[dict[str, Any]]) -> int:
    """o200k_base tokens of the message contents (the card's ``n_tokens``)."""
    return sum(o200k_count(m.get("content") or "") for m in messages)


class MrcrSuite(AnswerSuite):
    #: the largest context bin ends at 1M tokens
    longest_prompt_tokens: ClassVar[int] = 1_000_000
    binary_scores: ClassVar[bool] = False
    fits_window: ClassVar[bool] = False  # skips or fits the budget per item, counted
    worker_transient: ClassVar[tuple[str, ...]] = ("context", "_tables")
    adapter_name = "mrcr"
    declared_options = (
        Option("needles", 4, "needle count", type=int, choices=(2, 4, 8)),
        Option("mrcr_whitespace", ANSWER, "the answer graded: what the model answered, after "
               "its reasoning block and the separator that follows it (answer; M1 on vLLM "
               "writes '</think>\\n\\n' before it), the content after the reasoning byte for "
               "byte (kept: the card's grade on the content field, separator included) or with "
               "any leading whitespace stripped; the chosen and the other main reading are "
               "both reported", choices=READINGS, identity=False),
        Option("mrcr_overflow", FIT, "a prompt that fits the server's window but not with the "
               "whole generation budget: 'fit' asks again with the budget that fits (recorded "
               "per sample), 'skip' leaves the item out (counted per bin and aggregate)",
               choices=OVERFLOW),
    )  # fmt: skip

    def __init__(self, spec: Any, options: dict[str, Any] | None = None) -> None:
        super().__init__(spec, options)
        self._tables: dict[str, Any] = {}

    def file_groups(self, split: str) -> dict[str, list[str]]:
        n = self.options["needles"]
        if split == SMOKE_SPLIT:
            return {"smoke": [f"{n}needle/{n}needle_smoke.parquet"]}
        return {shard: [f"{n}needle/{n}needle_{shard}.parquet"] for shard in ("0", "1")}

    def load(
        self, split: str | None, data_dir: str | Path | None
    ) -> tuple[list[Item], LoadedDataset]:
        split = split or self.spec.dataset.split
        groups = self.file_groups(split)
        # a few rows per parquet batch: converting a file of 1M-token prompts must not hold it
        dataset = load_rows(
            self.spec.dataset, split, data_dir, file_groups=groups,
            builder_kwargs={"batch_size": 4},
        )  # fmt: skip
        counts = self._token_counts(dataset, list(groups))
        items = []
        n = self.options["needles"]
        for shard, table in zip(groups, dataset.tables, strict=True):
            self._tables[shard] = table
            for row_index, row in enumerate(table.select_columns(LIGHT_COLUMNS)):
                item_id = f"{n}needle-{shard}-{row_index}"
                prompt_tokens, answer_tokens = counts[item_id]
                light = dict(row)
                light.update(
                    shard=shard,
                    row_index=row_index,
                    prompt_tokens_o200k=prompt_tokens,
                    tokens_o200k=prompt_tokens + answer_tokens,
                    bin=bin_label(prompt_tokens + answer_tokens),
                )
                items.append(Item(item_id, light))
        return items, dataset

    def _token_counts(self, dataset: LoadedDataset, shards: list[str]) -> dict[str, list[int]]:
        """o200k counts per item, cached on disk by dataset content (counted once per machine)."""
        n = self.options["needles"]
        path = cache_dir() / "mrcr-tokens" / f"{n}needle-{dataset.content_sha256[:24]}.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            pass
        counts: dict[str, list[int]] = {}
        for shard, table in zip(shards, dataset.tables, strict=True):
            view = table.select_columns(["prompt", "answer"])
            row_index = 0
            for batch in view.iter(batch_size=4):
                for prompt, answer in zip(batch["prompt"], batch["answer"], strict=True):
                    counts[f"{n}needle-{shard}-{row_index}"] = [
                        count_message_tokens(json.loads(prompt)),
                        o200k_count(answer),
                    ]
                    row_index += 1
        atomic_write_json(path, counts)
        return counts

    def build_messages(self, item: Item) -> list[dict[str, Any]]:
        # Sent exactly as given, consecutive same-role messages included.
        table = self._tables[item.row["shard"]]
        return json.loads(table[item.row["row_index"]]["prompt"])

    def skip_reason(self, item: Item) -> str | None:
        """The harness's own count against the window the run assumes (the protocol's, or
        --max-context; never what a server advertises): a longer prompt is left out, and so,
        under ``--mrcr-overflow skip``, is one that leaves no room for the whole budget."""
        window = self.context.context_window
        n = item.row["prompt_tokens_o200k"]
        if window is not None and n > window:
            return (
                f"prompt has {n} o200k tokens, more than the context window of {window} "
                f"({self.context.context_window_source})"
            )
        budget = self.context.budget
        if (window is not None and budget and self.options["mrcr_overflow"] == SKIP
                and n + budget > window):  # fmt: skip
            return (f"prompt has {n} o200k tokens: with the {budget}-token budget, more than "
                    f"the context window of {window} ({self.context.context_window_source})")
        return None

    def grade(self, item: Item, answer: str, lead: str = "") -> Grade:
        """Grade every reading of the answer with the card's ``grade``: ``answer`` is what
        the model answered (after its reasoning block and the separator that follows it),
        ``lead + answer`` the content after the reasoning as the server returned it (the
        card's grade on the content field, byte for byte), its ``lstrip()`` the third. The
        score is the one ``--mrcr-whitespace`` picks; all are kept with the sample."""
        gold = item.row["answer"]
        prefix = item.row["random_string_to_prepend"]
        kept = lead + answer
        if not kept.strip():
            return Grade(MODEL_FAILURE, 0.0, error="empty final answer",
                         details={key: 0.0 for key in SCORE_KEY.values()})  # fmt: skip
        texts = {ANSWER: answer, KEPT: kept, STRIPPED: kept.lstrip()}
        scores = {reading: grade(text, gold, prefix) for reading, text in texts.items()}
        chosen = self.options["mrcr_whitespace"]
        cause = _mrcr_cause(scores[chosen], texts[chosen], prefix)
        return Grade.scored(scores[chosen], cause=cause, details={
            "prefix_ok": texts[chosen].startswith(prefix),
            **{SCORE_KEY[reading]: score for reading, score in scores.items()},
        })  # fmt: skip

    async def solve(
        self, item: Item, messages: list[dict[str, Any]], ctx: SolveContext
    ) -> Solution:
        """One request; under ``--mrcr-overflow fit`` a prompt the server refuses only for
        the generation budget is asked again with the budget that fits."""
        try:
            return Solution(await ctx.ask(messages))
        except RequestFailed as failure:
            requested = ctx.sampling.get("max_tokens")
            budget = fitted_budget(failure, requested)
            if self.options["mrcr_overflow"] != FIT or budget is None:
                raise
        completion = await ctx.ask(messages, max_tokens=budget)
        return Solution(completion, {"max_tokens_fitted": budget})

    async def score(self, item: Item, solution: Solution) -> Grade:
        """``SequenceMatcher`` is quadratic in the worst case and the answer is the model's:
        it runs in a grader worker with a time limit, off the event loop."""
        c = solution.completion
        return await self.bounded_grade(item, c.answer, c.answer_lead)

    def tags(self, item: Item) -> dict[str, Any]:
        return {
            "bin": item.row["bin"],
            "n_needles": item.row["n_needles"],
            "tokens_o200k": item.row["tokens_o200k"],
        }

    def summarize(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Bins, the 128K and 1M aggregates and the headline, under the ``--mrcr-whitespace``
        reading; the other reading's overall, aggregates and per-bin scores beside them."""
        chosen = self.options["mrcr_whitespace"]
        other = ANSWER if chosen == KEPT else KEPT
        slug, label = SLUG[other], LABEL[other]
        recs, alt = _reading(records, chosen), _reading(records, other)
        bins = _ordered(summarize_groups(recs, key=_bin_of))
        alt_bins = _ordered(summarize_groups(alt, key=_bin_of))
        for bin_name, b in bins.items():
            b["skipped"] = b["outcomes"].get(SKIPPED, 0)
            b[f"score_{slug}"] = alt_bins[bin_name]["score"]
        aggregates = self._aggregates(recs)
        alt_aggregates = self._aggregates(alt)
        overall = summarize_suite(recs, binary=False)
        alt_overall = summarize_suite(alt, binary=False)
        heads = [headline(self.name, overall["score"], overall["ci_low"], overall["ci_high"],
                          paper_row=SUITE_ROW, note=f"graded: {LABEL[chosen]}")]  # fmt: skip
        for name, agg in aggregates.items():
            head = agg[agg["headline"]]
            note = f"{head['description']}; graded: {LABEL[chosen]}"
            if agg["samples_dropped"]:
                note += f"; {agg['samples_dropped']} sample(s) left out (see dropped_why)"
            if agg["samples_fitted"]:
                note += f"; {agg['samples_fitted']} asked with a budget fitted to the window"
            heads.append(headline(f"{self.name} ({name})", head["score"], head["ci_low"],
                                  head["ci_high"], paper_row=name, note=note))  # fmt: skip
        heads.append(headline(f"{self.name} ({label})", alt_overall["score"],
                              alt_overall["ci_low"], alt_overall["ci_high"],
                              note=f"graded: {label}"))  # fmt: skip
        for name, agg in alt_aggregates.items():
            head = agg[agg["headline"]]
            heads.append(headline(f"{self.name} ({name}, {label})", head["score"],
                                  head["ci_low"], head["ci_high"],
                                  note=f"{head['description']}; graded: {label}"))  # fmt: skip
        rows = group_rows(bins)
        for row in rows:
            row[label] = bins[row["group"]][f"score_{slug}"]
        return {
            "bins": bins,
            "aggregates": aggregates,
            f"aggregates_{slug}": alt_aggregates,
            "whitespace": chosen,
            "reading": LABEL[chosen],
            "headline_convention": self.spec.method.get("headline_convention"),
            "binning": "o200k_base tokens of prompt + answer",
            "headlines": heads,
            "breakdowns": [breakdown("by context bin (o200k tokens of prompt + answer)",
                                     [*GROUP_COLUMNS, label], rows,
                                     record_key="bin")],
        }  # fmt: skip

    def _aggregates(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        per_bin: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for r in records:
            if r["outcome"] in GRADED:
                per_bin[r["extra"]["bin"]][r["item_id"]].append(float(r["score"] or 0.0))
        means = {b: [sum(v) / len(v) for v in items.values()] for b, items in per_bin.items()}
        headline = self.spec.method.get("headline_convention", "mean_up_to")
        out: dict[str, Any] = {}
        for name, limit in AGGREGATES.items():
            in_scope = [label for low, high, label in BINS if high <= limit]
            top = in_scope[-1]
            scope = [r for r in records if (r.get("extra") or {}).get("bin") in in_scope]
            dropped = [r for r in scope if r["outcome"] not in GRADED]
            entry: dict[str, Any] = {
                "headline": headline,
                # every sample the aggregate does not count, and why (a bin never shrinks
                # silently): skipped (too long for the window) or infra errors
                "samples_dropped": len(dropped),
                "dropped_why": _reasons(dropped),
                "samples_fitted": sum(1 for r in scope
                                      if (r.get("extra") or {}).get("max_tokens_fitted")),
            }  # fmt: skip
            for convention, labels in (("mean_up_to", in_scope), ("top_bin", [top])):
                scored = [b for b in labels if means.get(b)]
                groups = [means[b] for b in scored]
                score = sum(sum(g) / len(g) for g in groups) / len(groups) if groups else None
                low, high = stratified_bootstrap_ci(groups) if groups else (None, None)
                entry[convention] = {
                    "description": (
                        f"mean of the bin means of {labels[0]} .. {labels[-1]}"
                        if convention == "mean_up_to"
                        else f"the single bin {top}"
                    ),
                    "score": None if score is None else round(100 * score, 4),
                    "ci_low": None if low is None else round(100 * low, 4),
                    "ci_high": None if high is None else round(100 * high, 4),
                    "bins_scored": len(scored),
                    "bins_expected": len(labels),
                }
            entry["score"] = entry[headline]["score"]
            out[name] = entry
        return out


def _bin_of(record: dict[str, Any]) -> str | None:
    return (record.get("extra") or {}).get("bin")


def _ordered(bins: dict[str, Any]) -> dict[str, Any]:
    ordered = {label: bins[label] for _, _, label in BINS if label in bins}
    if OUT_OF_RANGE in bins:
        ordered[OUT_OF_RANGE] = bins[OUT_OF_RANGE]
    return ordered


def _reading(records: list[dict[str, Any]], whitespace: str) -> list[dict[str, Any]]:
    """The records scored under one reading (records from before a reading was kept have
    one score, used for it)."""
    key = SCORE_KEY[whitespace]
    out = []
    for r in records:
        extra = r.get("extra") or {}
        out.append({**r, "score": extra[key]} if r["outcome"] in GRADED and key in extra else r)
    return out


def _reasons(records: list[dict[str, Any]]) -> dict[str, int]:
    """Counts of why samples were left out, by outcome and the first words of the cause."""
    out: dict[str, int] = {}
    for r in records:
        cause = " ".join(str(r.get("error") or "").split()[:6])
        key = f"{r['outcome']}: {cause}" if cause else r["outcome"]
        out[key] = out.get(key, 0) + 1
    return out


def _mrcr_cause(score: float, text: str, prefix: str) -> str | None:
    """Why an MRCR answer scored below 1: the card's prefix check, or a partial match."""
    if score >= 1:
        return None
    if not text.startswith(prefix):
        return "the answer does not start with the required prefix"
    return "partial match (the similarity ratio is below 1)"
