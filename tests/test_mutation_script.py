"""scripts/mutation.py's own rules: it refuses to run where the selected tests would skip
(a skipped test kills no mutant, so every mutant it would have killed would "survive"), and a
score over part of the scope is reported as not complete and never passes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import mutation


def test_missing_benchmark_data_is_named_before_anything_runs(tmp_path: Path) -> None:
    why = mutation._missing_prerequisites({"M1EVAL_SHARED_DATA": str(tmp_path)})
    assert why is not None and str(tmp_path) in why and "would skip" in why


def _report(monkeypatch: pytest.MonkeyPatch, statuses: dict[str, str], capsys) -> tuple:
    monkeypatch.setattr(mutation, "_results", lambda scope: statuses)
    monkeypatch.setattr(mutation, "_diff", lambda name: ["-    a = 1", "+    a = 2"])
    monkeypatch.setattr(mutation, "_arguments", lambda: {})
    monkeypatch.setattr(sys, "argv", ["mutation.py", "--report-only"])
    code = mutation.main()
    return code, capsys.readouterr().out


def test_a_partial_run_is_not_complete_and_does_not_pass(monkeypatch, capsys) -> None:
    killed = {f"m1eval.stats.x_f__mutmut_{i}": "killed" for i in range(19)}
    code, out = _report(monkeypatch, {**killed, "m1eval.stats.x_f__mutmut_19": "not checked"},
                        capsys)  # fmt: skip
    assert "mutants in scope: 20  checked: 19  killed: 19" in out
    assert "NOT COMPLETE: 1 mutant(s) in scope not checked" in out and code == 1
    code, out = _report(monkeypatch, {**killed, "m1eval.stats.x_f__mutmut_19": "killed"},
                        capsys)  # fmt: skip
    assert "NOT COMPLETE" not in out and code == 0
    code, out = _report(monkeypatch, {**killed, "m1eval.stats.x_f__mutmut_19": "survived"},
                        capsys)  # fmt: skip
    assert "1 survivor(s) not argued" in out and code == 1
