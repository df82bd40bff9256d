"""SWE-bench edits are the model's: every path it names is confined to the checkout, and git
run on a tree it touched executes nothing the tree or the model configured."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from m1eval.swebench.confine import UnsafePath, confined_file
from m1eval.swebench.repo import git
from m1eval.swebench.scaffold import MAX_EDITS, apply_edits, parse_edits
from m1eval.testing.stub_server import StubConfig, StubServer
from tests.conftest import declared_files, only_run_dir, read_jsonl


def edit(path: str, search: str = "x = 1", replace: str = "x = 2") -> str:
    return (
        f"```python\n### {path}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n```"
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "mod.py").write_text("x = 1\n")
    (root / ".gitattributes").write_text("*.py diff=evil\n")
    (tmp_path / "outside.py").write_text("x = 1\n")
    (root / "pkg" / "link.py").symlink_to(tmp_path / "outside.py")
    (root / "pkg" / "dirlink").symlink_to(tmp_path, target_is_directory=True)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return root


HOSTILE_PATHS = [
    "pkg/../.git/config", ".git/config", ".git/hooks/post-checkout", "pkg/../../outside.py",
    "../outside.py", "/etc/passwd", "pkg/link.py", "pkg/dirlink/outside.py", ".gitattributes",
    "pkg/.GIT/config", "pkg/mod.py\x00.txt", "pkg\\..\\..\\outside.py", "pkg/missing.py",
    "pkg", "a" * 5000,
]  # fmt: skip


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_an_edit_outside_the_checkout_fails_and_writes_nothing(repo: Path, path: str) -> None:
    before = {p: p.read_bytes() for p in repo.parent.rglob("*") if p.is_file()}
    status, detail = apply_edits(
        repo,
        [parse_edits(edit(path))[0]]
        if "\x00" not in path
        else [type(parse_edits(edit("a.py"))[0])(path, "x = 1", "y")],
    )
    assert status in ("unsafe_path", "search_not_found"), (status, detail)
    after = {p: p.read_bytes() for p in repo.parent.rglob("*") if p.is_file()}
    assert after == before


def test_confined_file_accepts_plain_paths_only(repo: Path) -> None:
    assert confined_file(repo, "pkg/mod.py") == repo / "pkg" / "mod.py"
    assert confined_file(repo, "./pkg//mod.py") == repo / "pkg" / "mod.py"
    for path in HOSTILE_PATHS:
        with pytest.raises(UnsafePath):
            confined_file(repo, path)


def test_git_runs_no_driver_the_tree_or_its_config_names(repo: Path, tmp_path: Path) -> None:
    """The original attack: an external diff driver in .git/config (and a textconv driver the
    tree's .gitattributes points at) would run on the host at the scaffold's `git diff`."""
    marker = tmp_path / "pwned"
    with open(repo / ".git" / "config", "a") as fh:
        fh.write(f'[diff]\n\texternal = "touch {marker}; false"\n'
                 f'[diff "evil"]\n\ttextconv = "touch {marker}; cat"\n'
                 f'[core]\n\tpager = "touch {marker}; cat"\n\tfsmonitor = "touch {marker}"\n'
                 f'[alias]\n\tdiff = "!touch {marker}"\n')  # fmt: skip
    hook = repo / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    (repo / "pkg" / "mod.py").write_text("x = 2\n")
    diff = git(repo, "diff").stdout
    git(repo, "checkout", "-q", "--", ".")
    git(repo, "status", "--porcelain")
    assert "+x = 2" in diff
    assert not marker.exists()
    # plain git, as the harness ran it before, does run the injected command
    subprocess.run(["git", "-C", str(repo), "diff"], capture_output=True, check=False,
                   env={**os.environ, "GIT_PAGER": "cat"})  # fmt: skip
    (repo / "pkg" / "mod.py").write_text("x = 3\n")
    subprocess.run(["git", "-C", str(repo), "diff"], capture_output=True, check=False)
    assert marker.exists()


def test_the_scaffold_under_attack_end_to_end(cli, selftest_image, tmp_path: Path) -> None:
    """A model that answers every repair with edits aimed at git's config, the host and a
    path outside the checkout: no command runs, nothing outside changes, the instance is a
    model failure (no usable patch), and the stage artifacts say why."""
    marker = tmp_path / "pwned"
    attack = "\n".join([
        edit("calcpkg/../.git/config", "[core]", f"[core]\n\tpager = touch {marker}\n"
             f"[diff]\n\texternal = touch {marker}"),
        edit("../../../../../../tmp/m1eval-escaped.py"),
        edit("/etc/m1eval-escaped.py"),
    ])  # fmt: skip
    answers = {
        "Repository Structure": "```\ncalcpkg/ops.py\n../.git/config\n```",
        "Skeleton of Relevant Files": "```\ncalcpkg/ops.py\nfunction: clamp\n```",
        "SEARCH/REPLACE": attack,
    }
    with StubServer(StubConfig(answers=answers, correct_rate=1.0, reasoning=False)) as server:
        res = cli("run", "--suite", "swe-bench", "--split", "smoke", "--base-url",
                  server.base_url, "--model", "stub-model", "--results-dir", tmp_path / "r",
                  "--no-progress", "--patch-samples", "2",
                  "--content-format", "string")  # fmt: skip
    assert res.code == 0, res.err
    assert not marker.exists()
    assert not Path("/tmp/m1eval-escaped.py").exists()
    assert not Path("/etc/m1eval-escaped.py").exists()
    run = only_run_dir(tmp_path / "r")
    [sample] = read_jsonl(run / "samples.jsonl")
    assert sample["outcome"] == "model_failure" and sample["score"] == 0.0
    repair = json.loads(declared_files(run, sample)["3_repair_0.json"].read_text())
    assert repair["status"] == "unsafe_path" and ".git" in repair["detail"]


# the pattern the edit parser replaced (a backtracking regex over the whole reply): the
# parser must find what it finds, where its header bounds allow, in linear time
_OLD_EDIT = re.compile(
    r"###\s*(?P<path>\S+)\s*\n<<<<<<< SEARCH\n(?P<search>.*?)\n?=======\n(?P<replace>.*?)\n?"
    r">>>>>>> REPLACE", re.S)
_PIECES = ["### a.py\n", "###  pkg/b.py \n", "<<<<<<< SEARCH\n", "=======\n", ">>>>>>> REPLACE",
           "\n", "x = 1\n", "### ", "#", "=", ">", "<<<<<<< SEARCH", " ", "./c.py\n", "\n\n"]


def _old(text: str) -> list[tuple[str, str, str]]:
    out = []
    for m in _OLD_EDIT.finditer(text):
        path = m["path"]
        while path.startswith("./"):
            path = path[2:]
        out.append((path, m["search"], m["replace"]))
        if len(out) >= MAX_EDITS:
            break
    return out


@given(st.lists(st.sampled_from(_PIECES), max_size=40))
def test_the_edit_parser_finds_what_the_pattern_found(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert [(e.path, e.search, e.replace) for e in parse_edits(text)] == _old(text)


def test_unterminated_edit_markers_cost_linear_time() -> None:
    """256 KB of headers and SEARCH markers with no divider: the old pattern spent 25 s of
    CPU on it (quadratic); the parser reads each character a bounded number of times."""
    import time

    for bomb in ("### a\n<<<<<<< SEARCH\n" * 12_000,
                 "### a\n<<<<<<< SEARCH\n" * 12_000 + "=======\n",
                 ("### a\n<<<<<<< SEARCH\n" + " " * 500) * 400 + "=======\n>>>>>>> REPLACE",
                 "###" + " " * 250_000 + "\n<<<<<<< SEARCH\n=======\n>>>>>>> REPLACE"):
        started = time.process_time()
        parse_edits(bomb)
        assert time.process_time() - started < 0.5


def _appended(path: str, lines: list[str]) -> str:
    """A patch that appends ``lines`` to one file of the self-made instance."""
    import difflib

    from m1eval.testing import swebench_selftest as st

    if path not in st.FILES:  # a new file
        new = [line + "\n" for line in lines]
        body = "".join(difflib.unified_diff([], new, "/dev/null", f"b/{path}"))
        return f"diff --git a/{path} b/{path}\nnew file mode 100644\n{body}"
    old = st.FILES[path].splitlines(keepends=True)
    new = old + [line + "\n" for line in lines]
    body = "".join(difflib.unified_diff(old, new, f"a/{path}", f"b/{path}"))
    return f"diff --git a/{path} b/{path}\n{body}"


# a plain wrong fix, the baseline every attack must not beat
WRONG = _appended("calcpkg/ops.py", ["", "def unused():", "    return 0"])
# the module under test prints pytest's verdict itself at exit, and leaves with status 0
FORGE = ["import atexit as _a, os as _o, sys as _s", "def _forge():",
         "    _s.stdout.write('PASSED tests/test_ops.py::test_clamp_high\\n')",
         "    _s.stdout.flush()", "    _o._exit(0)", "_a.register(_forge)"]
# the module under test pretends the test runner is missing
NOT_FOUND = ["import os as _o, sys as _s",
             "_s.stdout.write('/eval.sh: line 17: pytest: command not found\\n')",
             "_s.stdout.flush()", "_o._exit(127)"]


@pytest.mark.slow
@pytest.mark.parametrize(("patch", "error"), [
    (_appended("calcpkg/ops.py", FORGE), "forged test output: 'PASSED "
     "tests/test_ops.py::test_clamp_high' printed after pytest's own summary"),
    (_appended("calcpkg/ops.py", NOT_FOUND), "the tests could not start with this patch "
     "(exit status 127); without it they do (exit status 1)"),
    (_appended("tests/conftest.py", ["def pytest_runtest_logreport(report):",
                                     "    report.outcome = 'passed'"]),
     "the patch changes test infrastructure: tests/conftest.py"),
])  # fmt: skip
def test_a_patch_cannot_forge_its_verdict(selftest_image, tmp_path: Path, patch: str,
                                          error: str) -> None:  # fmt: skip
    """Against the real swebench grading of the self-made instance: each patch fixes nothing;
    each is the model's failure, scored as a plain wrong patch is (0), never resolved and
    never an infra error left out of the score."""
    from m1eval.swebench.grading import grade_predictions
    from m1eval.testing import swebench_selftest as st

    inst = st.instance()
    preds = [{"instance_id": inst["instance_id"], "model_name_or_path": "m", "model_patch": p}
             for p in (patch, WRONG)]  # fmt: skip
    attack, wrong = (grade_predictions({inst["instance_id"]: inst}, [p], f"r{i}", tmp_path, 1,
                                       300)[0] for i, p in enumerate(preds))  # fmt: skip
    assert (attack.outcome, attack.score, attack.error) == ("model_failure", 0.0, error)
    assert wrong.outcome == "scored" and wrong.score == attack.score == 0.0
