"""UnionPay link framing (2-byte big-endian length prefix) and the ISO 8583 benchmark."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench import iso8583 as bench
from messages.errors import LinkFrameTooLarge
from messages.iso8583 import UNIONPAY, LinkReader, Message, decode, encode, link


@given(st.lists(st.binary(max_size=300), max_size=8), st.data())
def test_reader_splits_any_chunking(frames: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(link.encode(f) for f in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    reader = LinkReader()
    out: list[bytes] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        out += reader.feed(stream[start:cut])
        start = cut
    assert out == frames and reader.pending == 0


def test_prefix_is_two_bytes_big_endian() -> None:
    assert link.encode(b"x" * 258)[:2] == b"\x01\x02"
    assert link.encode(b"") == b"\x00\x00"
    with pytest.raises(LinkFrameTooLarge):
        link.encode(b"x" * 65536)


def test_reader_maximum() -> None:
    assert LinkReader(max_frame=10).feed(link.encode(b"x" * 10)) == [b"x" * 10]
    with pytest.raises(LinkFrameTooLarge) as info:
        LinkReader(max_frame=10).feed(link.encode(b"x" * 11))
    assert (info.value.code, info.value.size, info.value.limit) == ("LINK_FRAME_TOO_LARGE", 11, 10)


async def test_read_frame_over_a_real_socket() -> None:
    msg = Message("0800", {7: "0506093015", 11: "000001", 70: "301"})

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = decode(await link.read_frame(reader), UNIONPAY)
        answer = Message("0810", {**request.fields, 39: "00"})
        writer.write(link.encode(encode(answer, UNIONPAY)))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(link.encode(encode(msg, UNIONPAY)))
        await writer.drain()
        answer = decode(await link.read_frame(reader), UNIONPAY)
        writer.close()
        await writer.wait_closed()
    assert answer == Message("0810", {**msg.fields, 39: "00"})


async def test_read_frame_refuses_oversize() -> None:
    stream = asyncio.StreamReader()
    stream.feed_data(b"\x20\x00")
    with pytest.raises(LinkFrameTooLarge):
        await link.read_frame(stream, max_frame=1024)


def test_benchmark_runs_and_reports_ratios() -> None:
    rates = bench.run_all(seconds=0.01)
    assert rates["iso8583_encode_per_s"] > 0 and rates["iso8583_decode_per_s"] > 0
    ratios = rates["peer_ratios"]
    assert set(ratios) >= {"pyiso8583_encode", "pyiso8583_decode"}
    if bench.peer is not None:
        assert ratios["pyiso8583_encode"] > 0 and rates["pyiso8583_encode_per_s"] > 0
