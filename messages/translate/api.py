"""Translation by message type: FIN text in, MX document out (and back), with the warnings.

`mt_to_mx` parses the FIN text, picks the translator by MT type and builds the MX document,
reporting what the envelope holds beyond sender and receiver (block 2 priority, block 3, block 5),
which a bare Document has no element for;
`mx_to_mt` reads the Document (bare, or inside a business message whose AppHdr Fr/To become the
MT sender and receiver), picks the translator by message name and builds the FIN text.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import msgspec

from messages import iso20022 as mx
from messages import mt
from messages.errors import MessageError, MxDtdForbidden, MxMalformed, MxTooLarge
from messages.mt import MT103
from messages.mt.specs import USER_HEADER_TAGS
from messages.translate._losses import Losses
from messages.translate._model import DataLoss, Translation, TranslationError
from messages.translate._parties import address_of_bic
from messages.translate.customer import mt103_to_pacs008, pacs008_to_mt103
from messages.translate.institution import mt202_to_pacs009, pacs009_to_mt202
from messages.translate.investigations import (
    camt029_to_mt196,
    camt056_to_mt192,
    mt192_to_camt056,
    mt196_to_camt029,
    mt199_to_pacs002,
    pacs002_to_mt199,
)
from messages.translate.reports import (
    camt053_to_mt940,
    camt054_to_mt900,
    mt900_to_camt054,
    mt940_to_camt053,
)
from messages.translate.returns import (
    is_return,
    mt103_return_to_pacs004,
    pacs004_to_mt103_return,
)

__all__ = ["MT_TO_MX", "MX_TO_MT", "mt_to_mx", "mx_to_mt", "read_mx"]

_Now = datetime.datetime | None
_MtTranslator = Callable[[Any, _Now], Translation[Any]]
_MxTranslator = Callable[[Any, str | None, str | None], Translation[Any]]

_Built = Callable[[Any, _Now], Translation[bytes]]


def _built(translate: _MtTranslator, build: Callable[[Any], bytes]) -> _Built:
    """A translator to the MX document's bytes."""
    def run(message: Any, now: _Now) -> Translation[bytes]:
        result = translate(message, now)
        return Translation(build(result.message), result.warnings)
    return run


def _mt103(message: MT103, now: _Now) -> Translation[bytes]:
    """MT103 -> pacs.004 for a return (72 /RETN/), else pacs.008."""
    if is_return(message):
        result = mt103_return_to_pacs004(message, created_at=now)
        return Translation(mx.build_pacs004(result.message), result.warnings)
    transfer = mt103_to_pacs008(message, created_at=now)
    return Translation(mx.build_pacs008(transfer.message), transfer.warnings)


# MT type -> translator to MX bytes. Exact types: an MT202COV is not looked up as an MT202.
MT_TO_MX: dict[str, _Built] = {
    "103": _mt103,
    "202": _built(lambda m, now: mt202_to_pacs009(m, created_at=now), mx.build_pacs009),
    "202COV": _built(lambda m, now: mt202_to_pacs009(m, created_at=now), mx.build_pacs009),
    "940": _built(lambda m, now: mt940_to_camt053(m, created_at=now), mx.build_camt053),
    "950": _built(lambda m, now: mt940_to_camt053(m, created_at=now), mx.build_camt053),
    "900": _built(lambda m, now: mt900_to_camt054(m, created_at=now), mx.build_camt054),
    "910": _built(lambda m, now: mt900_to_camt054(m, created_at=now), mx.build_camt054),
    "192": _built(lambda m, now: mt192_to_camt056(m, created_at=now), mx.build_camt056),
    "196": _built(lambda m, now: mt196_to_camt029(m, created_at=now), mx.build_camt029),
    "199": _built(lambda m, now: mt199_to_pacs002(m, created_at=now), mx.build_pacs002),
}
# MX message name -> (parser, translator of (message, sender BIC, receiver BIC)); the BICs
# come from an AppHdr and are used where the document does not name the MT sender/receiver.
MX_TO_MT: dict[str, tuple[Callable[[bytes], Any], _MxTranslator]] = {
    "pacs.008.001.08": (mx.parse_pacs008, lambda m, _s, _r: pacs008_to_mt103(m)),
    "pacs.009.001.08": (mx.parse_pacs009, lambda m, _s, _r: pacs009_to_mt202(m)),
    "pacs.004.001.09": (mx.parse_pacs004, lambda m, _s, _r: pacs004_to_mt103_return(m)),
    "camt.053.001.08": (mx.parse_camt053,
                        lambda m, s, r: camt053_to_mt940(m, sender=s, receiver=r)),
    "camt.054.001.08": (mx.parse_camt054,
                        lambda m, s, r: camt054_to_mt900(m, sender=s, receiver=r)),
    "camt.056.001.08": (mx.parse_camt056, lambda m, _s, _r: camt056_to_mt192(m)),
    "camt.029.001.09": (mx.parse_camt029, lambda m, _s, _r: camt029_to_mt196(m)),
    "pacs.002.001.10": (mx.parse_pacs002,
                        lambda m, s, r: pacs002_to_mt199(m, sender=s, receiver=r)),
}


def mt_to_mx(text: str, *, created_at: datetime.datetime | None = None) -> Translation[bytes]:
    """The MX document of FIN `text`; raises `MtError` (unparsable) or `TranslationError`."""
    message = mt.parse_mt(text)
    translate = MT_TO_MX.get(message.MESSAGE_TYPE)
    if translate is None:
        raise TranslationError(f"MT{message.MESSAGE_TYPE} has no MX translation",
                               where="block 2")
    result = translate(message, created_at)
    envelope = message.envelope
    if envelope.priority in (None, "N") and envelope.delivery_monitoring is None and \
            envelope.obsolescence is None and envelope.user_header == _NO_USER_HEADER and \
            not envelope.trailer:
        return result
    return Translation(result.message, result.warnings + _envelope_losses(envelope))


_NO_USER_HEADER = mt.UserHeader()
# block 3 attribute -> its tag
_USER_HEADER_TAGS = {attr: tag for tag, (attr, _) in USER_HEADER_TAGS.items()}


def _envelope_losses(envelope: mt.Envelope) -> tuple[DataLoss, ...]:
    """What the envelope holds beyond the addresses: no element of a Document carries it (a
    business application header would carry some)."""
    losses = Losses()
    if envelope.priority not in (None, "N"):  # N, normal, is what MX assumes
        losses.no_element("block 2", "AppHdr/Prty", f"priority {envelope.priority}")
    for attr, label in (("delivery_monitoring", "delivery monitoring"),
                        ("obsolescence", "obsolescence period")):
        if getattr(envelope, attr) is not None:
            losses.no_element("block 2", "AppHdr", f"{label} {getattr(envelope, attr)}")
    for attr, value in msgspec.structs.asdict(envelope.user_header).items():
        if value is not None:
            losses.no_element(_USER_HEADER_TAGS[attr], "AppHdr", value)
    for tag, value in envelope.trailer:
        losses.no_element("block 5", "AppHdr/PssblDplct" if tag == "PDE" else "AppHdr",
                          f"{tag}:{value}")
    return tuple(losses.items)


def _header_losses(header: mx.AppHeader) -> tuple[DataLoss, ...]:
    """What an AppHdr holds beyond the sending and receiving BICs (and the message name, which
    the MT type says): no MT field carries it."""
    losses = Losses()
    for agent, element in ((header.sender, "AppHdr/Fr/FIId"), (header.receiver, "AppHdr/To/FIId")):
        if agent != mx.Agent(bic=agent.bic):
            losses.no_field("block 1/2", element, agent)
    for attr, element in (("biz_msg_id", "AppHdr/BizMsgIdr"), ("biz_service", "AppHdr/BizSvc"),
                          ("created_at", "AppHdr/CreDt"), ("copy_duplicate", "AppHdr/CpyDplct"),
                          ("related", "AppHdr/Rltd")):
        value = getattr(header, attr)
        if value is not None:
            losses.no_field("", element, value)
    return tuple(losses.items)


def read_mx(data: bytes) -> tuple[str, bytes, mx.AppHeader | None]:
    """(message name, Document bytes, AppHdr or None) of a bare Document or business message."""
    try:
        return mx.message_name(data), data, None
    except MessageError as error:
        try:
            header, document = mx.parse_business_message(data)
        except (MxMalformed, MxDtdForbidden, MxTooLarge):
            raise  # the full parse found the document unreadable: that is the news
        except MessageError:
            raise error from None
        return mx.message_name(document), document, header


def mx_to_mt(data: bytes) -> Translation[str]:
    """The FIN text of an MX document; raises `MessageError` subclasses naming the element."""
    name, document, header = read_mx(data)
    entry = MX_TO_MT.get(name)
    if entry is None:
        raise TranslationError(f"{name} has no MT translation", where="/Document")
    parse, translate = entry
    sender = receiver = None
    if header is not None:
        sender, receiver = header.sender.bic, header.receiver.bic
    result = translate(parse(document), sender, receiver)
    message: mt.MTMessage = result.message
    warnings: tuple[DataLoss, ...] = result.warnings
    if header is not None:
        warnings += _header_losses(header)
        envelope = message.envelope
        if header.sender.bic and header.receiver.bic:
            envelope = msgspec.structs.replace(
                envelope, sender=address_of_bic(header.sender.bic),
                receiver=address_of_bic(header.receiver.bic))
        if header.possible_duplicate:  # CBPR+: PssblDplct is the PDE trailer
            envelope = msgspec.structs.replace(envelope, trailer=(("PDE", ""),))
        message = msgspec.structs.replace(message, envelope=envelope)
    return Translation(mt.build_mt(message), warnings)
