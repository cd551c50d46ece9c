"""Fuzzing of everything that reads bytes from outside: the frame scanner (both twins), the
protocol's payload decoders, the order validator, the MT tokenizer and parser, the ISO 8583
decoder and link framing, and the ISO 20022 XML parsers.

The contract for each: any input ends in a result or in that layer's stable error type, never
in another exception (a crash), within a deadline (no hang), and with memory bounded by the
configured size limits. Inputs are random bytes, grammar-shaped soup, and mutations of valid
messages. The default suite runs a modest number of examples per target; the same checks run
deep (thousands each) under ``pytest -m slow tests/test_fuzz.py``. docs/hostile-input.md lists
every family tried and what came of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import importlib
import random
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastpath.errors import FrameError
from fastpath.framescan import HEADER_SIZE, encode_frame
from fastpath.mttok import MtSyntaxError
from messages.channel_framing import LinkReader
from messages.errors import MessageError
from messages.iso8583 import UNIONPAY, FinancialRequest, Iso8583Error, decode, encode
from messages.iso8583.link import FRAMING as ISO8583_FRAMING
from messages.iso20022 import (
    build_pacs008,
    message_name,
    parse_business_message,
    parse_pacs002,
    parse_pacs008,
    parse_pacs028,
)
from messages.iso20022._xml import DEFAULT_MAX_BYTES
from messages.mt import parse_mt
from messages.mt.errors import MtError
from switch import protocol as proto
from switch.client import SwitchError
from switch.errors import ErrorCode
from switch.order import Order, Party
from switch.validation import Invalid, valid_client_order_id, validate_order
from tests.conftest import Rig
from tests.orders import order
from tests.test_iso20022_hostile_mx import SAMPLES
from tests.test_iso20022_pacs import pacs008
from tests.test_mt_codec import MT103_TEXT
from tests.test_mt_tokenizer import B1, B2, B3, B4

TWINS = ["fastpath._framescan_py", "fastpath._framescan"]
MT_TWINS = ["fastpath._mttok_py", "fastpath._mttok"]
SHALLOW = 150  # examples per target in the default suite
DEEP = 5_000  # under -m slow
DEADLINE = datetime.timedelta(seconds=5)  # a hang, not a busy machine


def fuzz(strategy: st.SearchStrategy[Any], check: Callable[[Any], None]
         ) -> tuple[Callable[[], None], Callable[[], None]]:
    """``check`` under hypothesis twice: a shallow test for the default suite (derandomized,
    so it never flakes) and a deep one marked slow; both with the deadline that catches a
    hang."""

    def run(examples: int) -> Callable[[], None]:
        @settings(max_examples=examples, deadline=DEADLINE, derandomize=examples == SHALLOW,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(example=strategy)
        def test(example: Any) -> None:
            check(example)

        return test

    return run(SHALLOW), pytest.mark.slow(run(DEEP))


def _mutations(seeds: list[bytes], max_size: int = 4096) -> st.SearchStrategy[bytes]:
    """Valid messages bent: bytes flipped, cut, spliced with other bytes, repeated."""

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(seeds)))
        for _ in range(draw(st.integers(1, 6))):
            kind = draw(st.sampled_from(["flip", "cut", "insert", "delete", "dup"]))
            at = draw(st.integers(0, max(0, len(data) - 1)))
            if kind == "flip" and data:
                data[at] = draw(st.integers(0, 255))
            elif kind == "cut":
                del data[at:]
            elif kind == "insert":
                data[at:at] = draw(st.binary(min_size=1, max_size=16))
            elif kind == "delete":
                del data[at:at + draw(st.integers(1, 16))]
            elif kind == "dup":
                data[at:at] = data[at:at + draw(st.integers(1, 64))]
        return bytes(data[:max_size])

    return mutate()


# -- frame scanner (switch protocol), both twins -----------------------------------------------

MAX_FRAME = 512
chunks = st.lists(st.binary(max_size=700), max_size=20)


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def _scan(pieces: list[bytes]) -> None:
    for twin in TWINS:
        if not _importable(twin):
            continue
        scanner = importlib.import_module(twin).FrameScanner(MAX_FRAME)
        for piece in pieces:
            try:
                frames = scanner.feed(piece)
            except FrameError as err:
                assert err.code in ("FRAME_TOO_LARGE", "FRAME_HEADER_INVALID")
                break
            assert all(len(payload) <= MAX_FRAME - 2 for _, _, payload in frames)
            # memory: what is held between feeds never exceeds one frame and a header
            assert scanner.buffered <= MAX_FRAME + HEADER_SIZE


test_framescan_fuzz, test_framescan_fuzz_deep = fuzz(chunks, _scan)


# -- protocol payloads --------------------------------------------------------------------------

scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats()
           | st.text(max_size=40) | st.binary(max_size=40))
msgpack_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(max_size=8), inner, max_size=4), max_leaves=12)
_ORDER_KEYS = [*Order.__struct_fields__, "x"]
_PARTY_KEYS = [*Party.__struct_fields__, "x"]
# shaped like a SUBMIT, so the decoder gets past the outer object into the order and parties
submit_shaped = st.fixed_dictionaries({
    "seq": st.integers(-(2**63), 2**64 - 1) | scalars,
    "order": st.dictionaries(st.sampled_from(_ORDER_KEYS), scalars | st.dictionaries(
        st.sampled_from(_PARTY_KEYS), scalars, max_size=6), max_size=14),
})
payloads = st.one_of(st.binary(max_size=300),
                     st.one_of(msgpack_values, submit_shaped).map(msgspec.msgpack.encode))


def _decode_payloads(payload: bytes) -> None:
    for ftype, decoder in proto.DECODERS.items():
        try:
            msg = decoder.decode(payload)
        except msgspec.DecodeError:  # ValidationError is one: the server's MALFORMED_PAYLOAD
            continue
        if ftype == proto.FrameType.SUBMIT:
            _validate(msg.order)


test_protocol_payload_fuzz, test_protocol_payload_fuzz_deep = fuzz(payloads, _decode_payloads)


# -- order validator ----------------------------------------------------------------------------

_texts = st.one_of(st.text(max_size=50), st.text(max_size=300),
                   st.sampled_from(["", " ", "CN", "CNY", "102100099996", "ICBKCNBJXXX",
                                    "2026-02-30", "2026-W11-1", "20260315", "\x00", "٣"]))
parties = st.builds(Party, account=_texts, name=_texts, agent=_texts, country=_texts,
                    lei=st.none() | _texts)
orders = st.builds(
    Order, client_order_id=_texts, amount=st.integers(-(2**63), 2**63 - 1), currency=_texts,
    debtor=parties, creditor=parties, product=_texts, business_type=_texts,
    requested_execution=st.none() | _texts, urgency=_texts, charge_bearer=_texts,
    purpose=st.none() | _texts, remittance_info=st.none() | _texts,
    designated_channel=st.none() | _texts)
# the ISO 20022 reason codes intake may give (switch/validation.py)
INTAKE_CODES = {"AM01", "AM12", "AM03", "AC02", "AC03", "RR02", "RR03", "RC01", "BE09", "FF01",
                "DT01"}


def _validate(order: Order) -> None:
    valid_client_order_id(order.client_order_id)  # a bool, for any text
    try:
        validate_order(order)
    except Invalid as err:
        assert err.code in INTAKE_CODES and err.field


test_order_validator_fuzz, test_order_validator_fuzz_deep = fuzz(orders, _validate)


# -- SWIFT MT: tokenizer twins and the parser ---------------------------------------------------

MT_TOKENS = [*"{}:-\r\n1234ABCIO/ ", "{1:", "{2:I103", "{4:\r\n", "\r\n-}", ":20:", ":32A:"]
mt_soup = st.lists(st.sampled_from(MT_TOKENS), max_size=120).map("".join)
MT_SEEDS = [MT103_TEXT, B1 + B2 + B3 + B4]
mt_mutants = _mutations([m.encode("latin-1") for m in MT_SEEDS], 3000).map(
    lambda b: b.decode("latin-1"))
mt_inputs = st.one_of(mt_soup, mt_mutants, st.text(max_size=200))


def _mt(text: str) -> None:
    for twin in MT_TWINS:
        if _importable(twin):
            try:
                importlib.import_module(twin).tokenize(text)
            except MtSyntaxError as err:
                assert err.code.startswith("MT_")
    try:
        parse_mt(text)
    except MtError as err:
        assert err.code.startswith("MT_")


test_mt_fuzz, test_mt_fuzz_deep = fuzz(mt_inputs, _mt)


# -- ISO 8583 (UnionPay) -------------------------------------------------------------------------

_request = FinancialRequest(
    pan="6222021234567890128", processing_code="260000", amount=12345, currency="CNY",
    transmission_time="0302100000", stan="000123", acquirer_id="04290000",
    forwarder_id="04290000", retrieval_ref="ABC123DEF456", terminal_id="TERM0001",
    merchant_id="MERCHANT0000001")
ISO8583_SEEDS = [encode(_request.to_message(), UNIONPAY),
                 b"0800\x00\x20\x00\x00\x00\x00\x00\x00000001"]
iso8583_inputs = st.one_of(st.binary(max_size=600), _mutations(ISO8583_SEEDS, 1024))


def _iso8583(data: bytes) -> None:
    try:
        decode(data, UNIONPAY)
    except Iso8583Error as err:
        assert err.code.startswith("ISO8583_")
    reader = ISO8583_FRAMING.reader()
    try:
        for frame in reader.feed(data):
            assert len(frame) <= 65535
    except MessageError as err:
        assert err.code


test_iso8583_fuzz, test_iso8583_fuzz_deep = fuzz(iso8583_inputs, _iso8583)


# -- ISO 20022 XML -----------------------------------------------------------------------------

_pacs008_doc = build_pacs008(pacs008())
XML_SEEDS = [_pacs008_doc] + [doc for _, doc, _ in SAMPLES.values()]
XML_PARSERS: list[Callable[[bytes], Any]] = [
    parse_pacs008, parse_pacs002, parse_pacs028, parse_business_message, message_name,
    *(parse for parse, _, _ in SAMPLES.values())]
HOSTILE_SNIPPETS = [b"<!DOCTYPE x [<!ENTITY a 'b'>]>", b"&a;", b"<![CDATA[", b"]]>", b"<?pi?>",
                    b"\xef\xbb\xbf", b"\xff\xfe", b"<x xmlns='urn:evil'>", b"</Document>",
                    b"<Document>" * 40, b"&#0;", b"&#x110000;"]
xml_inputs = st.one_of(
    st.binary(max_size=400),
    _mutations(XML_SEEDS, 8192),
    st.tuples(st.sampled_from(XML_SEEDS), st.integers(0, 4000),
              st.sampled_from(HOSTILE_SNIPPETS)).map(lambda t: t[0][:t[1]] + t[2] + t[0][t[1]:]))


def _xml(data: bytes) -> None:
    for parse in XML_PARSERS:
        try:
            parse(data)
        except MessageError as err:
            assert err.code.startswith(("MX_", "UNKNOWN_CURRENCY", "BAD_AMOUNT")), err
    try:
        LinkReader().feed(data)
    except MessageError as err:
        assert err.code


test_xml_fuzz, test_xml_fuzz_deep = fuzz(xml_inputs, _xml)


def test_pacs002_and_pacs028_seeds_parse() -> None:
    """The mutation seeds are valid to start with (a fuzz of broken seeds tests less)."""
    for parse, doc, _ in SAMPLES.values():
        parse(doc)
    parse_pacs008(_pacs008_doc)
    decode(ISO8583_SEEDS[0], UNIONPAY)
    parse_mt(MT103_TEXT)


# -- hangs and memory at the size limits --------------------------------------------------------


def _bounded(work: Callable[[], object], errors: tuple[type[Exception], ...], *,
             seconds: float, peak_mib: float) -> None:
    """``work`` ends (returns, or fails with one of ``errors``) within ``seconds`` and
    ``peak_mib`` of memory."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with contextlib.suppress(*errors):
            work()
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.2f}s"
    assert peak / 2**20 < peak_mib, f"peak {peak / 2**20:.1f} MiB"


def test_deeply_nested_xml_within_the_size_limit_is_refused_fast() -> None:
    depth = (DEFAULT_MAX_BYTES - 200) // 7
    doc = (b'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:20022:'
           b'tech:xsd:pacs.008.001.08">' + b"<a>" * depth + b"</a>" * depth)[:DEFAULT_MAX_BYTES]
    _bounded(lambda: parse_pacs008(doc), (MessageError,), seconds=2.0, peak_mib=64)


def test_wide_xml_within_the_size_limit_is_read_in_bounded_time() -> None:
    # elements the reader does not look for are passed over, not refused (docs/hostile-input.md)
    body = b"<Ustrd>x</Ustrd>" * ((DEFAULT_MAX_BYTES - len(_pacs008_doc)) // 16)
    doc = _pacs008_doc.replace(b"</Cdtr>", b"</Cdtr>" + body, 1)
    assert len(body) > DEFAULT_MAX_BYTES // 2 and len(doc) <= DEFAULT_MAX_BYTES
    _bounded(lambda: parse_pacs008(doc), (MessageError,), seconds=3.0, peak_mib=200)


def test_mt_worst_case_near_the_limit_is_bounded() -> None:
    fields = ":72:/X/" + "Y" * 20 + "\r\n"
    text = B1 + B2 + B3 + "{4:\r\n" + fields * ((65536 - 200) // len(fields)) + "-}"
    assert len(text) <= 65536
    _bounded(lambda: parse_mt(text), (MtError,), seconds=2.0, peak_mib=64)


def test_frame_length_claims_do_not_allocate() -> None:
    for twin in TWINS:
        if _importable(twin):
            scanner = importlib.import_module(twin).FrameScanner(65536)
            _bounded(lambda s=scanner: s.feed(b"\xff\xff\xff\xff\x01\x01"), (FrameError,),
                     seconds=0.5, peak_mib=1)


# -- a live session: hostile frames into the real switch ----------------------------------------


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.randrange(-(2**63), 2**64)
    if kind == 2:
        return rng.random() * 10 ** rng.randrange(30)
    if kind == 3:
        return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(40)))
    if kind == 4:
        return rng.randbytes(rng.randrange(40))
    if kind == 5:
        return rng.choice([True, False, "", "CNY", "102100099996", 0, -1])
    if kind == 6:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = [*Order.__struct_fields__, *Party.__struct_fields__, "seq", "order", "x"]
    return {rng.choice(keys): _random_value(rng, depth + 1) for _ in range(rng.randrange(8))}


def _hostile_frame(rng: random.Random, seq: int) -> bytes:
    roll = rng.random()
    if roll < 0.1:
        return rng.randbytes(rng.randrange(1, 64))  # not even a frame
    if roll < 0.3:
        return encode_frame(rng.randrange(256), rng.randbytes(rng.randrange(200)))
    if roll < 0.6:  # a SUBMIT whose order is bent out of shape
        good = msgspec.to_builtins(order())
        for _ in range(rng.randrange(1, 4)):
            party = good[rng.choice(["debtor", "creditor"])]
            target = party if isinstance(party, dict) and rng.random() < 0.4 else good
            target[rng.choice(list(target))] = _random_value(rng)
        return encode_frame(proto.FrameType.SUBMIT,
                            msgspec.msgpack.encode({"seq": seq, "order": good}))
    return encode_frame(rng.choice(list(proto.FrameType)),
                        msgspec.msgpack.encode(_random_value(rng)))


async def test_hostile_frames_get_stable_errors_and_the_switch_stays_up(rig: Rig) -> None:
    rng = random.Random(20261206)
    codes = {code.value for code in ErrorCode}
    seen: set[str] = set()
    for session in range(12):
        client = await rig.client()
        for n in range(15):
            client.send_raw(_hostile_frame(rng, session * 100 + n))
        await asyncio.sleep(0.05)
        with contextlib.suppress(SwitchError):
            await asyncio.wait_for(client.heartbeat(), 2)  # everything before it was answered
        seen.update(e.code for e in client.errors)
        assert {e.code for e in client.errors} <= codes
        await client.close()
    assert seen >= {"MALFORMED_PAYLOAD", "UNKNOWN_FRAME_TYPE"}  # the soup reached the decoders
    assert rig.app.engine.running
    async with await rig.client() as good:  # still serving, and still keeping what it took
        o = order()
        assert (await good.submit(o)).state == "ACCEPTED"
        assert (await good.wait_final(o.client_order_id, timeout=10)).state == "SETTLED"


@pytest.mark.slow
@pytest.mark.parametrize("target", ["framescan", "payload", "mt", "iso8583", "xml"])
def test_atheris_coverage_guided_run(target: str, tmp_path: Path) -> None:
    """The same checks under libFuzzer's coverage guidance (tests/fuzz_atheris.py), bounded:
    20,000 runs per target; a crash leaves its input in tmp_path."""
    pytest.importorskip("atheris", reason="pip install -e '.[fuzz]' for coverage-guided runs")
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, "-m", "tests.fuzz_atheris", target, "-runs=20000", "-max_len=8192",
         f"-artifact_prefix={tmp_path}/", "-max_total_time=240"],
        cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Done 20000 runs" in proc.stderr or "DONE" in proc.stderr
