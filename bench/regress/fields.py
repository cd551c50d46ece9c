"""A channel message as named fields, so a regression diff can say which field changed: an
XPath for ISO 20022 (MX), a tag for SWIFT MT, a field number for ISO 8583.

>>> mx_fields(b'<Document><GrpHdr><MsgId>M1</MsgId></GrpHdr><Amt Ccy="CNY">1.00</Amt></Document>')
{'/Document/GrpHdr/MsgId': 'M1', '/Document/Amt': '1.00', '/Document/Amt/@Ccy': 'CNY'}
>>> mt_fields(b"{1:F01BANKCNSHAXXX0000000000}{4:\\r\\n:20:REF1\\r\\n:32A:260302USD1,00\\r\\n-}")
{'{1}': 'F01BANKCNSHAXXX0000000000', ':20:': 'REF1', ':32A:': '260302USD1,00'}
"""

from __future__ import annotations

import re
from collections import Counter

from lxml import etree

from messages.errors import MessageError
from messages.iso8583 import UNIONPAY, Iso8583Error, decode

__all__ = ["message_fields", "mt_fields", "mx_fields"]

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True,
                          huge_tree=False)
_MT_BLOCK = re.compile(r"\{(\d):")
_MT_TAG = re.compile(r"^:(\d{2}[A-Z]?):", re.MULTILINE)
_MT_SUBBLOCK = re.compile(r"\{(\d{3}):([^}]*)\}")


def message_fields(data: bytes) -> tuple[str, dict[str, str]]:
    """(format, fields) of a message as it crossed a link: ``mx``, ``mt``, ``iso8583``, or
    ``raw`` (unreadable: one field ``bytes`` with its hex) when it is none of them."""
    head = data.lstrip()[:1]
    try:
        if head == b"<":
            return "mx", mx_fields(data)
        if head == b"{":
            return "mt", mt_fields(data)
        if data[:4].isdigit():
            return "iso8583", iso8583_fields(data)
    except (etree.XMLSyntaxError, MessageError, Iso8583Error, UnicodeDecodeError, ValueError):
        pass
    return "raw", {"bytes": data.hex()}


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else str(tag)


def mx_fields(data: bytes) -> dict[str, str]:
    """Every element's text and attribute by XPath (an index where a name repeats among
    siblings), in document order; namespaces dropped, the message name is in the kind."""
    root = etree.fromstring(data, _PARSER)
    out: dict[str, str] = {}

    def walk(element: etree._Element, path: str) -> None:
        text = (element.text or "").strip()
        if text:
            out[path] = text
        for name, value in element.attrib.items():
            out[f"{path}/@{_local(name)}"] = str(value)
        children = [c for c in element if isinstance(c.tag, str)]
        counts = Counter(_local(c.tag) for c in children)
        seen: Counter[str] = Counter()
        for child in children:
            name = _local(child.tag)
            seen[name] += 1
            step = f"{name}[{seen[name]}]" if counts[name] > 1 else name
            walk(child, f"{path}/{step}")

    walk(root, "/" + _local(root.tag))
    return out


def mt_fields(data: bytes) -> dict[str, str]:
    """Header blocks as ``{1}`` ``{2}``, block 3 fields as ``{3}:121``, and each block 4 field
    by its tag (``:32A:``; a repeated tag numbered ``:61:[2]``)."""
    text = data.decode("ascii")
    out: dict[str, str] = {}
    starts = [(m.start(), m.group(1)) for m in _MT_BLOCK.finditer(text)]
    for block, body in _mt_blocks(text, starts):
        if block == "4":
            tags = list(_MT_TAG.finditer(body))
            seen: Counter[str] = Counter()
            for i, m in enumerate(tags):
                end = tags[i + 1].start() if i + 1 < len(tags) else len(body)
                value = body[m.end():end].rstrip("\r\n-").rstrip()
                tag = f":{m.group(1)}:"
                seen[tag] += 1
                out[tag if seen[tag] == 1 else f"{tag}[{seen[tag]}]"] = value
        elif block in ("3", "5"):
            for m in _MT_SUBBLOCK.finditer(body):
                out[f"{{{block}}}:{m.group(1)}"] = m.group(2)
        else:
            out[f"{{{block}}}"] = body
    if not out:
        raise ValueError("no MT blocks")
    return out


def _mt_blocks(text: str, starts: list[tuple[int, str]]) -> list[tuple[str, str]]:
    """Top-level blocks only (block 3's sub-blocks stay inside its body)."""
    blocks = []
    pos = 0
    for start, name in starts:
        if start < pos:
            continue
        depth, i = 0, start
        while i < len(text):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        blocks.append((name, text[start + len(name) + 2:i]))
        pos = i + 1
    return blocks


def iso8583_fields(data: bytes) -> dict[str, str]:
    """``MTI`` and each field by its three-digit number (``011`` the STAN); bytes as hex."""
    msg = decode(data, UNIONPAY)
    out = {"MTI": msg.mti}
    for number in sorted(msg.fields):
        value = msg.fields[number]
        out[f"{number:03d}"] = value.hex() if isinstance(value, bytes) else str(value)
    return out
