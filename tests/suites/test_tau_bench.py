"""TAU-bench: the tools against the official gold replays, tau-bench's reward, the episode
loop with scripted agents and users, bad tool calls, and episodes on the embedded model."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from m1eval.registry import get_suite
from m1eval.tau.env import load_domain, replay
from m1eval.tau.episode import STOP, run_episode, user_system_prompt
from m1eval.testing.stub_server import StubConfig, StubServer
from tests.conftest import declared_files, embedded_available, only_run_dir, read_jsonl

TAU = Path(os.environ["M1EVAL_TAU_DIR"])  # set by conftest (the shared real data)


@pytest.fixture(scope="module", params=["airline", "retail"])
def domain(request):
    if not (TAU / request.param / "wiki.md").exists():
        pytest.skip(f"tau-bench data not found at {TAU}")
    return load_domain(request.param, TAU)


def test_every_gold_replay_matches(domain) -> None:
    gold = json.loads((TAU / domain.domain / "gold_replay.json").read_text())
    assert len(gold) == len(domain.tasks) == {"airline": 50, "retail": 115}[domain.domain]
    checked = 0
    for task, expected in zip(domain.tasks, gold, strict=True):
        observations, _ = replay(domain, task["actions"])
        assert observations == expected["observations"], task["task_id"]
        checked += len(observations)
    assert checked > 100


def _tool_call(i: int, name: str, kwargs: dict | str) -> dict:
    args = kwargs if isinstance(kwargs, str) else json.dumps(kwargs)
    return {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": args}}


def scripted(actions: list[dict], final: str = "All done.", per_turn: int = 1):
    """An agent that replays ``actions`` (``per_turn`` calls a turn), then replies ``final``."""
    todo = [a for a in actions if a["name"] != "respond"]
    turn = {"n": 0}

    async def agent(messages, tools):
        start = turn["n"] * per_turn
        turn["n"] += 1
        batch = todo[start : start + per_turn]
        if batch:
            calls = [_tool_call(start + j, a["name"], a["kwargs"]) for j, a in enumerate(batch)]
            return {"content": "", "tool_calls": calls}
        return {"content": final, "tool_calls": None}

    async def user(messages):
        return STOP if len(messages) > 2 else "Hi, I need some help."

    return agent, user


async def _run_all(domain) -> list[float]:
    rewards = []
    for task in domain.tasks:
        agent, user = scripted(task["actions"], "Done: " + " ".join(task.get("outputs") or []))
        episode = await run_episode(domain, task, agent, user, max_steps=60)
        rewards.append(episode.reward)
    return rewards


def test_scripted_gold_agent_scores_one_everywhere(domain) -> None:
    import asyncio

    rewards = asyncio.run(_run_all(domain))
    assert rewards == [1.0] * len(domain.tasks)


def _write_task(domain):
    """A task, a database write among its gold actions, and a text argument of that write."""
    readonly = ("get_", "find_", "list_", "search_", "calculate", "think", "respond",
                "transfer_to_human_agents")  # fmt: skip
    for task in domain.tasks:
        for i, action in enumerate(task["actions"]):
            if action["name"].startswith(readonly):
                continue
            for key, value in action["kwargs"].items():
                if isinstance(value, str) and not key.endswith("_id"):
                    return task, i, key
    raise AssertionError("no write with a text argument")


def test_a_single_wrong_write_scores_zero(domain) -> None:
    import asyncio

    task, i, key = _write_task(domain)
    actions = copy.deepcopy(task["actions"])
    actions[i]["kwargs"][key] += " (changed)"
    agent, user = scripted(actions, "Done: " + " ".join(task.get("outputs") or []))
    episode = asyncio.run(run_episode(domain, task, agent, user, max_steps=60))
    assert episode.reward == 0.0 and episode.db_match is False


def test_required_outputs_are_checked_without_commas() -> None:
    import asyncio

    data = load_domain("retail", TAU) if (TAU / "retail").exists() else pytest.skip("no data")
    task = next(t for t in data.tasks if t.get("outputs"))
    said = " ".join(o.upper() for o in task["outputs"])
    agent, user = scripted(task["actions"], f"Here you go: {said}")
    assert asyncio.run(run_episode(data, task, agent, user, max_steps=60)).reward == 1.0
    # commas anywhere in a reply are removed before matching ("1,093.34" says "1093.34")
    with_commas = " ".join(",".join(o) for o in task["outputs"])
    assert all(len(o) > 1 for o in task["outputs"]) and "," in with_commas
    agent, user = scripted(task["actions"], f"Here you go: {with_commas}")
    assert asyncio.run(run_episode(data, task, agent, user, max_steps=60)).reward == 1.0
    agent, user = scripted(task["actions"], "Here you go.")
    episode = asyncio.run(run_episode(data, task, agent, user, max_steps=60))
    assert episode.reward == 0.0 and episode.db_match is True
    assert not all(episode.outputs.values())


def test_an_episode_cut_by_the_step_limit_earns_nothing() -> None:
    """The gold actions and outputs, but the user never ends the conversation: the episode
    runs out of steps and, as in tau-bench, only a finished episode is rewarded."""
    import asyncio

    data = load_domain("retail", TAU) if (TAU / "retail").exists() else pytest.skip("no data")
    task = next(t for t in data.tasks if t.get("outputs"))
    final = "Done: " + " ".join(task["outputs"])
    agent, _ = scripted(task["actions"], final)

    async def never_stops(messages):
        return "Is there anything else?"

    steps = len([a for a in task["actions"] if a["name"] != "respond"]) + 3
    episode = asyncio.run(run_episode(data, task, agent, never_stops, max_steps=steps))
    assert episode.ended_by == "step_limit" and episode.reward == 0.0
    agent, user = scripted(task["actions"], final)
    episode = asyncio.run(run_episode(data, task, agent, user, max_steps=steps))
    assert episode.ended_by == "user_stop" and episode.reward == 1.0


def test_step_limit_bad_calls_and_first_call_only() -> None:
    import asyncio

    data = load_domain("airline", TAU) if (TAU / "airline").exists() else pytest.skip("no data")
    task = data.tasks[0]
    calls = [
        _tool_call(0, "no_such_tool", {}),
        _tool_call(1, "get_user_details", {"user_id": 42}),  # wrong type
        _tool_call(2, "get_reservation_details", {"reservation_id": "NOPE00"}),  # missing id
        _tool_call(3, "get_user_details", "{not json"),
    ]
    turns = iter([{"content": "", "tool_calls": [c, _tool_call(9, "think", {"thought": "x"})]}
                  for c in calls])  # fmt: skip

    async def agent(messages, tools):
        return next(turns)

    async def user(messages):
        return "Hello."

    episode = asyncio.run(run_episode(data, task, agent, user, max_steps=4,
                                      malformed="continue"))  # fmt: skip
    observations = [m["content"] for m in episode.messages if m["role"] == "tool"]
    assert observations[0] == "Unknown action no_such_tool"
    assert observations[1] == "Error: user not found"
    assert observations[2] == "Error: user not found"  # sic: tau-bench's words for a reservation
    assert observations[3].startswith("Error: malformed tool call arguments")
    assert episode.ended_by == "step_limit" and episode.reward == 0.0
    assert episode.dropped_tool_calls == 4 and episode.malformed_tool_calls == 1


def _gold_with_a_malformed_first_call(task: dict) -> tuple:
    """The gold actions, preceded by one call whose arguments are not JSON."""
    todo = [a for a in task["actions"] if a["name"] != "respond"]
    first = todo[0]["name"] if todo else "get_user_details"
    turns = iter([{"content": "", "tool_calls": [_tool_call(99, first, "{oops")]}]
                 + [{"content": "", "tool_calls": [_tool_call(i, a["name"], a["kwargs"])]}
                    for i, a in enumerate(todo)]
                 + [{"content": "Done: " + " ".join(task.get("outputs") or []),
                     "tool_calls": None}])  # fmt: skip

    async def agent(messages, tools):
        return next(turns)

    async def user(messages):
        return STOP if len(messages) > 2 else "Hi, I need some help."

    return agent, user


@pytest.mark.parametrize(
    ("policy", "ended_by", "reward"),
    [("end", "malformed_tool_call", 0.0), ("continue", "user_stop", 1.0)],
)
def test_a_malformed_tool_call_ends_the_episode_as_in_tau_bench(
    policy: str, ended_by: str, reward: float
) -> None:
    """tau-bench parses arguments with json.loads: text that is not JSON raises out of the
    agent and the task scores 0, however well the rest would have gone (airline task 12,
    whose gold is to change nothing). Continuing with an
    error observation is the option (the same episode then earns its reward)."""
    import asyncio

    data = load_domain("airline", TAU) if (TAU / "airline").exists() else pytest.skip("no data")
    task = data.tasks[12]
    agent, user = _gold_with_a_malformed_first_call(task)
    episode = asyncio.run(run_episode(data, task, agent, user, max_steps=60, malformed=policy))
    assert (episode.ended_by, episode.reward, episode.malformed_tool_calls) == (ended_by, reward, 1)


def test_an_empty_user_reply_is_a_turn() -> None:
    """tau-bench's simulator appends whatever the model said, an empty string included."""
    import asyncio

    data = load_domain("retail", TAU) if (TAU / "retail").exists() else pytest.skip("no data")
    task = data.tasks[0]
    agent, _ = scripted(task["actions"], "Done: " + " ".join(task.get("outputs") or []))
    replies = iter(["Hi, I need some help.", "", STOP])

    async def user(messages):
        return next(replies)

    episode = asyncio.run(run_episode(data, task, agent, user, max_steps=60))
    assert episode.ended_by == "user_stop" and episode.reward == 1.0
    assert [m["content"] for m in episode.user_messages if m["role"] == "assistant"] == [
        "Hi, I need some help.",
        "",
        STOP,
    ]


def test_user_prompt_is_tau_benchs() -> None:
    prompt = user_system_prompt("You want a refund.")
    assert prompt.startswith("You are a user interacting with an agent.\n\nInstruction: You want")
    assert "generate '###STOP###' as a standalone message" in prompt


def test_replay_command(cli, tmp_path: Path) -> None:
    if not (TAU / "airline").exists():
        pytest.skip("no data")
    actions = tmp_path / "a.json"
    actions.write_text(json.dumps([
        {"name": "send_certificate", "kwargs": {"user_id": "mia_li_3668", "amount": 100}},
        {"name": "respond", "kwargs": {"content": "done"}},
    ]))  # fmt: skip
    db = tmp_path / "db.json"
    res = cli("tau", "replay", "--domain", "airline", "--actions", actions, "--data-dir", TAU,
              "--dump-db", db)  # fmt: skip
    assert res.code == 0, res.err
    assert res.out.splitlines() == [
        '[0] send_certificate({"user_id": "mia_li_3668", "amount": 100}) -> Certificate '
        "certificate_3221322 added to user mia_li_3668 with amount 100.",
        '[1] respond({"content": "done"}) -> (no observation)']  # fmt: skip
    db.unlink()
    res = cli("tau", "replay", "--domain", "airline", "--actions", actions, "--data-dir", TAU,
              "--dump-db", db, "--json")  # fmt: skip
    lines = [json.loads(x) for x in res.out.splitlines()]
    assert lines == [{"step": 0, "action": "send_certificate", "observation":
                      "Certificate certificate_3221322 added to user mia_li_3668 with amount 100."},
                     {"step": 1, "action": "respond", "observation": None}]  # fmt: skip
    assert "certificate_3221322" in json.loads(db.read_text())["users"]["mia_li_3668"][
        "payment_methods"]  # fmt: skip
    actions.write_text("{oops")
    bad = cli("tau", "replay", "--domain", "airline", "--actions", actions, "--data-dir", TAU)
    assert bad.code == 2 and "not valid JSON" in bad.err


def test_user_simulator_failure_is_an_infra_error(cli, tmp_path: Path) -> None:
    if not (TAU / "airline").exists():
        pytest.skip("no data")
    failing_user = StubConfig(fail_prompts=("You are a user interacting with an agent",))
    with StubServer(StubConfig()) as agent_server, StubServer(failing_user) as user_server:
        res = cli("run", "--suite", "tau-bench-airline", "--limit", "1", "--base-url",
                  agent_server.base_url, "--model", "stub-model", "--user-base-url",
                  user_server.base_url, "--user-model", "stub-model", "--max-attempts", "2",
                  "--retry-base-delay", "0.01", "--results-dir", tmp_path, "--no-progress",
                  "--data-dir", TAU)  # fmt: skip
        agent_requests = agent_server.state.requests
    assert res.code == 4
    [sample] = read_jsonl(only_run_dir(tmp_path) / "samples.jsonl")
    assert sample["outcome"] == "infra_error" and "user simulator" in sample["error"]
    assert agent_requests == 0  # the user speaks first; the agent was never asked


def test_pass_hat_k_summary() -> None:
    suite = get_suite("tau-bench-retail")
    trials = (("0", [1, 1, 0]), ("1", [1, 1, 1]))
    recs = [
        {"item_id": i, "repeat": r, "outcome": "scored", "score": s, "extra": {}}
        for i, scores in trials
        for r, s in enumerate(scores)
    ]
    summary = suite.summarize(recs)
    # task 0: C(2,k)/C(3,k); task 1: 1
    assert summary["pass_hat_k"]["pass^1"] == pytest.approx(100 * (2 / 3 + 1) / 2, abs=1e-3)
    assert summary["pass_hat_k"]["pass^2"] == pytest.approx(100 * (1 / 3 + 1) / 2, abs=1e-3)
    assert summary["pass_hat_k"]["pass^3"] == pytest.approx(50.0)


@pytest.mark.slow
def test_smoke_episode_on_the_embedded_model(cli, tmp_path: Path) -> None:
    if not embedded_available() or not (TAU / "retail").exists():
        pytest.skip("embedded model or tau-bench data missing")
    res = cli("run", "--suite", "tau-bench-retail", "--limit", "1", "--max-steps", "2",
              "--max-tokens", "32", "--user-max-tokens", "32", "--results-dir", tmp_path,
              "--no-progress", "--data-dir", TAU)  # fmt: skip
    assert res.code in (0, 4), res.err
    run = only_run_dir(tmp_path)
    [sample] = read_jsonl(run / "samples.jsonl")
    if sample["outcome"] == "scored":
        episode = json.loads(declared_files(run, sample)["dialogue.json"].read_text())
        assert episode["steps"] <= 2 and episode["trajectory"][0]["role"] == "system"
        assert episode["user_messages"][0]["role"] == "system"
        # values: the reward is 1 exactly when the episode ended (not by the step limit), the
        # database matches the gold one and every required output was said
        earned = (episode["ended_by"] != "step_limit" and episode["db_match"] is True
                  and all((episode.get("outputs") or {}).values()))  # fmt: skip
        assert sample["score"] == (1.0 if earned else 0.0)
    summary = json.loads((run / "summary.json").read_text())["suites"]["tau-bench-retail"]
    assert summary["user_simulator"]["model"] == "smollm2-135m-instruct"


def _fake_upstream(root: Path) -> Path:
    """A tau-bench checkout in the upstream layout, rendered from the shared JSON form, whose
    Python files would stop the test if they were ever executed."""
    for domain in ("airline", "retail"):
        src = TAU / domain
        env = root / "tau_bench" / "envs" / domain
        (env / "data").mkdir(parents=True)
        (env / "tools").mkdir()
        for path in (src / "data").glob("*.json"):
            (env / "data" / path.name).write_bytes(path.read_bytes())
        (env / "wiki.md").write_bytes((src / "wiki.md").read_bytes())
        tasks = json.loads((src / "tasks_test.json").read_text())
        rendered = []
        for t in tasks:
            actions = ", ".join(f"Action(name={a['name']!r}, kwargs={a['kwargs']!r})"
                                for a in t["actions"])  # fmt: skip
            rendered.append(f"    Task(annotator={t.get('annotator', '')!r}, "
                            f"user_id={t['user_id']!r}, instruction={t['instruction']!r}, "
                            f"actions=[{actions}], outputs={t.get('outputs', [])!r}),")  # fmt: skip
        (env / "tasks_test.py").write_text(
            "from tau_bench.types import Action, Task\n"
            "raise SystemExit('tasks file executed')\n"
            "TASKS_TEST = [\n" + "\n".join(rendered) + "\n]\n"
        )
        tools = json.loads((src / "tools.json").read_text())
        names = []
        for i, tool in enumerate(tools):
            name = f"Tool{i}"
            names.append(name)
            (env / "tools" / f"tool_{i}.py").write_text(
                "raise SystemExit('tool file executed')\n"
                f"class {name}:\n    @staticmethod\n    def invoke(data):\n"
                "        raise SystemExit\n"
                f"    @staticmethod\n    def get_info():\n        return {tool!r}\n"
            )
        (env / "tools" / "__init__.py").write_text(
            "\n".join(f"from .tool_{i} import Tool{i}" for i in range(len(tools)))
            + f"\nALL_TOOLS = [{', '.join(names)}]\n"
        )
    return root


def test_data_pull_parses_upstream_without_executing_it(cli, tmp_path: Path) -> None:
    if not (TAU / "airline").exists():
        pytest.skip("no data")
    source = _fake_upstream(tmp_path / "tau-bench")
    out = tmp_path / "out"
    res = cli("data", "pull", "--suite", "tau-bench", "--source", source, "--out", out)
    assert res.code == 0, res.err
    assert "airline: 50 tasks, retail: 115 tasks" in res.out
    for domain in ("airline", "retail"):
        for rel in ("tools.json", "wiki.md", "data/users.json"):
            assert (out / domain / rel).read_bytes() == (TAU / domain / rel).read_bytes() or \
                json.loads((out / domain / rel).read_text()) == json.loads(
                    (TAU / domain / rel).read_text())  # fmt: skip
        pulled = json.loads((out / domain / "tasks_test.json").read_text())
        shared = json.loads((TAU / domain / "tasks_test.json").read_text())
        keys = ("user_id", "instruction", "actions", "outputs")
        assert [{k: t[k] for k in keys} for t in pulled] == [
            {k: t.get(k, []) for k in keys} for t in shared
        ]


def test_user_cache_is_per_episode_and_survives_a_restart(tmp_path: Path) -> None:
    from m1eval.tau.user_cache import UserCache

    path = tmp_path / "tau" / "user_cache.jsonl"
    cache = UserCache(path)
    messages = [{"role": "system", "content": "be a user"}]
    k1 = cache.key("sample-a", "gpt-4.1", {"temperature": 1.0}, messages)
    k2 = cache.key("sample-b", "gpt-4.1", {"temperature": 1.0}, messages)
    assert k1 != k2  # two trials never share a reply
    cache.put(k1, "Hi, I want a refund.")
    with path.open("a") as fh:
        fh.write('{"key": "torn')  # a crash mid-write
    reopened = UserCache(path)
    assert reopened.get(k1) == "Hi, I want a refund." and reopened.get(k2) is None
    assert reopened.hits == 1


def test_an_episode_message_by_message() -> None:
    """Every message the agent and the user simulator see, every recorded action and counter,
    for a short scripted airline episode: a call with a second one dropped, a call without an
    id, a reply, the user's stop."""
    import asyncio

    data = load_domain("airline", TAU) if (TAU / "airline").exists() else pytest.skip("no data")
    task = data.tasks[0]
    seen: list[tuple[list, object]] = []
    turns = iter([
        {"content": "Let me look.", "tool_calls": [
            _tool_call(0, "get_reservation_details", {"reservation_id": "NOPE"}),
            _tool_call(1, "think", {"thought": "dropped"})]},
        {"content": None, "tool_calls": [{"type": "function", "function": {
            "name": "think", "arguments": "{\"thought\": \"hm\"}"}}]},
        {"content": "Sorry, no such reservation.", "tool_calls": None},
    ])  # fmt: skip

    async def agent(messages, tools):
        seen.append((copy.deepcopy(messages), tools))
        return next(turns)

    said: list[list] = []

    async def user(messages):
        said.append(copy.deepcopy(messages))
        return "I want to check my trip." if len(said) == 1 else STOP

    ep = asyncio.run(run_episode(data, task, agent, user, max_steps=10,
                                 extra_system_prompt="EXTRA"))  # fmt: skip
    system = {"role": "system", "content": data.wiki + "\nEXTRA"}
    first = {"role": "user", "content": "I want to check my trip."}
    call0 = _tool_call(0, "get_reservation_details", {"reservation_id": "NOPE"})
    thinking = {"type": "function", "function": {"name": "think", "arguments": '{"thought": "hm"}'}}
    assert ep.messages == [
        system, first,
        {"role": "assistant", "content": "Let me look.", "tool_calls": [call0]},
        {"role": "tool", "tool_call_id": "call_0", "name": "get_reservation_details",
         "content": "Error: user not found"},
        {"role": "assistant", "content": "", "tool_calls": [thinking]},
        {"role": "tool", "tool_call_id": "think", "name": "think", "content": ""},
        {"role": "assistant", "content": "Sorry, no such reservation."},
        {"role": "user", "content": STOP},
    ]  # fmt: skip
    assert [len(m) for m, _ in seen] == [2, 4, 6] and seen[0][0] == [system, first]
    assert all(tools is data.tools for _, tools in seen)
    assert ep.actions == [
        {"name": "get_reservation_details", "kwargs": {"reservation_id": "NOPE"}},
        {"name": "think", "kwargs": {"thought": "hm"}},
        {"name": "respond", "kwargs": {"content": "Sorry, no such reservation."}},
    ]
    assert said[1][-1] == {"role": "user", "content": "Sorry, no such reservation."}
    assert said[0] == [
        {"role": "system", "content": user_system_prompt(task["instruction"])},
        {"role": "user", "content": "Hi! How can I help you today?"},
    ]
    assert ep.user_messages[-1] == {"role": "assistant", "content": STOP}
    assert (ep.steps, ep.dropped_tool_calls, ep.malformed_tool_calls) == (3, 1, 0)
    assert (ep.ended_by, ep.done) == ("user_stop", True)
    s = ep.summary()
    assert s == {"reward": ep.reward, "ended_by": "user_stop", "steps": 3, "actions": 3,
                 "dropped_tool_calls": 1, "malformed_tool_calls": 0,
                 "db_match": ep.db_match, "outputs": ep.outputs,
                 "db_diff": ep.db_diff}  # fmt: skip
    assert (ep.db_match, ep.reward) == (False, 0.0)  # task 0's gold writes; nothing was
    # why, value by value: the gold actions book HATHAT and spend a certificate; nothing was
    diff = ep.db_diff
    assert diff["n"] == 3 and [c["path"] for c in diff["changes"]] == [
        "reservations/HATHAT", "users/mia_li_3668/payment_methods/certificate_7504069",
        "users/mia_li_3668/reservations"]  # fmt: skip
    assert diff["changes"][0]["actual"] is None and diff["changes"][1]["gold"] is None
    assert diff["changes"][2] == {"path": "users/mia_li_3668/reservations",
                                  "gold": '["NO6JO3", "AIXC49", "HKEG34", "HATHAT"]',
                                  "actual": '["NO6JO3", "AIXC49", "HKEG34"]'}  # fmt: skip


def test_every_tool_call_runs_when_asked_and_malformed_calls_are_counted() -> None:
    import asyncio

    data = load_domain("airline", TAU) if (TAU / "airline").exists() else pytest.skip("no data")
    turns = iter([{"content": "", "tool_calls": [
        _tool_call(0, "think", {"thought": "a"}), _tool_call(1, "think", "{bad"),
        _tool_call(2, "think", "{bad")]}, {"content": "ok", "tool_calls": None}])  # fmt: skip

    async def agent(messages, tools):
        return next(turns)

    async def user(messages):
        return "go" if len(messages) <= 2 else STOP

    ep = asyncio.run(run_episode(data, data.tasks[0], agent, user, max_steps=5,
                                 first_tool_call_only=False, malformed="continue"))  # fmt: skip
    tools = [m for m in ep.messages if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tools] == ["call_0", "call_1", "call_2"]
    assert (ep.dropped_tool_calls, ep.malformed_tool_calls) == (0, 2)
    assert ep.messages[0] == {"role": "system", "content": data.wiki}  # no extra prompt


def test_splits_are_test_and_smoke_and_nothing_else() -> None:
    from m1eval.errors import ConfigError

    if not (TAU / "retail").exists():
        pytest.skip("no data")
    suite = get_suite("tau-bench-retail")
    items, ds = suite.load("smoke", TAU)
    assert [i.item_id for i in items] == ["0", "1", "2"] and ds.split == "smoke"
    items, ds = suite.load(None, TAU)
    assert len(items) == 115 and ds.split == "test"
    with pytest.raises(ConfigError, match=r"'test' .* and 'smoke'"):
        suite.load("train", TAU)


def test_outputs_match_regardless_of_case_and_are_reported() -> None:
    from m1eval.tau.env import Env, gold_db_hash, reward

    data = load_domain("retail", TAU) if (TAU / "retail").exists() else pytest.skip("no data")
    task = {**data.tasks[0], "outputs": ["Blue Shirt", "42"]}
    gold = gold_db_hash(data, task)
    r = reward(data, task, gold, ["You asked about the BLUE shirt: 42.", "blue shirt"])
    assert (r.reward, r.db_match, r.outputs) == (1.0, True, {"Blue Shirt": True, "42": True})
    r = reward(data, task, gold, ["the red shirt: 42"])
    assert (r.reward, r.outputs) == (0.0, {"Blue Shirt": False, "42": True})
    assert reward(data, task, Env(data).db_hash(), ["blue shirt 42"]).db_match is False


def test_episode_defaults_and_odd_agent_turns() -> None:
    """Called without options: 30 steps and a malformed call ends the episode. A turn with
    no content and no call is an empty reply; a call without a name is an unknown action."""
    import asyncio

    data = load_domain("airline", TAU) if (TAU / "airline").exists() else pytest.skip("no data")
    task = data.tasks[0]

    async def chatty(messages, tools):
        return {"content": None, "tool_calls": None}

    async def patient(messages):
        return "Go on."

    ep = asyncio.run(run_episode(data, task, chatty, patient))
    assert ep.steps == 30 and ep.ended_by == "step_limit"
    assert ep.actions[0] == {"name": "respond", "kwargs": {"content": ""}}

    turns = iter([{"content": "", "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]},
                  {"content": "", "tool_calls": [_tool_call(1, "think", "{oops")]}])  # fmt: skip

    async def odd(messages, tools):
        return next(turns)

    ep = asyncio.run(run_episode(data, task, odd, patient))
    assert ep.messages[3] == {"role": "tool", "tool_call_id": "c", "name": "",
                              "content": "Unknown action "}  # fmt: skip
    assert ep.ended_by == "malformed_tool_call" and ep.steps == 2


def test_an_episode_that_raised_scores_0_as_in_tau_bench() -> None:
    """tau-bench's run.py: an episode that raises scores reward 0 and stays a trial; pass^k is
    C(c, k) / C(num_trials, k). Task 0: success, raised (infra error after its retries),
    failure; task 1: three successes. Official: (1/3 + 1) / 2; answered only: (1/2 + 1) / 2."""
    suite = get_suite("tau-bench-retail")
    recs = [
        {"item_id": "0", "repeat": 0, "outcome": "scored", "score": 1.0, "extra": {}},
        {"item_id": "0", "repeat": 1, "outcome": "infra_error", "score": None, "extra": {}},
        {"item_id": "0", "repeat": 2, "outcome": "scored", "score": 0.0, "extra": {}},
        *({"item_id": "1", "repeat": r, "outcome": "scored", "score": 1.0, "extra": {}}
          for r in range(3)),
    ]  # fmt: skip
    s = suite.summarize(recs)
    official, answered = s["headlines"]
    assert official["name"] == "tau-bench-retail" and official["paper_row"] == ""
    assert official["score"] == pytest.approx(100 * (1 / 3 + 1) / 2, abs=1e-3)
    assert answered["name"] == "tau-bench-retail (answered only)"
    assert answered["score"] == pytest.approx(75.0)
    assert s["pass_hat_k"]["pass^1"] == pytest.approx(100 * (1 / 3 + 1) / 2, abs=1e-3)
    assert s["pass_hat_k"]["pass^2"] == pytest.approx(50.0)  # C(1,2) = 0 for task 0
    assert s["pass_hat_k_answered_only"]["pass^1"] == pytest.approx(75.0)
    assert s["pass_hat_k_answered_only"]["pass^2"] == pytest.approx(50.0)
    assert s["episodes_raised"] == 1
    [table, _] = s["breakdowns"]
    assert table["rows"][0] == {"group": "pass^1", "score": pytest.approx(66.6667),
                                "answered only": 75.0}  # fmt: skip
    # a reward within 1e-6 of 1 is a success, as tau-bench's is_successful
    near = [{**r, "score": 0.9999995} if r["score"] == 1.0 else r for r in recs]
    assert suite.summarize(near)["pass_hat_k"] == s["pass_hat_k"]


def test_a_user_reply_containing_stop_ends_the_episode() -> None:
    """tau-bench ends the episode when ``###STOP###`` is anywhere in the user's reply
    ("Thanks, that is all. ###STOP###"), and then grades it: the gold actions were taken, so
    the reward is 1; the agent is not asked again after the stop."""
    import asyncio

    data = load_domain("retail", TAU) if (TAU / "retail").exists() else pytest.skip("no data")
    task = next(t for t in data.tasks if not t.get("outputs"))
    agent, _ = scripted(task["actions"])
    asked = {"n": 0}

    async def counting_agent(messages, tools):
        asked["n"] += 1
        return await agent(messages, tools)

    async def user(messages):
        return "Thanks, that is all. " + STOP if len(messages) > 2 else "Hi, I need help."

    episode = asyncio.run(run_episode(data, task, counting_agent, user, max_steps=60))
    assert episode.ended_by == "user_stop" and episode.reward == 1.0
    assert asked["n"] == len([a for a in task["actions"] if a["name"] != "respond"]) + 1


def test_tau_summary_every_field_by_hand() -> None:
    """Task 0: two episodes (1.0 ended by the user, 0.0 ended by the step limit with 2
    dropped and 1 malformed tool calls); task 1: one scored 1.0, one infra error."""
    suite = get_suite("tau-bench-retail")
    recs = [
        {"item_id": "0", "repeat": 0, "outcome": "scored", "score": 1.0,
         "extra": {"ended_by": "user_stop", "dropped_tool_calls": 2}},
        {"item_id": "0", "repeat": 1, "outcome": "model_failure", "score": 0.0,
         "extra": {"ended_by": "max_steps", "malformed_tool_calls": 1}},
        {"item_id": "1", "repeat": 0, "outcome": "scored", "score": 1.0,
         "extra": {"ended_by": "user_stop"}},
        {"item_id": "1", "repeat": 1, "outcome": "infra_error", "score": None, "extra": {}},
    ]  # fmt: skip
    s = suite.summarize(recs)
    assert s["ended_by"] == {"max_steps": 1, "user_stop": 2}
    assert (s["dropped_tool_calls"], s["malformed_tool_calls"], s["episodes_raised"]) == (2, 1, 1)
    assert s["pass_hat_k"] == {"pass^1": 50.0, "pass^2": 0.0}
    assert s["pass_hat_k_answered_only"] == {"pass^1": 75.0}
    official, answered = s["headlines"]
    assert official["note"] == "tau-bench's accounting: 1 episode(s) that raised after their " \
        "retries scored 0"  # fmt: skip
    assert official["score"] == 50.0 and answered["score"] == 75.0
    assert answered["note"] == "episodes that raised left out (retried on resume)"
    for h in (official, answered):
        assert h["ci_low"] is not None and h["ci_low"] <= h["score"] <= h["ci_high"]
    table, ended = s["breakdowns"]
    assert table["title"] == "pass^k (k of the trials succeed)"
    assert table["columns"] == ["score", "answered only"]
    assert table["rows"] == [{"group": "pass^1", "score": 50.0, "answered only": 75.0},
                             {"group": "pass^2", "score": 0.0, "answered only": None}]
    assert ended["title"] == "how episodes ended" and ended["columns"] == ["episodes"]
    assert ended["rows"] == [{"group": "max_steps", "episodes": 1},
                             {"group": "user_stop", "episodes": 2}]  # fmt: skip
    assert s["user_simulator"] == {"requests": 0, "cache_hits": 0, "prompt_tokens": 0,
                                   "completion_tokens": 0}  # fmt: skip
    assert s["episode_settings"]["max_steps"] == suite.options["max_steps"]
    # what the run reported about its simulator is kept
    suite.context.reported["user_simulator"] = {"model": "gpt-4.1"}
    assert suite.summarize(recs)["user_simulator"]["model"] == "gpt-4.1"
    # a record with no ended_by is counted under "?"
    assert suite.summarize([{"item_id": "0", "repeat": 0, "outcome": "scored", "score": 1.0,
                             "extra": {}}])["ended_by"] == {"?": 1}  # fmt: skip


def test_success_is_tau_benchs_own_float_rule() -> None:
    """is_successful: (1 - 1e-6) <= reward <= (1 + 1e-6), in floating point."""
    suite = get_suite("tau-bench-retail")

    def p1(score: float) -> float:
        rec = {"item_id": "0", "repeat": 0, "outcome": "scored", "score": score, "extra": {}}
        return suite.summarize([rec])["pass_hat_k"]["pass^1"]

    assert p1(1 - 1e-6) == 100.0 and p1(1 + 1e-6) == 100.0
    assert p1(1 - 2e-6) == 0.0 and p1(1 + 2e-6) == 0.0
    three = [{"item_id": "0", "repeat": r, "outcome": "scored", "score": s, "extra": {}}
             for r, s in enumerate((1.0, 0.0, 0.0))]  # fmt: skip
    assert suite.summarize(three)["pass_hat_k"]["pass^1"] == 33.3333  # four decimals


def test_episodes_after_one_that_raised_are_still_counted() -> None:
    suite = get_suite("tau-bench-retail")
    recs = [{"item_id": "0", "repeat": 0, "outcome": "infra_error", "score": None, "extra": {}},
            {"item_id": "0", "repeat": 1, "outcome": "scored", "score": 1.0,
             "extra": {"ended_by": "user_stop", "dropped_tool_calls": 1}}]  # fmt: skip
    s = suite.summarize(recs)
    assert s["ended_by"] == {"user_stop": 1} and s["dropped_tool_calls"] == 1
    assert s["pass_hat_k"] == {"pass^1": 50.0, "pass^2": 0.0}


def test_summarize_by_hand() -> None:
    """Two tasks of two trials and one episode that raised: tau-bench's accounting counts it
    0 (task 1: 1 of 2, task 2: 1 of 2 -> 50%), the answered-only reading leaves it out (task
    2: 1 of 1 -> 75%); episodes that ended without a recorded reason count under "?"."""
    from m1eval.suites.tau_bench import UserCache

    suite = get_suite("tau-bench-retail")
    recs = [
        {"item_id": "1", "repeat": 0, "outcome": "scored", "score": 1.0,
         "extra": {"ended_by": "user_stop", "dropped_tool_calls": 2}},
        {"item_id": "1", "repeat": 1, "outcome": "scored", "score": 0.0, "extra": {}},
        {"item_id": "2", "repeat": 0, "outcome": "scored", "score": 1.0,
         "extra": {"malformed_tool_calls": 1}},
        {"item_id": "2", "repeat": 1, "outcome": "infra_error", "score": None, "extra": {}},
    ]  # fmt: skip
    suite._user_cache = UserCache(None)
    suite._user_cache.hits = 3
    s = suite.summarize(recs)
    heads = {h["name"]: h for h in s["headlines"]}
    assert heads["tau-bench-retail"]["score"] == 50.0
    assert heads["tau-bench-retail (answered only)"]["score"] == 75.0
    assert "1 episode(s) that raised" in heads["tau-bench-retail"]["note"]
    assert s["episodes_raised"] == 1
    assert s["ended_by"] == {"user_stop": 1, "?": 2}
    assert s["dropped_tool_calls"] == 2 and s["malformed_tool_calls"] == 1
    # pass^1: (1/2 + 1/2) / 2; pass^2: both trials succeed in neither task
    assert s["pass_hat_k"] == {"pass^1": 50.0, "pass^2": 0.0}
    assert s["pass_hat_k_answered_only"] == {"pass^1": 75.0}
    passk, how = s["breakdowns"]
    assert passk["note"].startswith("score: every trial of every task, an episode that raised "
                                    "counted as a failure (tau-bench)")  # fmt: skip
    assert [(r["group"], r["episodes"]) for r in how["rows"]] == [("?", 2), ("user_stop", 1)]
    assert s["user_simulator"]["cache_hits"] == 3
    suite._user_cache = None
    assert suite.summarize(recs)["user_simulator"]["cache_hits"] == 0
