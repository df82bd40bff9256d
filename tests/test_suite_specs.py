"""Suite specs: the ``method:`` block, and ``protocol:`` as its older spelling."""

from __future__ import annotations

from pathlib import Path

import pytest

from m1eval.errors import ConfigError
from m1eval.suite_specs import load_suite_spec, parse_suite_spec


def _spec(tmp_path: Path, block: str) -> Path:
    text = Path(load_suite_spec("aime24").path).read_text(encoding="utf-8")
    path = tmp_path / "aime24.yaml"
    path.write_text(text.replace("\nmethod:\n", f"\n{block}\n"), encoding="utf-8")
    return path


def test_older_protocol_block_reads_as_method(tmp_path: Path) -> None:
    new = load_suite_spec("aime24")
    old = parse_suite_spec(_spec(tmp_path, "protocol:"))
    assert old.method == new.method
    assert old.method["repeats"] == 32


def test_both_spellings_at_once_are_refused(tmp_path: Path) -> None:
    path = _spec(tmp_path, "protocol: {repeats: 4}\nmethod:")
    with pytest.raises(ConfigError, match="not both"):
        parse_suite_spec(path)


def test_every_shipped_spec_uses_the_current_word() -> None:
    from m1eval.paths import suites_dir

    for path in suites_dir().glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert "\nmethod:" in text and "\nprotocol:" not in text, path.name
