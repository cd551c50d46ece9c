"""Field formats in SWIFT notation, compiled once into regexes with one named group per role.

``decode`` checks a value against its tag's format and returns the typed roles' raw text (None
for an absent optional part); ``encode`` renders role values back through the same format, then
checks the result.

>>> decode("32A", "240506EUR1234,5")
{'date': '240506', 'currency': 'EUR', 'amount': '1234,5'}
>>> decode("52A", "/D/12345\\r\\nBANKBEBBXXX")
{'mark': 'D', 'account': '12345', 'bic': 'BANKBEBBXXX'}
>>> decode("52A", "BANKBEBB")
{'mark': None, 'account': None, 'bic': 'BANKBEBB'}
>>> encode("50K", {"account": "123", "lines": ("JOHN DOE", "LONDON")})
'/123\\r\\nJOHN DOE\\r\\nLONDON'
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from messages.mt.errors import MtBadField
from messages.mt.specs import FIELD_FORMATS

__all__ = ["FORMATS", "FieldFormat", "compile_format", "decode", "encode"]

RoleValue = str | tuple[str, ...] | None

_X = r"[A-Za-z0-9/\-?:().,'+ ]"
_CLASSES = {"n": "[0-9]", "a": "[A-Z]", "c": "[A-Z0-9]", "x": _X, "h": "[0-9A-F]", "e": " "}
_TOKEN = re.compile(r"(\d+)\*(\d+)([nacxdhe])|(\d+)(!?)([nacxdhe])|(\[)|(\])|(\n)|(.)")


class _Atom(NamedTuple):
    size: int  # characters (per line)
    fixed: bool
    kind: str
    lines: int  # 0: a single-line atom
    role: str


class _Optional(NamedTuple):
    children: tuple[_Node, ...]


_Node = _Atom | _Optional | str  # str: a literal (a line break is "\r\n")


class FieldFormat(NamedTuple):
    """A compiled field format: the notation, its regex and its atoms in order."""

    notation: str
    regex: re.Pattern[str]
    nodes: tuple[_Node, ...]
    atoms: tuple[_Atom, ...]
    shared: frozenset[str]  # roles spread over several atoms (a BIC's four parts)


def _parse(notation: str, roles: list[str]) -> tuple[_Node, ...]:
    stack: list[list[_Node]] = [[]]
    for m in _TOKEN.finditer(notation):
        lines, per_line, line_kind, size, bang, kind, opening, closing, newline, literal = (
            m.groups())
        if lines:
            stack[-1].append(_Atom(int(per_line), False, line_kind, int(lines), roles.pop(0)))
        elif size:
            stack[-1].append(_Atom(int(size), bool(bang), kind, 0, roles.pop(0)))
        elif opening:
            stack.append([])
        elif closing:
            inner = stack.pop()
            stack[-1].append(_Optional(tuple(inner)))
        elif newline:
            stack[-1].append("\r\n")
        else:
            stack[-1].append(literal)
    if len(stack) != 1 or roles:
        raise ValueError(f"unbalanced brackets or roles in format {notation!r}")
    return tuple(stack[0])


def _atom_regex(atom: _Atom) -> str:
    """The atom's pattern, without a group."""
    if atom.kind == "d":  # digits with one decimal comma, at most `size` characters in all
        return rf"(?=[0-9,]{{1,{atom.size}}}(?![0-9,]))[0-9]+,[0-9]*"
    cls = _CLASSES[atom.kind]
    one = f"{cls}{{{atom.size}}}" if atom.fixed else f"{cls}{{1,{atom.size}}}"
    if atom.lines:
        return f"{one}(?:\\r\\n{one}){{0,{atom.lines - 1}}}"
    return one


def _role_of(node: _Node) -> str | None:
    """The one role of an atom, or of an optional part holding atoms of one role only."""
    if isinstance(node, _Atom):
        return node.role
    if isinstance(node, _Optional):
        roles = {_role_of(child) for child in node.children}
        return roles.pop() if len(roles) == 1 else None
    return None


def _regex(nodes: tuple[_Node, ...], grouped: bool = True) -> str:
    """The pattern of `nodes`; when `grouped`, each run of nodes of one role (a BIC's four
    parts) is one named group, so each role is one group of the match."""
    out = []
    i = 0
    while i < len(nodes):
        node = nodes[i]
        role = _role_of(node) if grouped else None
        if role is not None and role != "-":
            end = i + 1
            while end < len(nodes) and _role_of(nodes[end]) == role:
                end += 1
            if end == i + 1 and isinstance(node, _Optional):  # absent: None, not ""
                out.append(f"(?:(?P<{role}>{_regex(node.children, grouped=False)}))?")
            else:
                out.append(f"(?P<{role}>{_regex(nodes[i:end], grouped=False)})")
            i = end
            continue
        if isinstance(node, _Atom):
            out.append(f"(?:{_atom_regex(node)})")
        elif isinstance(node, _Optional):
            out.append(f"(?:{_regex(node.children, grouped)})?")
        else:
            out.append(re.escape(node))
        i += 1
    return "".join(out)


def _atoms(nodes: tuple[_Node, ...]) -> list[_Atom]:
    found: list[_Atom] = []
    for node in nodes:
        if isinstance(node, _Atom):
            found.append(node)
        elif isinstance(node, _Optional):
            found += _atoms(node.children)
    return found


def compile_format(notation: str, roles: str) -> FieldFormat:
    """Compile ``notation`` with one role per atom.

    >>> compile_format("3!a15d", "currency amount").regex.fullmatch("EUR1,5").groups()
    ('EUR', '1,5')
    """
    nodes = _parse(notation, roles.split())
    atoms = tuple(_atoms(nodes))
    named = [a.role for a in atoms if a.role != "-"]
    shared = frozenset(r for r in named if named.count(r) > 1)
    # re refuses a group name twice: a role's atoms must be next to each other
    return FieldFormat(notation, re.compile(_regex(nodes)), nodes, atoms, shared)


FORMATS: dict[str, FieldFormat] = {
    tag: compile_format(notation, roles) for tag, (notation, roles) in FIELD_FORMATS.items()
}


def check(tag: str, value: str, line: int | None = None) -> re.Match[str]:
    """The match of ``value`` against its tag's format, or MtBadField."""
    fmt = FORMATS.get(tag)
    if fmt is None:
        raise MtBadField(f"no format known for field :{tag}:", tag=tag, line=line)
    found = fmt.regex.fullmatch(value)
    if found is None:
        raise MtBadField(f"{value!r} does not match the format {fmt.notation!r}", tag=tag,
                         line=line)
    return found


def decode(tag: str, value: str, line: int | None = None) -> dict[str, Any]:
    """Role -> raw text (``lines`` as a tuple of lines; None when absent) of a value checked
    against its format."""
    fmt = FORMATS.get(tag)
    found = None if fmt is None else fmt.regex.fullmatch(value)
    if found is None:
        found = check(tag, value, line)  # raises, naming what is wrong
    roles = found.groupdict()
    text = roles.get("lines")
    if text is not None:
        roles["lines"] = tuple(text.split("\r\n"))
    return roles


def _render(nodes: tuple[_Node, ...], fmt: FieldFormat, rest: dict[str, str],
            tag: str) -> tuple[str, bool]:
    """Text of ``nodes`` and whether any atom in them had a value."""
    out: list[str] = []
    present = False
    for node in nodes:
        if isinstance(node, _Atom):
            if node.role == "-":
                raise MtBadField("a format with unnamed atoms cannot be rendered", tag=tag)
            value = rest.get(node.role, "")
            if node.role in fmt.shared and node.fixed:
                piece, rest[node.role] = value[: node.size], value[node.size :]
            else:
                piece, rest[node.role] = value, ""
            present = present or bool(piece)
            out.append(piece)
        elif isinstance(node, _Optional):
            text, inner = _render(node.children, fmt, rest, tag)
            if inner:
                out.append(text)
                present = True
        else:
            out.append(node)
    return "".join(out), present


def encode(tag: str, roles: dict[str, RoleValue]) -> str:
    """Render role values through the tag's format; MtBadField if the result does not match."""
    fmt = FORMATS.get(tag)
    if fmt is None:
        raise MtBadField(f"no format known for field :{tag}:", tag=tag)
    rest: dict[str, str] = {}
    for role, value in roles.items():
        if value is None:
            continue
        if isinstance(value, tuple):
            if any("\r" in v or "\n" in v for v in value):
                raise MtBadField("a line may not hold a line break", tag=tag)
            value = "\r\n".join(value)
        rest[role] = value
    text, _ = _render(fmt.nodes, fmt, rest, tag)
    if any(rest.values()):
        raise MtBadField(f"value too long for the format {fmt.notation!r}", tag=tag)
    check(tag, text)
    return text
