"""The official ISO 20022 XSDs in ../shared as a test oracle for every document we write."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest
from lxml import etree

XSD_DIR = Path(__file__).resolve().parents[2] / "shared/iso20022/xsd"


_ABSENT = "../shared/iso20022 not present: XSD oracle unavailable"
_IN_CI = os.environ.get("CI") == "true"  # CI always has shared/ beside the clone

# For a hypothesis test with explicit examples: skipped before hypothesis runs, which would
# otherwise report the skip as a "Failing explicit example". In CI the test runs, and fails.
needs_oracle = pytest.mark.skipif(not XSD_DIR.is_dir() and not _IN_CI, reason=_ABSENT)


@functools.cache
def schema(name: str) -> etree.XMLSchema:
    """The compiled schema of message `name` (e.g. "pacs.008.001.08"), loaded once."""
    if not XSD_DIR.is_dir():
        if _IN_CI:  # there a missing oracle is a failure
            pytest.fail(_ABSENT)
        pytest.skip(_ABSENT)
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(XSD_DIR / f"{name}.xsd"), parser))


def assert_valid(xml: bytes, schema_name: str) -> None:
    """Fail with the schema's error log unless `xml` is valid against `schema_name`."""
    oracle = schema(schema_name)
    document = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    if not oracle.validate(document):
        errors = "\n".join(
            f"line {error.line}: {error.message}" for error in oracle.error_log  # type: ignore[attr-defined]
        )
        pytest.fail(f"document is not a valid {schema_name}:\n{errors}\n{xml.decode()}")
