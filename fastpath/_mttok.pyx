# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""SWIFT FIN block and field tokenizer (Cython); twin of ``fastpath._mttok_py``.

Works on the ASCII buffer of the str directly (the ASCII check comes first), one pass per block.
"""

from cpython.unicode cimport PyUnicode_1BYTE_DATA, PyUnicode_Substring

from operator import index as _index

from fastpath._mttok_py import MtSyntaxError  # one error class for both twins

__all__ = [
    "DEFAULT_MAX_SIZE",
    "MtSyntaxError",
    "split_blocks",
    "split_fields",
    "split_subblocks",
    "tokenize",
]

DEFAULT_MAX_SIZE = 65536

# bit 1: SWIFT X character; bit 2: letter or digit; bit 4: brace or control (not CR/LF)
cdef unsigned char _CLASS[128]


cdef void _init_classes() noexcept:
    cdef int c
    for c in range(128):
        _CLASS[c] = 0
        if (48 <= c <= 57) or (65 <= c <= 90) or (97 <= c <= 122):
            _CLASS[c] |= 3
        if (c < 32 and c != 10 and c != 13) or c == 127 or c == 123 or c == 125:
            _CLASS[c] |= 4
    for c in b"/-?:().,'+ ":
        _CLASS[c] |= 1


_init_classes()


cdef inline bint _is_x(unsigned char c) noexcept nogil:
    return c < 128 and (_CLASS[c] & 1)


cdef inline bint _is_alnum(unsigned char c) noexcept nogil:
    return c < 128 and (_CLASS[c] & 2)


cdef object _charset_error(str text, Py_ssize_t at, Py_ssize_t offset, int line, str tag):
    return MtSyntaxError("MT_BAD_CHARSET", f"character {text[at]!r} is not allowed here", offset,
                         line, tag)


cdef Py_ssize_t _first_non_ascii(str text):
    cdef Py_ssize_t i = 0
    for ch in text:
        if ch > "\x7f":
            return i
        i += 1
    return -1


cpdef list split_blocks(str text, object max_size=DEFAULT_MAX_SIZE):
    """Cut a FIN message into ``(block id, content, content offset)``; blocks nest one level."""
    cdef Py_ssize_t n, pos = 0, k, start, j, at, limit
    cdef int depth
    cdef const unsigned char* p
    cdef unsigned char c
    cdef list blocks = []
    if text is None:
        raise TypeError("FIN text must be str, not NoneType")
    limit = _index(max_size)
    n = len(text)
    if n > limit:
        raise MtSyntaxError("MT_TOO_LARGE", f"{n} characters exceed the limit of {limit}", limit)
    if not text.isascii():
        at = _first_non_ascii(text)
        raise _charset_error(text, at, at, 0, "")
    if n == 0:
        raise MtSyntaxError("MT_BAD_BLOCK", "empty message", 0)
    p = <const unsigned char*>PyUnicode_1BYTE_DATA(text)
    while pos < n:
        if p[pos] != 123:  # '{'
            raise MtSyntaxError("MT_BAD_BLOCK", "expected '{' to open a block", pos)
        k = pos + 1
        while k < n and _is_alnum(p[k]):
            k += 1
        if k == pos + 1 or k - pos - 1 > 3:
            raise MtSyntaxError("MT_BAD_BLOCK", "block identifier must be 1 to 3 letters or digits",
                                pos + 1)
        if k >= n or p[k] != 58:  # ':'
            raise MtSyntaxError("MT_BAD_BLOCK", "expected ':' after the block identifier", k)
        start = k + 1
        depth = 1
        j = start
        while True:
            while j < n and not (_CLASS[p[j]] & 4):
                j += 1
            if j >= n:
                raise MtSyntaxError("MT_BAD_BLOCK", f"block {text[pos + 1:k]} is not closed", pos)
            c = p[j]
            if c == 123:
                depth += 1
                if depth > 2:
                    raise MtSyntaxError("MT_BAD_BLOCK", "blocks nest at most one level deep", j)
            elif c == 125:
                depth -= 1
                if depth == 0:
                    break
            else:
                raise _charset_error(text, j, j, 0, "")
            j += 1
        blocks.append((PyUnicode_Substring(text, pos + 1, k), PyUnicode_Substring(text, start, j),
                       start))
        pos = j + 1
    return blocks


cpdef list split_subblocks(str content, Py_ssize_t base=0):
    """Cut the content of block 3 or 5 into ``(tag, value)``; ``base`` offsets the errors."""
    cdef Py_ssize_t n, pos = 0, k, j
    cdef const unsigned char* p
    cdef list out = []
    if content is None:
        raise TypeError("block content must be str, not NoneType")
    n = len(content)
    if n == 0:
        return out
    if not content.isascii():
        # a non-ASCII character can only sit inside a value; find the same first error as the twin
        return _split_subblocks_slow(content, base)
    p = <const unsigned char*>PyUnicode_1BYTE_DATA(content)
    while pos < n:
        if p[pos] != 123:
            raise MtSyntaxError("MT_BAD_BLOCK", "expected '{' to open a sub-block", base + pos)
        k = pos + 1
        while k < n and _is_alnum(p[k]):
            k += 1
        if k == pos + 1 or k - pos - 1 > 3:
            raise MtSyntaxError("MT_BAD_BLOCK", "sub-block tag must be 1 to 3 letters or digits",
                                base + pos + 1)
        if k >= n or p[k] != 58:
            raise MtSyntaxError("MT_BAD_BLOCK", "expected ':' after the sub-block tag", base + k)
        j = k + 1
        while j < n and p[j] != 125 and p[j] != 123:
            j += 1
        if j < n and p[j] == 123:
            raise MtSyntaxError("MT_BAD_BLOCK", "sub-blocks do not nest", base + j)
        if j >= n:
            raise MtSyntaxError("MT_BAD_BLOCK", "sub-block is not closed", base + pos)
        out.append((PyUnicode_Substring(content, pos + 1, k),
                    PyUnicode_Substring(content, k + 1, j)))
        pos = j + 1
    return out


cdef list _split_subblocks_slow(str content, Py_ssize_t base):
    from fastpath._mttok_py import split_subblocks as pure_split_subblocks
    return pure_split_subblocks(content, base)


cdef list _split_fields_slow(str content, Py_ssize_t base):
    from fastpath._mttok_py import split_fields as pure_split_fields
    return pure_split_fields(content, base)


cpdef list split_fields(str content, Py_ssize_t base=0):
    """Cut the content of block 4 into ``(tag, value, line)``; every character must be SWIFT X."""
    cdef Py_ssize_t n, end, i, j, bad, value_start = 0, value_end = 0, tag_end
    cdef int line = 0, tag_line = 0
    cdef const unsigned char* p
    cdef unsigned char c, first
    cdef str tag = ""
    cdef list fields = []
    if content is None:
        raise TypeError("block content must be str, not NoneType")
    n = len(content)
    if not content.isascii():
        # only reachable when called directly: split_blocks has refused non-ASCII already
        return _split_fields_slow(content, base)
    p = <const unsigned char*>PyUnicode_1BYTE_DATA(content)
    if n < 2 or p[0] != 13 or p[1] != 10:
        raise MtSyntaxError("MT_BAD_BLOCK", "block 4 must start with CrLf", base)
    end = n - 1
    if n < 3 or p[end - 2] != 13 or p[end - 1] != 10 or p[end] != 45:
        raise MtSyntaxError("MT_BAD_BLOCK", "block 4 must end with CrLf '-'", base + n)
    i = 2
    while i < end:
        line += 1
        j = i
        bad = -1
        while True:
            c = p[j]
            if c == 13 and p[j + 1] == 10:  # the body ends in CrLf, so j + 1 < n
                break
            if bad < 0 and not _is_x(c):
                bad = j
            j += 1
        if j == i:
            raise MtSyntaxError("MT_BAD_FIELD", "empty line", base + i, line, tag)
        first = p[i]
        if first == 58:  # ':'
            tag_end = _tag_end(p, i, j)
            if tag_end < 0:
                raise MtSyntaxError("MT_BAD_FIELD", "malformed field tag", base + i, line, "")
            if tag_line:
                fields.append((tag, PyUnicode_Substring(content, value_start, value_end),
                               tag_line))
            tag = PyUnicode_Substring(content, i + 1, tag_end)
            tag_line = line
            value_start = tag_end + 1
        elif not tag_line:
            raise MtSyntaxError("MT_BAD_FIELD", "text before the first field tag", base + i, line,
                                "")
        elif first == 45:  # '-'
            raise MtSyntaxError("MT_BAD_FIELD", "a continuation line may not start with '-'",
                                base + i, line, tag)
        if bad >= 0:
            raise _charset_error(content, bad, base + bad, line, tag)
        value_end = j
        i = j + 2
    if tag_line:
        fields.append((tag, PyUnicode_Substring(content, value_start, value_end), tag_line))
    return fields


cdef inline Py_ssize_t _tag_end(const unsigned char* p, Py_ssize_t i, Py_ssize_t j) noexcept:
    # ':' 2 digits [letter] ':' within [i, j); return the offset of the closing ':' or -1
    if j - i < 4 or not (48 <= p[i + 1] <= 57) or not (48 <= p[i + 2] <= 57):
        return -1
    if p[i + 3] == 58:
        return i + 3
    if 65 <= p[i + 3] <= 90 and j - i >= 5 and p[i + 4] == 58:
        return i + 4
    return -1


def tokenize(str text, object max_size=DEFAULT_MAX_SIZE):
    """``split_blocks`` then ``split_fields`` of the first block 4 (none: no fields)."""
    cdef list blocks = split_blocks(text, max_size)
    for block in blocks:
        if block[0] == "4":
            return blocks, split_fields(block[1], block[2])
    return blocks, []
