"""An Agentless-style pipeline that turns an issue into a patch, every stage an artifact.

1. files: from the repository tree and the issue, the model ranks the suspicious files;
2. elements: from skeletons of those files (class and function signatures with line
   numbers), it names the classes, functions and lines to edit;
3. repair: shown those code regions, it writes SEARCH/REPLACE edits, which are applied to a
   working copy and turned into a unified diff with ``git diff``; several samples;
4. selection: patches that are empty, do not apply or break syntax are dropped; the rest vote,
   one vote per distinct normalized patch (the AST of the edited files), ties to the first.

No embedding retrieval (as in the paper's two-stage localization). Each stage's prompt,
response and product is written to ``<artifacts>/<instance_id>/`` as JSON.
"""

from __future__ import annotations

import ast
import hashlib
import re
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from m1eval.fsutil import atomic_write_json, atomic_write_text
from m1eval.model.types import Completion
from m1eval.swebench.confine import UnsafePath, confined_file, write_confined
from m1eval.swebench.repo import git

Ask = Callable[[list[dict[str, Any]]], Awaitable[Completion]]
# bump when the stages change in a way the constants below do not show
SCAFFOLD_VERSION = 2
MAX_TREE_FILES = 1500
TOP_FILES = 4
CONTEXT_LINES = 10
MAX_EDITS = 200  # per response
SKIP_DIRS = {".git", "node_modules", "build", "dist", "__pycache__", ".tox", "venv", ".venv"}

FILES_PROMPT = """Please look through the following GitHub problem description and repository structure and provide a list of files that one would need to edit to fix the problem.

### GitHub Problem Description ###
{problem}

###

### Repository Structure ###
{tree}

###

Please only provide the full path and return at most {n} files, most important first.
The returned files should be wrapped with ```
For example:
```
file1.py
file2.py
```"""  # noqa: E501

ELEMENTS_PROMPT = """Please look through the following GitHub problem description and the skeletons of relevant files.
Identify all locations that need inspection or editing to fix the problem: class names, function or method names, or exact line numbers.

### GitHub Problem Description ###
{problem}

### Skeleton of Relevant Files ###
{skeletons}

###

Please provide the class name, function or method name, or the exact line numbers that need to be edited.
The locations should be wrapped with ```
For example:
```
full_path1/file1.py
line: 10
class: MyClass1
function: my_function

full_path2/file2.py
function: MyClass2.my_method
line: 12
```"""  # noqa: E501

REPAIR_PROMPT = """We are currently solving the following issue within our repository. Here is the issue text:
--- BEGIN ISSUE ---
{problem}
--- END ISSUE ---

Below are some code segments, each from a relevant file. One or more of these files may contain bugs.

--- BEGIN FILE ---
{segments}
--- END FILE ---

Please first localize the bug based on the issue statement, and then generate *SEARCH/REPLACE* edits to fix the issue.

Every *SEARCH/REPLACE* edit must use this format:
1. The file path
2. The start of search block: <<<<<<< SEARCH
3. A contiguous chunk of lines to search for in the existing source code
4. The dividing line: =======
5. The lines to replace into the source code
6. The end of the replace block: >>>>>>> REPLACE

Here is an example:

```python
### mathweb/flask/app.py
<<<<<<< SEARCH
from flask import Flask
=======
import math
from flask import Flask
>>>>>>> REPLACE
```

Please note that the *SEARCH/REPLACE* edit REQUIRES PROPER INDENTATION. Wrap each *SEARCH/REPLACE* edit in a code block as shown in the example above."""  # noqa: E501

# an edit: "### path\n<<<<<<< SEARCH\n" search "\n=======\n" replace "\n>>>>>>> REPLACE";
# found marker by marker (each character of a reply is looked at a bounded number of times)
_HEAD = re.compile(r"###\s{0,200}(?P<path>\S{1,10000})\s{0,200}\n\Z")
HEAD_CHARS = 10_500  # the header is searched this far back from its SEARCH marker, at most
SEARCH_MARK, DIVIDER, REPLACE_MARK = "\n<<<<<<< SEARCH\n", "=======\n", ">>>>>>> REPLACE"


@dataclass
class Edit:
    path: str
    search: str
    replace: str


@dataclass
class Candidate:
    index: int
    patch: str = ""
    # ok, no_edits, search_not_found, unsafe_path, unencodable, syntax_error, empty
    status: str = "pending"
    detail: str = ""
    normalized: str | None = None


@dataclass
class ScaffoldResult:
    patch: str
    candidates: list[Candidate] = field(default_factory=list)
    completions: list[Completion] = field(default_factory=list)
    error: str | None = None


def identity() -> dict[str, Any]:
    """Everything of the scaffold that shapes its requests (part of each sample's identity)."""
    return {
        "version": SCAFFOLD_VERSION, "files_prompt": FILES_PROMPT,
        "elements_prompt": ELEMENTS_PROMPT, "repair_prompt": REPAIR_PROMPT,
        "max_tree_files": MAX_TREE_FILES, "top_files": TOP_FILES,
        "context_lines": CONTEXT_LINES, "skip_dirs": sorted(SKIP_DIRS),
    }  # fmt: skip


def repo_tree(root: Path, limit: int = MAX_TREE_FILES) -> list[str]:
    files = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if any(part in SKIP_DIRS for part in rel.parts) or path.is_symlink():
            continue
        files.append(rel.as_posix())
        if len(files) >= limit:
            break
    return files


def fenced_lines(text: str) -> list[str]:
    """Lines inside the last ``` block (or every line when there is none)."""
    blocks = re.findall(r"```[^\n]*\n(.*?)```", text, re.S)
    body = blocks[-1] if blocks else text
    return [line.strip() for line in body.splitlines() if line.strip()]


def parse_files(text: str, known: set[str], n: int = TOP_FILES) -> list[str]:
    out: list[str] = []
    for line in fenced_lines(text):
        candidate = line.strip("`'\" -*").lstrip("./")
        if candidate in known and candidate not in out:
            out.append(candidate)
    return out[:n]


def keyword_files(root: Path, tree: list[str], problem: str, n: int = TOP_FILES) -> list[str]:
    """Files ranked by how many of the issue's identifiers they mention (a fallback)."""
    words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]{2,}", problem)}
    scored = []
    for rel in tree:
        text = (root / rel).read_text(errors="replace").lower()
        hits = sum(1 for w in words if w in text or w in rel.lower())
        if hits:
            scored.append((-hits, rel))
    return [rel for _, rel in sorted(scored)[:n]]


def skeleton(source: str) -> str:
    """Class and function signatures with line numbers (bodies elided)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return "\n".join(f"{i + 1}: {line}" for i, line in enumerate(source.splitlines()[:60]))
    lines = source.splitlines()
    out: list[str] = []

    def visit(nodes: list[ast.stmt], depth: int) -> None:
        for node in nodes:
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                header = lines[node.lineno - 1].strip()
                out.append(f"{node.lineno}: {'    ' * depth}{header} ...")
                if isinstance(node, ast.ClassDef):
                    visit(node.body, depth + 1)

    visit(tree.body, 0)
    return "\n".join(out)


def parse_locations(text: str, files: list[str]) -> dict[str, list[str]]:
    locs: dict[str, list[str]] = {}
    current: str | None = None
    for line in fenced_lines(text):
        if line in files:
            current = line
            locs.setdefault(current, [])
        elif current and re.match(r"^(class|function|line|method):", line):
            locs[current].append(line)
    return locs


def regions(source: str, locations: list[str]) -> list[tuple[int, int]]:
    """Line ranges (1-based, inclusive) for the named classes, functions and lines."""
    lines = source.splitlines()
    spans: list[tuple[int, int]] = []
    try:
        tree = ast.parse(source)
        defs: dict[str, ast.AST] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                defs[node.name] = node
                for sub in node.body:
                    if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
                        defs[f"{node.name}.{sub.name}"] = sub
                        defs.setdefault(sub.name, sub)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                defs.setdefault(node.name, node)
    except SyntaxError:
        defs = {}
    for loc in locations:
        kind, _, name = loc.partition(":")
        name = name.strip()
        if kind in ("class", "function", "method") and name in defs:
            node = defs[name]
            spans.append((node.lineno, getattr(node, "end_lineno", node.lineno)))
        elif kind == "line" and name.isdigit():
            spans.append((int(name), int(name)))
    if not spans:
        spans.append((1, min(len(lines), 80)))
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted((max(1, a - CONTEXT_LINES), min(len(lines), b + CONTEXT_LINES))
                         for a, b in spans):  # fmt: skip
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def segments(root: Path, locs: dict[str, list[str]]) -> str:
    parts = []
    for path, names in locs.items():
        source = (root / path).read_text(errors="replace")
        lines = source.splitlines()
        for lo, hi in regions(source, names):
            body = "\n".join(lines[lo - 1 : hi])
            parts.append(f"### {path}\n...\n{body}\n...")
    return "\n\n".join(parts)


def parse_edits(text: str) -> list[Edit]:
    """The SEARCH/REPLACE edits of a response, paths as written (confined when applied).

    The edits the pattern ``### path \n<<<<<<< SEARCH\n(search)\n?=======\n(replace)\n?
    >>>>>>> REPLACE`` finds, left to right, without overlap (a search ends at the first
    divider, a replace at the first REPLACE marker), in time linear in the reply: the reply
    is the model's, and a backtracking pattern over 256 KB of unterminated markers took
    seconds of the event loop."""
    edits: list[Edit] = []
    pos = floor = 0  # a header cannot span an earlier SEARCH line (it holds a space)
    while len(edits) < MAX_EDITS:
        m = text.find(SEARCH_MARK, max(pos, floor))
        if m < 0:
            break
        start = m + len(SEARCH_MARK)
        q = text.find(DIVIDER, start)
        r = text.find(REPLACE_MARK, q + len(DIVIDER)) if q >= 0 else -1
        if r < 0:
            break  # no edit can end after this point
        head = _HEAD.search(text, max(pos, floor, m - HEAD_CHARS), m + 1)
        floor = m + 1
        if head is None:
            continue
        path = head["path"]
        while path.startswith("./"):
            path = path[2:]
        body = q + len(DIVIDER)
        search = text[start : q - 1] if q - 1 >= start and text[q - 1] == "\n" else text[start:q]
        replace = text[body : r - 1] if r - 1 >= body and text[r - 1] == "\n" else text[body:r]
        edits.append(Edit(path, search, replace))
        pos = r + len(REPLACE_MARK)
    return edits


def apply_edits(root: Path, edits: list[Edit]) -> tuple[str, str]:
    """Apply edits to the working copy; (status, detail). The tree is reset first.

    Every path is the model's: it must name an existing regular file inside the checkout,
    reached through no link, outside git's own files (:mod:`m1eval.swebench.confine`);
    anything else fails the candidate with status ``unsafe_path``. Edited files are only
    written and parsed (``ast.parse``), never executed.
    """
    git(root, "checkout", "-q", "--", ".")
    git(root, "clean", "-qfd")
    if not edits:
        return "no_edits", "the response has no SEARCH/REPLACE edit"
    targets: dict[str, Path] = {}
    for edit in edits:
        try:
            target = confined_file(root, edit.path)
        except UnsafePath as exc:
            status = "search_not_found" if str(exc).startswith("no file") else "unsafe_path"
            return status, str(exc)
        try:
            text = target.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return "search_not_found", f"cannot read {edit.path} as UTF-8: {exc}"[:300]
        if edit.search not in text:
            return "search_not_found", f"SEARCH block not found in {edit.path}"
        try:
            data = text.replace(edit.search, edit.replace, 1).encode("utf-8")
        except UnicodeEncodeError:
            return "unencodable", f"the REPLACE text for {edit.path} is not valid Unicode"
        write_confined(target, data)
        targets[edit.path] = target
    for path, target in targets.items():
        if path.endswith(".py"):
            try:
                ast.parse(target.read_bytes(), filename=path)
            except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
                return "syntax_error", f"{path}: {_syntax_message(exc)}"
    return "ok", ""


def _syntax_message(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"{exc.msg} (line {exc.lineno})"
    return type(exc).__name__


def normalized(root: Path, paths: list[str]) -> str:
    """AST of the edited files: patches that differ in formatting only vote together (paths
    are the ones :func:`apply_edits` confined)."""
    parts = []
    for path in sorted(set(paths)):
        text = confined_file(root, path).read_bytes().decode("utf-8", "replace")
        try:
            parts.append(ast.dump(ast.parse(text)))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            parts.append(text)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def select(candidates: list[Candidate]) -> Candidate | None:
    valid = [c for c in candidates if c.status == "ok" and c.patch.strip()]
    if not valid:
        return None
    votes: dict[str, int] = {}
    for c in valid:
        votes[c.normalized or c.patch] = votes.get(c.normalized or c.patch, 0) + 1
    best = max(votes.values())
    return next(c for c in valid if votes[c.normalized or c.patch] == best)


async def run_scaffold(
    instance: dict[str, Any], root: Path, ask: Ask, samples: int, artifacts: Path
) -> ScaffoldResult:
    """Run the four stages on the working copy ``root``; write every stage to ``artifacts``."""
    artifacts.mkdir(parents=True, exist_ok=True)
    result = ScaffoldResult(patch="")
    problem = instance["problem_statement"]
    tree = repo_tree(root)

    prompt = FILES_PROMPT.format(problem=problem, tree="\n".join(tree), n=TOP_FILES)
    reply = await ask([{"role": "user", "content": prompt}])
    result.completions.append(reply)
    files = parse_files(reply.answer, set(tree))
    fallback = not files
    if fallback:  # the model named no file of the repository: rank by the words
        files = keyword_files(root, tree, problem)
    atomic_write_json(artifacts / "1_files.json", {
        "prompt": prompt, "response": reply.answer, "files": files,
        "fallback": "ranked by words of the issue" if fallback else None,
    })  # fmt: skip
    if not files:
        result.error = "file localization named no file of the repository"
        _finish(artifacts, result)
        return result

    skeletons = "\n\n".join(f"### {f}\n{skeleton((root / f).read_text(errors='replace'))}"
                            for f in files)  # fmt: skip
    prompt = ELEMENTS_PROMPT.format(problem=problem, skeletons=skeletons)
    reply = await ask([{"role": "user", "content": prompt}])
    result.completions.append(reply)
    locs = parse_locations(reply.answer, files) or {f: [] for f in files[:1]}
    atomic_write_json(artifacts / "2_elements.json",
                      {"prompt": prompt, "response": reply.answer, "locations": locs})  # fmt: skip

    prompt = REPAIR_PROMPT.format(problem=problem, segments=segments(root, locs))
    for k in range(samples):
        reply = await ask([{"role": "user", "content": prompt}])
        result.completions.append(reply)
        cand = Candidate(k)
        edits = parse_edits(reply.answer)
        cand.status, cand.detail = apply_edits(root, edits)
        if cand.status == "ok":
            cand.patch = git(root, "diff").stdout
            if not cand.patch.strip():
                cand.status, cand.detail = "empty", "the edits change nothing"
            else:
                cand.normalized = normalized(root, [e.path for e in edits])
        atomic_write_json(artifacts / f"3_repair_{k}.json", {
            "prompt": prompt if k == 0 else "(same as 3_repair_0.json)",
            "response": reply.answer,
            "edits": [e.__dict__ for e in edits],
            "status": cand.status, "detail": cand.detail, "patch": cand.patch,
        })  # fmt: skip
        result.candidates.append(cand)
    chosen = select(result.candidates)
    result.patch = chosen.patch if chosen else ""
    if chosen is None:
        result.error = "no candidate patch applied cleanly"
    _finish(artifacts, result, chosen)
    return result


def _finish(artifacts: Path, result: ScaffoldResult, chosen: Candidate | None = None) -> None:
    atomic_write_json(artifacts / "4_selection.json", {
        "candidates": [{"index": c.index, "status": c.status, "detail": c.detail,
                        "vote_key": c.normalized} for c in result.candidates],
        "chosen": None if chosen is None else chosen.index,
        "error": result.error,
    })  # fmt: skip
    atomic_write_text(artifacts / "final.patch", result.patch)


def cleanup(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
