"""bench.mt runs end to end and reports the keys the issue asks for (figures are not judged)."""

from __future__ import annotations

import json

import pytest

from bench import mt


def test_bench_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert mt.main(["--json", "--seconds", "0", "--messages", "40", "--statements", "3"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("mt_tokenize_cython_per_s", "mt_tokenize_pure_per_s", "mt103_parse_per_s",
                "mt940_parse_per_s"):
        assert key in result
    assert result["mt103_messages"] == 40
    assert result["mt103_parse_per_s"] > 0 and result["mt_tokenize_pure_per_s"] > 0


def test_bench_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert mt.main(["--seconds", "0", "--messages", "10", "--statements", "2"]) == 0
    assert "mt103_parse_per_s" in capsys.readouterr().out
