"""``m1eval`` as an lm-eval model: lm-eval drives the task, m1eval's client asks the server.

Registered under the name ``m1eval`` when this module is imported (``python -m m1eval.lmeval``
does so, then runs lm-eval's command line)::

    python -m m1eval.lmeval --model m1eval \\
        --model_args base_url=http://host:8000/v1,model=MiniMaxAI/MiniMax-M1-80k,seed=0 \\
        --tasks m1_math500 --include_path lm_eval_tasks --apply_chat_template

Sampling follows an m1eval protocol (``protocol=m1-80k`` by default: T=1.0, top_p=0.95,
max_tokens 81920), not the task's greedy defaults. With ``seed=N`` every request gets its own
seed from (N, prompt, occurrence): lm-eval's repeats of one prompt are distinct samples, where
its OpenAI models send one fixed seed and make them identical. Requests stream with retries
and backoff; the reasoning is split off and only the final answer, cut at the task's ``until``
strings, goes back to lm-eval (an answer cut off by the budget comes back empty).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections import Counter
from typing import Any

from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

from m1eval.errors import ConfigError
from m1eval.lmeval.suite import stop_at
from m1eval.model.client import ChatClient, ClientSettings
from m1eval.model.types import RequestFailed
from m1eval.protocols import load_protocol


def request_seed(seed: int, messages: list[dict[str, Any]], occurrence: int) -> int:
    """A distinct, reproducible seed per prompt and per repeat of it."""
    text = json.dumps([seed, messages, occurrence], sort_keys=True, ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF


def as_messages(context: Any) -> list[dict[str, Any]]:
    """The chat messages of a request: lm-eval hands over this model's own JSON rendering
    when the chat template is applied, and plain text otherwise."""
    if isinstance(context, str):
        try:
            parsed = json.loads(context)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(m, dict) and "role" in m for m in parsed):
            return parsed
        return [{"role": "user", "content": context}]
    raise TypeError(f"unsupported lm-eval context of type {type(context).__name__}")


@register_model("m1eval")
class M1evalLM(LM):
    def __init__(self, base_url: str, model: str, protocol: str = "m1-80k",
                 seed: int | None = None, concurrency: int = 8,
                 api_key_env: str = "OPENAI_API_KEY", max_tokens: int | None = None,
                 **_: Any) -> None:  # fmt: skip
        super().__init__()
        p = load_protocol(protocol)
        self.sampling = dict(p.sampling)
        if max_tokens is not None:
            self.sampling["max_tokens"] = int(max_tokens)
        self.seed = None if seed in (None, "") else int(seed)
        self.concurrency = int(concurrency)
        self.settings = ClientSettings(base_url=base_url.rstrip("/"), model=model,
                                       api_key=os.environ.get(api_key_env) or None,
                                       content_format=p.content_format,
                                       max_connections=self.concurrency)  # fmt: skip
        self.system_prompt = p.system_prompt

    @property
    def tokenizer_name(self) -> str:
        return "m1eval-chat"

    def apply_chat_template(self, chat_history: list[dict[str, str]],
                            add_generation_prompt: bool = True) -> str:  # fmt: skip
        return json.dumps(chat_history, ensure_ascii=False)

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        seen: Counter[str] = Counter()
        jobs = []
        for req in requests:
            context, gen_kwargs = req.args[0], (req.args[1] if len(req.args) > 1 else {})
            messages = as_messages(context)
            if self.system_prompt and messages[0].get("role") != "system":
                messages = [{"role": "system", "content": self.system_prompt}, *messages]
            sampling = dict(self.sampling)
            if self.seed is not None:
                key = json.dumps(messages, sort_keys=True)
                sampling["seed"] = request_seed(self.seed, messages, seen[key])
                seen[key] += 1
            until = (gen_kwargs or {}).get("until") or []
            jobs.append((messages, sampling, [until] if isinstance(until, str) else until))
        return asyncio.run(self._run(jobs))

    async def _run(self, jobs: list[tuple[list[dict[str, Any]], dict[str, Any], list[str]]]
                   ) -> list[str]:  # fmt: skip
        gate = asyncio.Semaphore(self.concurrency)
        async with ChatClient(self.settings) as client:

            async def one(messages: list[dict[str, Any]], sampling: dict[str, Any],
                          until: list[str]) -> str:  # fmt: skip
                async with gate:
                    try:
                        done = await client.complete(messages, sampling)
                    except RequestFailed as exc:
                        raise RuntimeError(f"m1eval: request failed: {exc}") from None
                return "" if done.truncated else stop_at(done.answer, until)

            return list(await asyncio.gather(*(one(*job) for job in jobs)))

    def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[Any]:
        """Refused by design: chat endpoints cannot score a given continuation."""
        raise ConfigError(
            "m1eval talks to chat-completions endpoints, which give no log-probabilities of "
            "given continuations; run generate_until tasks"
        )

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[Any]:
        return self.loglikelihood(requests)
