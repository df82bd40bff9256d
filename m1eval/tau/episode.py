"""One TAU-bench episode: the tool-calling agent, the simulated user, the step limit, the reward.

The loop is tau-bench's ``ToolCallingAgent.solve``: the user speaks first; each agent turn is
either a tool call (executed, its observation returned as a ``tool`` message) or a reply to the
user (answered by the user simulator). Only the first tool call of a turn is executed, as in
tau-bench (``first_tool_call_only``; dropped calls are counted). The episode ends when the user
says ``###STOP###``, a terminating tool is called, or the step limit is reached (reward 0).
Malformed tool-call arguments are a recorded model failure for that step; the agent sees an
error observation and the episode goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from m1eval import boundedjson
from m1eval.errors import InfraFault
from m1eval.tau.env import RESPOND, DomainData, Env, db_difference, gold_env, reward

STOP = "###STOP###"
M1_SYSTEM_PROMPT = (
    "- In each round, you need to carefully examine the tools provided to you to determine if "
    "any can be used.\n- You must adhere to all of the policies. Pay attention to the details "
    "in the terms. Solutions for most situations can be found within these policies."
)
FIRST_USER_MESSAGE = "Hi! How can I help you today?"

# (messages, tools) -> assistant message {"content": ..., "tool_calls": [...]}
AgentStep = Callable[[list[dict[str, Any]], list[dict[str, Any]]], Awaitable[dict[str, Any]]]
# (messages) -> the user's next message
UserStep = Callable[[list[dict[str, Any]]], Awaitable[str]]


class UserSimulatorError(InfraFault):
    """The user simulator failed (an HTTP failure, an empty reply): an infra error."""


def user_system_prompt(instruction: str | None) -> str:
    shown = ("\n\nInstruction: " + instruction + "\n") if instruction is not None else ""
    return (
        f"You are a user interacting with an agent.{shown}\n"
        "Rules:\n"
        "- Just generate one line at a time to simulate the user's message.\n"
        "- Do not give away all the instruction at once. Only provide the information that is "
        "necessary for the current step.\n"
        "- Do not hallucinate information that is not provided in the instruction. For example, "
        "if the agent asks for the order id but it is not mentioned in the instruction, do not "
        "make up an order id, just say you do not remember or have it.\n"
        "- If the instruction goal is satisified, generate '###STOP###' as a standalone message "
        "without anything else to end the conversation.\n"
        "- Do not repeat the exact instruction in the conversation. Instead, use your own words "
        "to convey the same information.\n"
        "- Try to make the conversation as natural as possible, and stick to the personalities "
        "in the instruction."
    )


MAX_ARGUMENT_DEPTH = 32  # tau-bench's deepest argument is a list of objects (depth 3)
MAX_ARGUMENT_CHARS = 1 << 20
MAX_TOOL_NAME_CHARS = 200
TOOL_TIMEOUT_S = 30.0


def tool_arguments(raw: Any) -> Any:
    """A tool call's arguments as the model wrote them, parsed within bounds (``ValueError``
    names what is wrong). The JSON is the model's: it may be nested thousands deep. As in
    tau-bench, text that is not JSON (the empty string included) is malformed; JSON that is
    not an object reaches the tool, which refuses it."""
    if raw is None:
        return {}
    if isinstance(raw, str):
        try:
            return boundedjson.loads(raw, MAX_ARGUMENT_DEPTH, MAX_ARGUMENT_CHARS)
        except boundedjson.JSONBoundsError as exc:
            raise ValueError(str(exc)) from None
    if boundedjson.depth(raw, MAX_ARGUMENT_DEPTH) > MAX_ARGUMENT_DEPTH:
        raise ValueError(f"arguments nested deeper than {MAX_ARGUMENT_DEPTH} levels")
    return raw


async def run_tool(env: Env, name: str, kwargs: Any) -> str | None:
    """Run a tool off the event loop, with a time limit (the other episodes go on meanwhile)."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(env.step, name, kwargs), TOOL_TIMEOUT_S)
    except TimeoutError:
        return f"Error: the tool call did not finish within {TOOL_TIMEOUT_S:g} s"


@dataclass
class Episode:
    reward: float = 0.0
    done: bool = False
    ended_by: str = "step_limit"  # user_stop, terminate_tool, step_limit, malformed_tool_call
    steps: int = 0
    actions: list[dict[str, Any]] = field(default_factory=list)
    dropped_tool_calls: int = 0
    malformed_tool_calls: int = 0
    db_match: bool | None = None
    outputs: dict[str, bool] = field(default_factory=dict)
    db_diff: dict[str, Any] | None = None  # where the database differs from the gold one
    messages: list[dict[str, Any]] = field(default_factory=list)
    user_messages: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "reward": self.reward, "ended_by": self.ended_by, "steps": self.steps,
            "actions": len(self.actions), "dropped_tool_calls": self.dropped_tool_calls,
            "malformed_tool_calls": self.malformed_tool_calls, "db_match": self.db_match,
            "outputs": self.outputs, "db_diff": self.db_diff,
        }  # fmt: skip


class SimulatedUser:
    """tau-bench's LLM user: its own system prompt and message history."""

    def __init__(self, instruction: str, step: UserStep) -> None:
        self.messages: list[dict[str, Any]] = [
            {"role": "system", "content": user_system_prompt(instruction)},
            {"role": "user", "content": FIRST_USER_MESSAGE},
        ]
        self._step = step

    async def next(self, agent_says: str | None = None) -> str:
        if agent_says is not None:
            self.messages.append({"role": "user", "content": agent_says})
        reply = await self._step(self.messages) or ""
        # an empty reply is a turn like any other, as in tau-bench
        self.messages.append({"role": "assistant", "content": reply})
        return reply


async def run_episode(
    data: DomainData,
    task: dict[str, Any],
    agent: AgentStep,
    user_step: UserStep,
    max_steps: int = 30,
    extra_system_prompt: str | None = None,
    first_tool_call_only: bool = True,
    malformed: str = "end",
) -> Episode:
    env = Env(data)
    terminate = set(env.module.TERMINATE_TOOLS)
    user = SimulatedUser(task["instruction"], user_step)
    system = data.wiki + ("\n" + extra_system_prompt if extra_system_prompt else "")
    ep = Episode()
    first = await user.next()
    ep.messages = [{"role": "system", "content": system}, {"role": "user", "content": first}]
    replies: list[str] = []
    for _ in range(max_steps):
        ep.steps += 1
        message = await agent(ep.messages, data.tools)
        calls = message.get("tool_calls") or []
        if calls:
            if first_tool_call_only and len(calls) > 1:
                ep.dropped_tool_calls += len(calls) - 1
                calls = calls[:1]
            assistant = {"role": "assistant", "content": message.get("content") or "",
                         "tool_calls": calls}  # fmt: skip
            ep.messages.append(assistant)
            for call in calls:
                function = call.get("function") or {}
                name = str(function.get("name") or "")[:MAX_TOOL_NAME_CHARS]
                try:
                    kwargs = tool_arguments(function.get("arguments"))
                except ValueError as exc:
                    ep.malformed_tool_calls += 1
                    if malformed == "end":  # tau-bench: json.loads raises, the task scores 0
                        ep.ended_by = "malformed_tool_call"
                        break
                    observation = f"Error: malformed tool call arguments ({exc})"
                else:
                    ep.actions.append({"name": name, "kwargs": kwargs})
                    observation = await run_tool(env, name, kwargs)
                ep.messages.append({"role": "tool", "tool_call_id": call.get("id") or name,
                                    "name": name, "content": observation})  # fmt: skip
                if name in terminate:
                    ep.done, ep.ended_by = True, "terminate_tool"
            if ep.done or ep.ended_by == "malformed_tool_call":
                break
            continue
        content = message.get("content") or ""
        ep.actions.append({"name": RESPOND, "kwargs": {"content": content}})
        replies.append(content)
        reply = await user.next(content)
        ep.messages.append({"role": "assistant", "content": content})
        ep.messages.append({"role": "user", "content": reply})
        if STOP in reply:
            ep.done, ep.ended_by = True, "user_stop"
            break
    ep.user_messages = user.messages
    if ep.done:
        result = reward(data, task, env.db_hash(), replies)
        ep.reward, ep.db_match, ep.outputs = result.reward, result.db_match, result.outputs
        if not result.db_match:  # what a reader needs to see why: the values that differ
            gold = await asyncio.to_thread(gold_env, data, task)
            ep.db_diff = db_difference(gold.db, env.db)
    return ep
