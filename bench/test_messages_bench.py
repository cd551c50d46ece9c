"""ISO 20022 codec micro-benchmarks: ``pytest bench/test_messages_bench.py``.

Each group holds the codec and its plain-lxml baseline on the same document (see
`bench.messages`), so the report shows both.
"""

from __future__ import annotations

import pytest
from lxml import etree
from pytest_benchmark.fixture import BenchmarkFixture

from bench.messages import lxml_build_pacs008, sample_pacs002, sample_pacs008
from messages.iso20022 import (
    build_pacs002,
    build_pacs008,
    message_name,
    parse_pacs002,
    parse_pacs008,
)

PACS008 = sample_pacs008()
PACS002 = sample_pacs002()
PACS008_XML = build_pacs008(PACS008)
PACS002_XML = build_pacs002(PACS002)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def test_pacs008_build(benchmark: BenchmarkFixture) -> None:
    benchmark.group = "pacs008-build"
    assert benchmark(build_pacs008, PACS008) == PACS008_XML


def test_pacs008_build_lxml_baseline(benchmark: BenchmarkFixture) -> None:
    benchmark.group = "pacs008-build"
    assert benchmark(lxml_build_pacs008, PACS008).startswith(b"<?xml")


def test_pacs008_parse(benchmark: BenchmarkFixture) -> None:
    benchmark.group = "pacs008-parse"
    assert benchmark(parse_pacs008, PACS008_XML) == PACS008


@pytest.mark.parametrize("document", [PACS008_XML, PACS002_XML], ids=["pacs008", "pacs002"])
def test_lxml_parse_baseline(benchmark: BenchmarkFixture, document: bytes) -> None:
    benchmark.group = "pacs008-parse" if document is PACS008_XML else "pacs002-parse"
    assert len(benchmark(etree.fromstring, document, _PARSER)) == 1


def test_pacs002_build(benchmark: BenchmarkFixture) -> None:
    benchmark.group = "pacs002-build"
    assert benchmark(build_pacs002, PACS002) == PACS002_XML


def test_pacs002_parse(benchmark: BenchmarkFixture) -> None:
    benchmark.group = "pacs002-parse"
    assert benchmark(parse_pacs002, PACS002_XML) == PACS002


def test_message_name(benchmark: BenchmarkFixture) -> None:
    benchmark.group = "message-name"
    assert benchmark(message_name, PACS008_XML) == "pacs.008.001.08"


def test_pacs002_serialize_lxml_baseline(benchmark: BenchmarkFixture) -> None:
    """Baseline of pacs002-build: lxml writing the same document from a parsed tree."""
    benchmark.group = "pacs002-build"
    tree = etree.fromstring(PACS002_XML, _PARSER)
    assert benchmark(etree.tostring, tree).startswith(b"<")


def test_message_name_lxml_baseline(benchmark: BenchmarkFixture) -> None:
    """Baseline of message-name: parse the document and read its namespace."""
    benchmark.group = "message-name"

    def name(document: bytes) -> str:
        return str(etree.QName(etree.fromstring(document, _PARSER)).namespace).rsplit(":", 1)[-1]

    assert benchmark(name, PACS008_XML) == "pacs.008.001.08"
