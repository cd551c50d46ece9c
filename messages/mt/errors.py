"""Errors of the SWIFT MT codec: ``MessageError`` subclasses with stable MT_* codes.

``where`` reads ``block 4 line 7 field :32A:`` for text fields (line is counted from the first
line after block 4's opening CrLf), ``offset 12`` for block structure, ``field :32A:`` when
building (no line yet).

>>> err = MtBadField("no decimal comma", tag="32A", line=3)
>>> err.code, err.tag, err.line, str(err)
('MT_BAD_FIELD', '32A', 3, 'MT_BAD_FIELD at block 4 line 3 field :32A:: no decimal comma')
"""

from __future__ import annotations

from typing import ClassVar

from messages.errors import MessageError

__all__ = [
    "MtBadBlock",
    "MtBadCharset",
    "MtBadField",
    "MtError",
    "MtMissingField",
    "MtTooLarge",
    "MtUnsupportedType",
]


def _where(tag: str | None, line: int | None, offset: int | None, block: str | None) -> str | None:
    parts = []
    if line:
        parts.append(f"block 4 line {line}")
    elif block:
        parts.append(f"block {block}")
    if tag:
        parts.append(f"field :{tag}:")
    if offset is not None and not line and not tag:
        parts.append(f"offset {offset}")
    return " ".join(parts) or None


class MtError(MessageError):
    """An MT message could not be parsed or built; ``tag``, ``line``, ``offset`` say where."""

    CODE: ClassVar[str] = "MT_ERROR"

    def __init__(self, message: str, *, tag: str | None = None, line: int | None = None,
                 offset: int | None = None, block: str | None = None) -> None:
        super().__init__(self.CODE, message, where=_where(tag, line, offset, block))
        self.tag = tag
        self.line = line
        self.offset = offset
        self.block = block

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.message, self.tag, self.line, self.offset,
                           self.block))


def _rebuild(cls: type[MtError], message: str, tag: str | None, line: int | None,
             offset: int | None, block: str | None) -> MtError:
    return cls(message, tag=tag, line=line, offset=offset, block=block)


class MtBadBlock(MtError):
    """Block structure: braces, block ids and order, header contents."""

    CODE = "MT_BAD_BLOCK"


class MtBadField(MtError):
    """A field value does not match its format, or a field is out of sequence."""

    CODE = "MT_BAD_FIELD"


class MtMissingField(MtError):
    """A mandatory field (or block 3 field 121) is absent."""

    CODE = "MT_MISSING_FIELD"


class MtBadCharset(MtError):
    """A character outside the SWIFT X set (block 4) or a control character (other blocks)."""

    CODE = "MT_BAD_CHARSET"


class MtTooLarge(MtError):
    """The text is larger than the parser accepts."""

    CODE = "MT_TOO_LARGE"


class MtUnsupportedType(MtError):
    """Block 2 names a message type this codec does not handle."""

    CODE = "MT_UNSUPPORTED_TYPE"
