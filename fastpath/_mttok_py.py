"""Pure-Python twin of ``fastpath._mttok``: the SWIFT FIN block and field tokenizer.

A FIN message is ``{1:...}{2:...}{3:{108:...}{121:...}}{4:<CrLf>:20:...<CrLf>-}{5:{CHK:...}}``.
``split_blocks`` cuts it into ``(id, content, offset)``, ``split_subblocks`` cuts the content of
block 3 or 5 into ``(tag, value)``, ``split_fields`` cuts block 4 into ``(tag, value, line)``
(line 1 is the first line after the opening CrLf; a multi-line value keeps its CrLf).
Errors are ``MtSyntaxError`` with a stable ``code`` and the offset, line and tag where they arose;
checks run in a fixed order (size, ASCII, then left to right) so both twins report the same one.

>>> blocks, fields = tokenize("{1:F01BANKBEBBAXXX0000000000}{4:\\r\\n:20:REF\\r\\n"
...                           ":79:A\\r\\nB\\r\\n-}")
>>> blocks[0]
('1', 'F01BANKBEBBAXXX0000000000', 3)
>>> fields
[('20', 'REF', 1), ('79', 'A\\r\\nB', 2)]
>>> split_subblocks("{108:MUR1}{121:x}")
[('108', 'MUR1'), ('121', 'x')]
"""

from __future__ import annotations

import operator
import re

__all__ = [
    "DEFAULT_MAX_SIZE",
    "MtSyntaxError",
    "split_blocks",
    "split_fields",
    "split_subblocks",
    "tokenize",
]

DEFAULT_MAX_SIZE = 65536  # characters; FIN itself caps block 4 at 10,000

Block = tuple[str, str, int]
Field = tuple[str, str, int]


class MtSyntaxError(ValueError):
    """The text cannot be tokenized; ``code`` is MT_TOO_LARGE, MT_BAD_BLOCK, MT_BAD_FIELD or
    MT_BAD_CHARSET, ``offset`` the character offset in the text, ``line`` the block 4 line
    (0 outside block 4) and ``tag`` the block 4 field tag ("" when none).

    >>> str(MtSyntaxError("MT_BAD_FIELD", "empty line", 40, 3, "59"))
    'MT_BAD_FIELD at offset 40 (block 4 line 3, field :59:): empty line'
    """

    def __init__(self, code: str, reason: str, offset: int, line: int = 0, tag: str = "") -> None:
        super().__init__(code, reason, offset, line, tag)
        self.code = code
        self.reason = reason
        self.offset = offset
        self.line = line
        self.tag = tag

    def __str__(self) -> str:
        where = f"at offset {self.offset}"
        if self.line:
            where += f" (block 4 line {self.line}" + (f", field :{self.tag}:)" if self.tag else ")")
        return f"{self.code} {where}: {self.reason}"


# the tokenizer's own job: braces and control characters (CR and LF pass) between block edges
_BLOCK_SPECIAL = re.compile(r"[{}\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]*")
# first character of a line that is not SWIFT X (a-z A-Z 0-9 / - ? : ( ) . , ' + space)
_NOT_X = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")
_TAG = re.compile(r":([0-9]{2}[A-Z]?):")


def _first_non_ascii(text: str) -> int:
    return next(i for i, ch in enumerate(text) if ch > "\x7f")


def _charset_error(ch: str, offset: int, line: int = 0, tag: str = "") -> MtSyntaxError:
    return MtSyntaxError("MT_BAD_CHARSET", f"character {ch!r} is not allowed here", offset, line,
                         tag)


def split_blocks(text: str, max_size: int = DEFAULT_MAX_SIZE) -> list[Block]:
    """Cut a FIN message into ``(block id, content, content offset)``; blocks nest one level.

    >>> split_blocks("{3:{121:x}}{5:}")
    [('3', '{121:x}', 3), ('5', '', 14)]
    """
    if type(text) is not str:
        raise TypeError(f"FIN text must be str, not {type(text).__name__}")
    max_size = operator.index(max_size)
    n = len(text)
    if n > max_size:
        raise MtSyntaxError("MT_TOO_LARGE", f"{n} characters exceed the limit of {max_size}",
                            max_size)
    if not text.isascii():
        at = _first_non_ascii(text)
        raise _charset_error(text[at], at)
    if n == 0:
        raise MtSyntaxError("MT_BAD_BLOCK", "empty message", 0)
    blocks: list[Block] = []
    special = _BLOCK_SPECIAL.search
    pos = 0
    while pos < n:
        if text[pos] != "{":
            raise MtSyntaxError("MT_BAD_BLOCK", "expected '{' to open a block", pos)
        k = _ALNUM_RUN.match(text, pos + 1).end()  # type: ignore[union-attr]
        if k == pos + 1 or k - pos - 1 > 3:
            raise MtSyntaxError("MT_BAD_BLOCK", "block identifier must be 1 to 3 letters or digits",
                                pos + 1)
        if k >= n or text[k] != ":":
            raise MtSyntaxError("MT_BAD_BLOCK", "expected ':' after the block identifier", k)
        start = k + 1
        depth = 1
        j = start
        while True:
            found = special(text, j)
            if found is None:
                raise MtSyntaxError("MT_BAD_BLOCK", f"block {text[pos + 1:k]} is not closed", pos)
            j = found.start()
            ch = text[j]
            if ch == "{":
                depth += 1
                if depth > 2:
                    raise MtSyntaxError("MT_BAD_BLOCK", "blocks nest at most one level deep", j)
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    break
            else:
                raise _charset_error(ch, j)
            j += 1
        blocks.append((text[pos + 1 : k], text[start:j], start))
        pos = j + 1
    return blocks


def split_subblocks(content: str, base: int = 0) -> list[tuple[str, str]]:
    """Cut the content of block 3 or 5 into ``(tag, value)``; ``base`` offsets the errors.

    >>> split_subblocks("{CHK:123456789ABC}{PDE:}")
    [('CHK', '123456789ABC'), ('PDE', '')]
    """
    if type(content) is not str:
        raise TypeError(f"block content must be str, not {type(content).__name__}")
    out: list[tuple[str, str]] = []
    n = len(content)
    pos = 0
    while pos < n:
        if content[pos] != "{":
            raise MtSyntaxError("MT_BAD_BLOCK", "expected '{' to open a sub-block", base + pos)
        k = _ALNUM_RUN.match(content, pos + 1).end()  # type: ignore[union-attr]
        if k == pos + 1 or k - pos - 1 > 3:
            raise MtSyntaxError("MT_BAD_BLOCK", "sub-block tag must be 1 to 3 letters or digits",
                                base + pos + 1)
        if k >= n or content[k] != ":":
            raise MtSyntaxError("MT_BAD_BLOCK", "expected ':' after the sub-block tag", base + k)
        close = content.find("}", k + 1)
        opening = content.find("{", k + 1, n if close < 0 else close)
        if opening >= 0:
            raise MtSyntaxError("MT_BAD_BLOCK", "sub-blocks do not nest", base + opening)
        if close < 0:
            raise MtSyntaxError("MT_BAD_BLOCK", "sub-block is not closed", base + pos)
        out.append((content[pos + 1 : k], content[k + 1 : close]))
        pos = close + 1
    return out


def split_fields(content: str, base: int = 0) -> list[Field]:
    """Cut the content of block 4 into ``(tag, value, line)``; every character must be SWIFT X.

    >>> split_fields("\\r\\n:32A:240506EUR1,\\r\\n-")
    [('32A', '240506EUR1,', 1)]
    """
    if type(content) is not str:
        raise TypeError(f"block content must be str, not {type(content).__name__}")
    n = len(content)
    if not content.startswith("\r\n"):
        raise MtSyntaxError("MT_BAD_BLOCK", "block 4 must start with CrLf", base)
    if n < 3 or not content.endswith("\r\n-"):
        raise MtSyntaxError("MT_BAD_BLOCK", "block 4 must end with CrLf '-'", base + n)
    fields: list[Field] = []
    end = n - 1  # the body [2, end) is lines, each ending in CrLf
    tag = ""
    tag_line = 0
    value_start = 0
    value_end = 0
    line = 0
    i = 2
    not_x = _NOT_X.search
    tag_match = _TAG.match
    while i < end:
        line += 1
        j = content.find("\r\n", i)
        bad = not_x(content, i, j)
        if j == i:
            raise MtSyntaxError("MT_BAD_FIELD", "empty line", base + i, line, tag)
        first = content[i]
        if first == ":":
            found = tag_match(content, i, j)
            if found is None:
                raise MtSyntaxError("MT_BAD_FIELD", "malformed field tag", base + i, line, "")
            if tag:
                fields.append((tag, content[value_start:value_end], tag_line))
            tag = found.group(1)
            tag_line = line
            value_start = found.end()
        elif not tag:
            raise MtSyntaxError("MT_BAD_FIELD", "text before the first field tag", base + i, line,
                                "")
        elif first == "-":
            raise MtSyntaxError("MT_BAD_FIELD", "a continuation line may not start with '-'",
                                base + i, line, tag)
        if bad is not None:
            at = bad.start()
            raise _charset_error(content[at], base + at, line, tag)
        value_end = j
        i = j + 2
    if tag:
        fields.append((tag, content[value_start:value_end], tag_line))
    return fields


def tokenize(text: str, max_size: int = DEFAULT_MAX_SIZE) -> tuple[list[Block], list[Field]]:
    """``split_blocks`` then ``split_fields`` of the first block 4 (none: no fields).

    >>> tokenize("{4:\\r\\n-}")
    ([('4', '\\r\\n-', 3)], [])
    """
    blocks = split_blocks(text, max_size)
    for block_id, content, offset in blocks:
        if block_id == "4":
            return blocks, split_fields(content, offset)
    return blocks, []
