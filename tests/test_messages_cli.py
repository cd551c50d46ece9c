"""``payswitch convert`` / ``payswitch validate`` through their entry functions."""

from __future__ import annotations

import datetime
import io
import sys
from pathlib import Path

import pytest
from xsd_oracle import assert_valid

from messages.cli import EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, convert_main, validate_main
from messages.iso20022 import (
    AppHeader,
    StatusRequest,
    build_business_message,
    build_pacs008,
    build_pacs028,
    message_name,
    parse_pacs008,
)
from messages.mt import MT103, MT950, Balance, Envelope, Party, build_mt, parse_mt
from messages.translate import mt103_to_pacs008

UETR = "6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f"
NOW = datetime.datetime(2026, 11, 22, 8, 0, tzinfo=datetime.UTC)
MT103_MSG = MT103(
    envelope=Envelope(sender="BKCHCNBJXXXX", receiver="CITIUS33XXXX"), uetr=UETR,
    sender_ref="REF-1", bank_operation_code="CRED", value_date=datetime.date(2026, 11, 23),
    currency="USD", amount=1_000_000,
    ordering_customer=Party(option="K", account="6222020200000001", lines=("ZHANG SAN",)),
    beneficiary=Party(option="", account="123456789", lines=("JOHN DOE",)), charges="OUR",
    remittance_info=("INV 1",),
)


def write(tmp_path: Path, name: str, data: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def pacs008_bytes(**changes: object) -> bytes:
    msg = mt103_to_pacs008(MT103_MSG, created_at=NOW).message
    if changes:
        import msgspec

        tx = msgspec.structs.replace(msg.transactions[0], **changes)
        msg = msgspec.structs.replace(msg, transactions=(tx,))
    return build_pacs008(msg)


def test_convert_mt_to_mx_writes_a_valid_document(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    rc = convert_main(["--from", "mt", "--to", "mx", write(tmp_path, "m.fin",
                                                           build_mt(MT103_MSG))])
    out, err = capsys.readouterr()
    assert (rc, err) == (EXIT_OK, "")
    document = out.encode()
    assert_valid(document.strip(), "pacs.008.001.08")
    assert parse_pacs008(document.strip()).transactions[0].charge_bearer == "DEBT"


def test_convert_mx_to_mt_from_stdin_with_warnings_on_stderr(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    stdin(monkeypatch, pacs008_bytes(remittance_info="Überweisung 李四"))
    rc = convert_main(["--from", "mx", "--to", "mt", "-"])
    out, err = capsys.readouterr()
    assert rc == EXIT_OK
    assert parse_mt(out.rstrip("\n")).remittance_info == ("Uberweisung ..",)  # type: ignore[attr-defined]
    lines = err.splitlines()
    assert len(lines) == 3 and all(line.startswith("warning: 70 <-> ") for line in lines)
    assert "'李'" in lines[1] and "RmtInf/Ustrd" in lines[1]


def test_convert_reads_a_business_message_and_uses_its_header(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from messages.iso20022 import Agent

    header = AppHeader(sender=Agent(bic="ICBKCNBJXXX"), receiver=Agent(bic="CHASUS33"),
                       biz_msg_id="B-1", msg_def_id="pacs.008.001.08", created_at=NOW)
    data = build_business_message(header, pacs008_bytes())
    rc = convert_main(["--from", "mx", "--to", "mt", write(tmp_path, "b.xml", data)])
    envelope = parse_mt(capsys.readouterr().out.rstrip("\n")).envelope
    assert rc == EXIT_OK
    assert (envelope.sender, envelope.receiver) == ("ICBKCNBJXXXX", "CHASUS33XXXX")


def test_convert_names_the_element_of_a_validation_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = pacs008_bytes().replace(b"<IntrBkSttlmDt>2026-11-23", b"<IntrBkSttlmDt>2026-13-23")
    rc = convert_main(["--from", "mx", "--to", "mt", write(tmp_path, "bad.xml", bad)])
    err = capsys.readouterr().err
    assert rc == EXIT_INVALID
    assert "IntrBkSttlmDt" in err


def test_convert_names_the_field_of_an_mt_error(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    text = build_mt(MT103_MSG).replace(":71A:OUR", ":71A:XYZ")
    rc = convert_main(["--from", "mt", "--to", "mx", write(tmp_path, "bad.fin", text)])
    assert rc == EXIT_INVALID
    assert ":71A:" in capsys.readouterr().err


def test_convert_of_a_message_without_translation_is_a_validation_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    request = build_pacs028(StatusRequest(msg_id="Q-1", created_at=NOW, orgnl_msg_id="M-1",
                                          orgnl_msg_name="pacs.008.001.08",
                                          orgnl_end_to_end_ids=("E2E-1",)))
    rc = convert_main(["--from", "mx", "--to", "mt", write(tmp_path, "q.xml", request)])
    err = capsys.readouterr().err
    assert rc == EXIT_INVALID
    assert "TRANSLATE_FAILED" in err and "pacs.028.001.03" in err


def test_convert_statement_mt950_to_camt053_warns_about_the_receiver(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    balance = Balance(mark="C", date=datetime.date(2026, 11, 20), currency="USD", amount=0,
                      option="F")
    msg = MT950(envelope=MT103_MSG.envelope, sender_ref="S-1", account=Party(account="1"),
                statement_number="1", opening_balance=balance, closing_balance=balance)
    rc = convert_main(["--from", "mt", "--to", "mx", write(tmp_path, "s.fin", build_mt(msg))])
    out, err = capsys.readouterr()
    assert rc == EXIT_OK
    assert_valid(out.strip().encode(), "camt.053.001.08")
    assert err.startswith("warning: block 2 <-> AppHdr/To: ")


@pytest.mark.parametrize("argv", [
    ["--from", "mt", "--to", "mx", "/nonexistent/m.fin"],
    ["--from", "mt", "--to", "mt", "-"],
    ["--from", "xml", "--to", "mt", "-"],
    ["--to", "mt", "-"],
])
def test_convert_unreadable_input_or_bad_usage_exits_2(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert convert_main(argv) == EXIT_UNREADABLE
    assert capsys.readouterr().err


@pytest.mark.parametrize(("source", "data"), [
    ("mx", b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08'><unclosed>"),
    ("mx", b"\x00\x01 not xml"),
    ("mt", b"\xff\xfe not utf-8"),
    ("mt", b"{1:F01BKCHCNBJXXXX0000000000}{2:I103"),
])
def test_convert_garbage_exits_2(source: str, data: bytes, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    stdin(monkeypatch, data)
    target = "mt" if source == "mx" else "mx"
    assert convert_main(["--from", source, "--to", target, "-"]) == EXIT_UNREADABLE
    assert capsys.readouterr().err.startswith("payswitch")


def test_validate_detects_mt_and_mx(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert validate_main([write(tmp_path, "m.fin", build_mt(MT103_MSG))]) == EXIT_OK
    assert validate_main([write(tmp_path, "m.xml", pacs008_bytes())]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("valid MT103") and out[1].endswith("valid pacs.008.001.08")


def test_validate_from_stdin(monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    stdin(monkeypatch, pacs008_bytes())
    assert validate_main(["--format", "mx", "-"]) == EXIT_OK
    assert message_name(pacs008_bytes()) in capsys.readouterr().out


def test_validate_names_the_bad_field_or_element(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    text = build_mt(MT103_MSG).replace(":32A:261123USD", ":32A:261323USD")
    assert validate_main([write(tmp_path, "m.fin", text)]) == EXIT_INVALID
    assert ":32A:" in capsys.readouterr().err
    bad = pacs008_bytes().replace(b"<ChrgBr>DEBT", b"<ChrgBr>XXXX")
    assert validate_main([write(tmp_path, "m.xml", bad)]) == EXIT_INVALID
    assert "/ChrgBr" in capsys.readouterr().err


def test_validate_unknown_mx_and_unreadable(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    other = b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"/>'
    assert validate_main([write(tmp_path, "p.xml", other)]) == EXIT_INVALID
    assert validate_main([str(tmp_path / "missing.xml")]) == EXIT_UNREADABLE
    assert validate_main([write(tmp_path, "g.xml", b"<a><b></a>")]) == EXIT_UNREADABLE
    capsys.readouterr()


def test_convert_output_written_to_a_file_converts_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `convert` prints, saved as a text file (with its final newline), reads back."""
    source = write(tmp_path, "in.xml", pacs008_bytes())
    assert convert_main(["--from", "mx", "--to", "mt", source]) == 0
    mt_file = write(tmp_path, "out.txt", capsys.readouterr().out)
    assert Path(mt_file).read_text(encoding="utf-8").endswith("\n")
    assert convert_main(["--from", "mt", "--to", "mx", mt_file]) == 0
    assert validate_main([mt_file]) == 0
