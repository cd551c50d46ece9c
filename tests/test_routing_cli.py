"""``payswitch route --explain ORDER.json [--at ...]`` prints the decision as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from routing.cli import explain_main
from tests.orders import order


def write(tmp_path: Path, **changes: object) -> str:
    path = tmp_path / "order.json"
    path.write_bytes(msgspec.json.encode(order(**changes)))
    return str(path)


def test_explain_prints_the_decision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = explain_main(["--explain", write(tmp_path, amount=8_000_000),
                       "--at", "2026-03-02T18:00"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert (doc["channel"], doc["scheduled_for"], doc["reason_code"]) == (
        "HVPS", "2026-03-02T20:30:00+08:00", None)
    assert [c["channel"] for c in doc["candidates"]][:3] == ["HVPS", "BEPS", "IBPS"]
    assert doc["candidates"][1]["reason"] == "AM02"
    assert doc["cost"]["fee"] == doc["fee"] == 500


def test_explain_rejection_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = explain_main(["--explain", write(tmp_path, amount=8_000_000, designated_channel="HVPS"),
                       "--at", "2026-03-02T10:00:00+00:00"])  # 18:00 in Shanghai
    doc = json.loads(capsys.readouterr().out)
    assert (rc, doc["channel"], doc["reason_code"]) == (1, None, "TM01")


def test_explain_without_at_uses_the_clock(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert explain_main(["--explain", write(tmp_path, currency="XXX")]) == 1
    assert json.loads(capsys.readouterr().out)["reason_code"] == "AM03"


@pytest.mark.parametrize(("args", "message"), [
    (["--explain", "{missing}"], "cannot read"),
    (["--explain", "{bad}"], "order.json"),
    (["--explain", "{good}", "--at", "yesterday"], "--at"),
    (["--explain", "{good}", "--catalogue", "{bad}"], "catalogue"),
])
def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           args: list[str], message: str) -> None:
    good = write(tmp_path)
    bad = tmp_path / "bad" / "order.json"
    bad.parent.mkdir()
    bad.write_text('{"amount": "lots"}', encoding="utf-8")
    paths = {"missing": str(tmp_path / "none.json"), "bad": str(bad), "good": good}
    assert explain_main([a.format(**paths) for a in args]) == 2
    assert message in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert explain_main([]) == 2
    assert "--explain" in capsys.readouterr().err


def test_payswitch_route_hands_its_options_to_the_router_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from switch.cli import main

    path = tmp_path / "order.json"
    path.write_bytes(msgspec.json.encode(order(amount=8_000_000)))
    assert main(["route", "--explain", str(path), "--at", "2026-03-02T18:00"]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert (decision["channel"], decision["scheduled_for"]) == ("HVPS", "2026-03-02T20:30:00+08:00")
