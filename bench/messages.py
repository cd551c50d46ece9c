"""Message codec throughput, every figure beside a baseline or a peer measured in the same run.

    python -m bench.messages [--json] [--seconds 6] [--messages 400] [--statements 40]

Workloads: the pacs.008 of one IBPS payment (CNAPS agents, Chinese names) and its pacs.002;
seeded MT103s (`bench.mt.mt103_texts`: 1-4 address lines, BIC agents, 70, 71F) translated as FIN
text to pacs.008 bytes by `messages.translate.mt_to_mx`, and parsed; MT940 statements of 20
entries; the UnionPay 0200 of `bench.iso8583`.
Baselines: plain lxml (parse; an ``etree.SubElement`` build of the same pacs.008) and the pure
twin of the MT tokenizer. Peers, on the same inputs: ``mt103`` (MT103 parse), ``mt-940`` (MT940
parse), ``pyiso8583`` (ISO 8583 encode/decode), ``pyiso20022`` (its xsdata bindings of
pacs.008.001.08: dataclasses in, bytes out, and back). Ours check formats, character sets,
lengths and codes the peers leave alone (pyiso20022 checks none of the XSD facets when it
reads). ``peer_ratios`` are ours / theirs (above 1: ours is faster); null without the peer.
Each rate is messages per second of CPU time on one core (the process's CPU clock, so time
the scheduler gives to other processes on a shared machine is not counted), from a run's
fastest call, the runs taking turns call by call so they meet the same machine conditions.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType
from typing import Any

from lxml import etree

from bench import iso8583 as bench_iso8583
from bench import mt as bench_mt
from fastpath import _mttok_py
from messages.currency import exponent
from messages.iso8583 import UNIONPAY
from messages.iso20022 import (
    Agent,
    CreditTransfer,
    Pacs002,
    Pacs008,
    PartyAccount,
    TxStatus,
    build_pacs002,
    build_pacs008,
    message_name,
    parse_pacs002,
    parse_pacs008,
)
from messages.mt import parse_mt
from messages.translate import mt_to_mx

_NOW = datetime.datetime(2024, 5, 6, 9, 30, 15, 123456, tzinfo=datetime.UTC)
_CNAPS = "CNAPS"
_SINGLE = 50  # calls per turn for one-message runs


def sample_pacs008() -> Pacs008:
    """A pacs.008 as the IBPS adapter builds it for one payment."""
    transfer = CreditTransfer(
        end_to_end_id="E2E20240506000000000001",
        tx_id="PAY-20240506-000000000001",
        uetr="6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f",
        amount=1234567,
        currency="CNY",
        settlement_date=datetime.date(2024, 5, 6),
        debtor=PartyAccount("张三贸易有限公司", account="6222020200000001", country="CN"),
        debtor_agent=Agent(member_id="102100099996", clearing_system=_CNAPS),
        creditor=PartyAccount("李四 & Sons", account="6222020200000002", country="CN"),
        creditor_agent=Agent(member_id="103100000026", clearing_system=_CNAPS),
        purpose="GDDS",
        remittance_info="Invoice 2024-0042 <goods>",
    )
    return Pacs008(
        msg_id="PSUBa1b2c3d4e5f60000000001",
        created_at=_NOW,
        transactions=(transfer,),
        instructing_agent=Agent(member_id="102100099996", clearing_system=_CNAPS),
    )


def sample_pacs002() -> Pacs002:
    """The pacs.002 the IBPS simulator answers that pacs.008 with."""
    status = TxStatus(
        orgnl_end_to_end_id="E2E20240506000000000001",
        status="ACSC",
        orgnl_tx_id="PAY-20240506-000000000001",
        orgnl_uetr="6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f",
        accepted_at=_NOW,
    )
    return Pacs002(
        msg_id="IBPS0000000001",
        created_at=_NOW,
        orgnl_msg_id="PSUBa1b2c3d4e5f60000000001",
        orgnl_msg_name="pacs.008.001.08",
        transactions=(status,),
    )


def lxml_build_pacs008(msg: Pacs008) -> bytes:
    """The same pacs.008 built as an lxml tree and serialized: the build baseline.

    No value checks: it measures what building through lxml costs, not a full codec.
    """
    ns = "{urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08}"
    sub = etree.SubElement

    def leaf(parent: etree._Element, name: str, text: str) -> etree._Element:
        element = sub(parent, ns + name)
        element.text = text
        return element

    def agent(parent: etree._Element, name: str, value: Agent) -> None:
        fin = sub(sub(parent, ns + name), ns + "FinInstnId")
        member = sub(fin, ns + "ClrSysMmbId")
        leaf(sub(member, ns + "ClrSysId"), "Cd", value.clearing_system or "")
        leaf(member, "MmbId", value.member_id or "")

    def party(parent: etree._Element, name: str, value: PartyAccount) -> None:
        element = sub(parent, ns + name)
        leaf(element, "Nm", value.name or "")
        leaf(sub(element, ns + "PstlAdr"), "Ctry", value.country or "")
        account = sub(sub(sub(parent, ns + name + "Acct"), ns + "Id"), ns + "Othr")
        leaf(account, "Id", value.account or "")

    root = etree.Element(ns + "Document", nsmap={None: ns[1:-1]})  # type: ignore[dict-item]
    body = sub(root, ns + "FIToFICstmrCdtTrf")
    head = sub(body, ns + "GrpHdr")
    leaf(head, "MsgId", msg.msg_id)
    leaf(head, "CreDtTm", msg.created_at.isoformat())
    leaf(head, "NbOfTxs", str(len(msg.transactions)))
    leaf(sub(head, ns + "SttlmInf"), "SttlmMtd", msg.settlement_method)
    if msg.instructing_agent is not None:
        agent(head, "InstgAgt", msg.instructing_agent)
    for tx in msg.transactions:
        element = sub(body, ns + "CdtTrfTxInf")
        pmt = sub(element, ns + "PmtId")
        leaf(pmt, "EndToEndId", tx.end_to_end_id)
        leaf(pmt, "TxId", tx.tx_id)
        leaf(pmt, "UETR", tx.uetr)
        units, cents = divmod(tx.amount, 100)
        leaf(element, "IntrBkSttlmAmt", f"{units}.{cents:02d}").set("Ccy", tx.currency)
        leaf(element, "IntrBkSttlmDt", tx.settlement_date.isoformat())
        leaf(element, "ChrgBr", tx.charge_bearer)
        party(element, "Dbtr", tx.debtor)
        agent(element, "DbtrAgt", tx.debtor_agent)
        agent(element, "CdtrAgt", tx.creditor_agent)
        party(element, "Cdtr", tx.creditor)
        leaf(sub(element, ns + "Purp"), "Cd", tx.purpose or "")
        leaf(sub(element, ns + "RmtInf"), "Ustrd", tx.remittance_info or "")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


# ---------------------------------------------------------------- pyiso20022 (xsdata)


def _optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _pyiso20022() -> tuple[Callable[[Pacs008], bytes], Callable[[bytes], object]] | None:
    """pyiso20022's build (its dataclasses from the sample's values, then rendered) and parse
    of a pacs.008.001.08, or None when it (or xsdata) is not installed."""
    bindings = _optional("pyiso20022.pacs.pacs_008_001_08")
    if bindings is None or _optional("xsdata.formats.dataclass.parsers") is None:
        return None
    from xsdata.formats.dataclass.parsers import XmlParser
    from xsdata.formats.dataclass.serializers import XmlSerializer
    from xsdata.models.datatype import XmlDate, XmlDateTime

    b = bindings
    namespace = {None: "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"}
    serializer, parser = XmlSerializer(), XmlParser()

    def agent(value: Agent) -> Any:
        member = b.ClearingSystemMemberIdentification2(
            clr_sys_id=b.ClearingSystemIdentification2Choice(cd=value.clearing_system),
            mmb_id=value.member_id)
        return b.BranchAndFinancialInstitutionIdentification6(
            fin_instn_id=b.FinancialInstitutionIdentification18(clr_sys_mmb_id=member))

    def party(value: PartyAccount) -> Any:
        return b.PartyIdentification135(nm=value.name,
                                         pstl_adr=b.PostalAddress24(ctry=value.country))

    def account(value: PartyAccount) -> Any:
        return b.CashAccount38(id=b.AccountIdentification4Choice(
            othr=b.GenericAccountIdentification1(id=value.account)))

    def build(msg: Pacs008) -> bytes:
        transactions = [
            b.CreditTransferTransaction39(
                pmt_id=b.PaymentIdentification7(end_to_end_id=tx.end_to_end_id, tx_id=tx.tx_id,
                                                uetr=tx.uetr),
                intr_bk_sttlm_amt=b.ActiveCurrencyAndAmount(
                    value=Decimal(tx.amount).scaleb(-exponent(tx.currency)), ccy=tx.currency),
                intr_bk_sttlm_dt=XmlDate.from_date(tx.settlement_date),
                chrg_br=b.ChargeBearerType1Code(tx.charge_bearer),
                dbtr=party(tx.debtor), dbtr_acct=account(tx.debtor),
                dbtr_agt=agent(tx.debtor_agent), cdtr_agt=agent(tx.creditor_agent),
                cdtr=party(tx.creditor), cdtr_acct=account(tx.creditor),
                purp=b.Purpose2Choice(cd=tx.purpose),
                rmt_inf=b.RemittanceInformation16(ustrd=[tx.remittance_info]))
            for tx in msg.transactions]
        head = b.GroupHeader93(
            msg_id=msg.msg_id, cre_dt_tm=XmlDateTime.from_datetime(msg.created_at),
            nb_of_txs=str(len(transactions)),
            sttlm_inf=b.SettlementInstruction7(
                sttlm_mtd=b.SettlementMethod1Code(msg.settlement_method)),
            instg_agt=None if msg.instructing_agent is None else agent(msg.instructing_agent))
        document = b.Document(fito_ficstmr_cdt_trf=b.FitoFicustomerCreditTransferV08(
            grp_hdr=head, cdt_trf_tx_inf=transactions))
        return serializer.render(document, ns_map=namespace).encode()

    def parse(data: bytes) -> object:
        return parser.from_bytes(data, b.Document)

    return build, parse


# ---------------------------------------------------------------- measuring

Run = Callable[[], int]  # one call: handles some items, returns how many


def measure(runs: dict[str, Run], seconds: float, rounds: int = 3) -> dict[str, float]:
    """Items per CPU second of each run's fastest call, the runs taking turns call by call.

    Taking turns gives every run the same machine conditions; the fastest of many calls is
    one that ran least disturbed on a shared machine.
    """
    best = dict.fromkeys(runs, 0.0)
    clock = time.process_time
    deadline = time.perf_counter() + seconds
    done = 0
    while done < rounds or time.perf_counter() < deadline:
        for name, run in runs.items():
            t0 = clock()
            count = run()
            best[name] = max(best[name], count / max(clock() - t0, 1e-9))
        done += 1
    return best


def _each(handle: Callable[[Any], object], items: list[Any]) -> Run:
    def run() -> int:
        for item in items:
            handle(item)
        return len(items)
    return run


def _repeat(call: Callable[[], object], times: int = _SINGLE) -> Run:
    def run() -> int:
        for _ in range(times):
            call()
        return times
    return run


def _translated(text: str) -> bytes:
    return mt_to_mx(text, created_at=_NOW).message


def _peer_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def run_all(seconds: float, messages: int = 400, statements: int = 40) -> dict[str, Any]:
    """Every rate in messages per second, the peers' beside ours, and the ratios."""
    p008, p002 = sample_pacs008(), sample_pacs002()
    d008, d002 = build_pacs008(p008), build_pacs002(p002)
    texts = bench_mt.mt103_texts(messages)
    statements_texts = bench_mt.mt940_texts(statements)
    # Refuse to report speed for a codec that does not round-trip or a translation that loses.
    if parse_pacs008(d008) != p008 or parse_pacs002(d002) != p002:
        raise AssertionError("the sample messages do not round-trip")
    if message_name(d008) != "pacs.008.001.08":
        raise AssertionError("message_name misreads the sample")
    for text in texts:
        result = mt_to_mx(text, created_at=_NOW)
        if result.warnings:
            raise AssertionError(f"the MT103 sample loses data: {result.warnings}")
        parse_pacs008(result.message)
    lxml_parser = etree.XMLParser(resolve_entities=False, no_network=True)
    compiled = _optional("fastpath._mttok")
    runs: dict[str, Run] = {
        "mt103_to_pacs008_per_s": _each(_translated, texts),
        "mt103_parse_per_s": _each(parse_mt, texts),
        "mt_tokenize_pure_per_s": lambda: bench_mt._tokenize_all(_mttok_py, texts),
        "mt940_parse_per_s": _each(parse_mt, statements_texts),
        "pacs008_build_per_s": _repeat(lambda: build_pacs008(p008)),
        "pacs008_parse_per_s": _repeat(lambda: parse_pacs008(d008)),
        "pacs002_build_per_s": _repeat(lambda: build_pacs002(p002)),
        "pacs002_parse_per_s": _repeat(lambda: parse_pacs002(d002)),
        "message_name_per_s": _repeat(lambda: message_name(d008)),
        "baseline_lxml_build_per_s": _repeat(lambda: lxml_build_pacs008(p008)),
        "baseline_lxml_parse_per_s": _repeat(lambda: etree.fromstring(d008, lxml_parser)),
        "baseline_lxml_parse_pacs002_per_s": _repeat(
            lambda: etree.fromstring(d002, lxml_parser)),
    }
    if compiled is not None:
        runs["mt_tokenize_cython_per_s"] = lambda: bench_mt._tokenize_all(compiled, texts)
    peers: dict[str, str | None] = {}
    pkg103 = _optional("mt103")
    peers["mt103"] = _peer_version("mt103")
    if pkg103 is not None:
        runs["peer_mt103_parse_per_s"] = _each(pkg103.MT103, texts)
    pkg940 = _optional("mt940")
    peers["mt-940"] = _peer_version("mt-940")
    if pkg940 is not None:
        bodies = [bench_mt._block4_body(s) for s in statements_texts]
        if any(len(pkg940.parse(body)) != 20 for body in bodies):
            raise AssertionError("mt-940 reads the statements differently")
        runs["peer_mt940_parse_per_s"] = _each(pkg940.parse, bodies)
    peers["pyiso8583"] = _peer_version("pyiso8583")
    for name, call in bench_iso8583._runs("iso8583", UNIONPAY,
                                          bench_iso8583.sample_message()).items():
        key = name.replace("pyiso8583_", "peer_iso8583_")
        runs[key] = _repeat(call)
    peers["pyiso20022"] = _peer_version("pyiso20022")
    pyiso20022 = _pyiso20022()
    if pyiso20022 is not None:
        their_build, their_parse = pyiso20022
        if parse_pacs008(their_build(p008)) != p008:
            raise AssertionError("pyiso20022 builds a different pacs.008")
        runs["peer_pacs008_build_per_s"] = _repeat(lambda: their_build(p008), 5)
        runs["peer_pacs008_parse_per_s"] = _repeat(lambda: their_parse(d008), 5)
    rates: dict[str, Any] = measure(runs, seconds)
    if compiled is None:
        rates["mt_tokenize_cython_per_s"] = None
    else:
        rates["mt_tokenize_speedup"] = (rates["mt_tokenize_cython_per_s"]
                                        / rates["mt_tokenize_pure_per_s"])
    rates["peer_ratios"] = {
        name: None if theirs not in rates else rates[ours] / rates[theirs]
        for name, (ours, theirs) in PEER_PAIRS.items()
    }
    rates["peers"] = peers
    rates["mt103_messages"] = len(texts)
    rates["clock"] = "process CPU time, one core"
    return rates


# peer_ratios key -> (our rate, the peer's rate on the same inputs)
PEER_PAIRS: dict[str, tuple[str, str]] = {
    "mt103_parse_vs_mt103": ("mt103_parse_per_s", "peer_mt103_parse_per_s"),
    "mt940_parse_vs_mt-940": ("mt940_parse_per_s", "peer_mt940_parse_per_s"),
    "iso8583_encode_vs_pyiso8583": ("iso8583_encode_per_s", "peer_iso8583_encode_per_s"),
    "iso8583_decode_vs_pyiso8583": ("iso8583_decode_per_s", "peer_iso8583_decode_per_s"),
    "pacs008_build_vs_pyiso20022": ("pacs008_build_per_s", "peer_pacs008_build_per_s"),
    "pacs008_parse_vs_pyiso20022": ("pacs008_parse_per_s", "peer_pacs008_parse_per_s"),
}
# Text report: (what, our key, baseline or peer key, its label)
_ROWS = (
    ("MT103 -> pacs.008 (FIN text to bytes)", "mt103_to_pacs008_per_s", None, ""),
    ("MT tokenizer, Cython", "mt_tokenize_cython_per_s", "mt_tokenize_pure_per_s",
     "its pure twin"),
    ("MT103 parse", "mt103_parse_per_s", "peer_mt103_parse_per_s", "mt103"),
    ("MT940 parse (20 entries)", "mt940_parse_per_s", "peer_mt940_parse_per_s", "mt-940"),
    ("pacs.008 build + serialize", "pacs008_build_per_s", "baseline_lxml_build_per_s",
     "lxml SubElement"),
    ("pacs.008 build + serialize", "pacs008_build_per_s", "peer_pacs008_build_per_s",
     "pyiso20022"),
    ("pacs.008 parse", "pacs008_parse_per_s", "baseline_lxml_parse_per_s", "lxml fromstring"),
    ("pacs.008 parse", "pacs008_parse_per_s", "peer_pacs008_parse_per_s", "pyiso20022"),
    ("pacs.002 build + serialize", "pacs002_build_per_s", None, ""),
    ("pacs.002 parse", "pacs002_parse_per_s", "baseline_lxml_parse_pacs002_per_s",
     "lxml fromstring"),
    ("message_name (pacs.008)", "message_name_per_s", "baseline_lxml_parse_per_s",
     "lxml fromstring"),
    ("ISO 8583 0200 encode", "iso8583_encode_per_s", "peer_iso8583_encode_per_s",
     "pyiso8583"),
    ("ISO 8583 0200 decode", "iso8583_decode_per_s", "peer_iso8583_decode_per_s",
     "pyiso8583"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.messages", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seconds", type=float, default=6.0, help="time for all measurements")
    parser.add_argument("--messages", type=int, default=400, help="MT103 inputs")
    parser.add_argument("--statements", type=int, default=40, help="MT940 inputs")
    args = parser.parse_args(argv)
    rates = run_all(args.seconds, args.messages, args.statements)
    if args.json:
        print(json.dumps({"benchmark": "messages", "python": sys.version.split()[0], **rates},
                         indent=2))
        return 0
    print(f"{'operation':<38} {'msgs/s':>10}   {'beside':<16} {'msgs/s':>10} {'ratio':>7}")
    for label, key, other, other_label in _ROWS:
        ours, theirs = rates.get(key), rates.get(other or "")
        ours_text = f"{ours:>10,.0f}" if ours else f"{'-':>10}"
        if other is None:
            print(f"{label:<38} {ours_text}")
        elif theirs and ours:
            print(f"{label:<38} {ours_text}   {other_label:<16} {theirs:>10,.0f} "
                  f"{ours / theirs:>6.1f}x")
        else:
            print(f"{label:<38} {ours_text}   {other_label:<16} {'not installed':>10}")
    print("peers: " + ", ".join(f"{name} {found or 'absent'}"
                                for name, found in rates["peers"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
