"""``m1eval doctor``: go against a correctly served M1, and each misconfiguration caught in
one line with its fix — against the emulated vLLM releases and the real embedded server."""

from __future__ import annotations

import pytest

from m1eval import chat_templates as templates
from m1eval.testing.vllm_emulator import RELEASES, EmulatorConfig, VllmEmulator
from tests.conftest import embedded_available

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _doctor(cli, base_url: str, *args: str) -> tuple[int, list[str]]:
    res = cli("doctor", "--base-url", base_url, *args)
    return res.code, res.out.splitlines()


def _lines(out: list[str], status: str) -> list[str]:
    return [line.strip() for line in out if line.strip().startswith(status)]


@pytest.mark.parametrize("release", RELEASES)
def test_go_on_a_well_served_m1(cli, release: str) -> None:
    with VllmEmulator(EmulatorConfig(version=release)) as server:
        code, out = _doctor(cli, server.base_url)
    assert code == 0 and out[-1] == "go", out
    checks = [line.split()[1] for line in _lines(out, "OK")]
    assert checks == ["server", "vllm", "window", "template", "template", "tools", "reasoning",
                      "seed", "sampling"]  # fmt: skip
    assert any("inline: <think> arrives in content" in line for line in out)


@pytest.mark.parametrize(("config", "check", "says", "fix"), [
    (EmulatorConfig(version="0.33.0"), "vllm", "vLLM 0.33.0 is newer than 0.23.x",
     "serve with a vLLM in 0.9.2 – 0.23.x"),
    (EmulatorConfig(version="0.9.1"), "vllm", "vLLM 0.9.1 is older than 0.9.2",
     "serve with a vLLM in 0.9.2 – 0.23.x"),
    (EmulatorConfig(max_model_len=1_000_000), "window",
     "max_model_len 1,000,000 < 1,081,920 that mrcr needs",
     "serve with --max-model-len 1081920 (or run mrcr with --mrcr-overflow fit)"),
    (EmulatorConfig(chat_template=CHATML), "template",
     "minimax_m1 (server default): the server renders the probe otherwise (first difference "
     "at character 1: server '|im_start|>",
     f"start vLLM with --chat-template {templates.template_path('minimax_m1')}"),
    (EmulatorConfig(tool_parser=None), "tools", "tool calling is off",
     "start vLLM with --enable-auto-tool-choice --tool-call-parser minimax"),
    (EmulatorConfig(trust_request_chat_template=False), "template",
     "minimax_m1_tools (per request): the server refuses request templates",
     "start vLLM with --trust-request-chat-template"),
    (EmulatorConfig(honour_seed=False), "seed",
     "two requests with seed 1234 answered differently", "serve from one vLLM instance"),
    (EmulatorConfig(honour_temperature=False), "sampling",
     "3 unseeded requests at temperature 1.0 answered alike: sampling parameters are ignored",
     "check that the server honours temperature and top_p"),
])  # fmt: skip
def test_each_misconfiguration_is_one_failed_line(cli, config: EmulatorConfig, check: str,
                                                  says: str, fix: str) -> None:  # fmt: skip
    with VllmEmulator(config) as server:
        code, out = _doctor(cli, server.base_url)
    failed = _lines(out, "FAIL")
    assert code == 5 and out[-1].startswith("no-go:"), out
    mine = [line for line in failed if line.split()[1] == check]
    assert len(mine) == 1, failed
    assert says in mine[0] and f"; fix: {fix}" in mine[0]
    assert len(failed) == 1, failed  # one fault, one FAIL line


def test_a_check_that_could_not_be_made_is_no_go(cli) -> None:
    """A server that should render the probe but answers /tokenize with an error: the template
    is unverified, and an unverified template is no reason to say go."""
    from m1eval.testing.vllm_emulator import EmulatorConfig as Config

    with VllmEmulator(Config(tokenize_error=True)) as server:
        code, out = _doctor(cli, server.base_url, "--suite", "aime24")
    assert code == 5 and out[-1].startswith("no-go:") and "could not be made" in out[-1], out
    skipped = _lines(out, "SKIP")
    assert skipped and all("\n" not in line for line in skipped)
    assert any("/tokenize answered HTTP 500" in line for line in skipped)


def test_window_and_tools_follow_the_chosen_suites(cli) -> None:
    """A window too small for MRCR is fine for AIME; the tool probe runs only for TAU."""
    config = EmulatorConfig(max_model_len=131_072, tool_parser=None)
    with VllmEmulator(config) as server:
        code, out = _doctor(cli, server.base_url, "--suite", "aime24")
        assert code == 0, out
        assert not any(line.split()[1:2] == ["tools"] for line in _lines(out, "OK"))
        code, out = _doctor(cli, server.base_url, "--suite", "tau-bench-retail")
    assert code == 5 and [line.split()[1] for line in _lines(out, "FAIL")] == ["tools"]


def test_unreachable_server_is_one_line(cli) -> None:
    code, out = _doctor(cli, "http://127.0.0.1:9/v1", "--suite", "aime24")
    assert code == 5 and len(_lines(out, "FAIL")) == 1
    assert "cannot reach model server" in _lines(out, "FAIL")[0]


@pytest.mark.skipif(not embedded_available(), reason="embedded model not installed")
def test_embedded_server(cli, embedded_server) -> None:
    """The embedded llama.cpp server is not vLLM: the version and template checks say so
    without failing; seeds and sampling are checked for real."""
    code, out = _doctor(cli, embedded_server.base_url, "--protocol", "embedded", "--suite",
                        "aime24", "--probe-max-tokens", "16")  # fmt: skip
    assert code == 0 and out[-1] == "go", out
    assert any(line.strip().startswith("WARN  vllm       no /version") for line in out)
    # the protocol names no template: not applicable, which is no reason to stop
    assert any(line.strip().startswith("N/A   template") for line in out)
    assert [line.split()[1] for line in _lines(out, "OK")][-2:] == ["seed", "sampling"]
