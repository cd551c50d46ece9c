"""``payswitch convert`` and ``payswitch validate``: MT <-> MX translation and validation.

``convert --from mt|mx --to mx|mt FILE`` (``-`` for stdin) writes the translated message to
stdout and each data-loss warning to stderr. ``validate FILE`` parses an MT (FIN) or MX
(ISO 20022) message with our codecs. Exit codes: 0 success, 1 a validation or translation error
(the field or element is named on stderr), 2 unreadable input (missing file, not UTF-8, not
well-formed XML, broken FIN blocks) or bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from messages import iso20022 as mx
from messages.errors import MessageError, MxDtdForbidden, MxMalformed, MxTooLarge
from messages.mt import MtBadBlock, MtTooLarge, parse_mt
from messages.translate import mt_to_mx, mx_to_mt, read_mx

__all__ = ["EXIT_INVALID", "EXIT_OK", "EXIT_UNREADABLE", "convert_main", "validate_main"]

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_UNREADABLE = 2

# Errors that mean the input is not a message at all (rather than a message with a bad value).
_UNREADABLE = (MxMalformed, MxTooLarge, MxDtdForbidden, MtBadBlock, MtTooLarge)

# Every MX message our codecs read, by message name.
_MX_PARSERS: dict[str, Callable[[bytes], Any]] = {
    "pacs.002.001.10": mx.parse_pacs002,
    "pacs.004.001.09": mx.parse_pacs004,
    "pacs.008.001.08": mx.parse_pacs008,
    "pacs.009.001.08": mx.parse_pacs009,
    "pacs.028.001.03": mx.parse_pacs028,
    "camt.029.001.09": mx.parse_camt029,
    "camt.053.001.08": mx.parse_camt053,
    "camt.054.001.08": mx.parse_camt054,
    "camt.056.001.08": mx.parse_camt056,
}


class _Unreadable(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that reports usage errors as an exception instead of exiting."""

    def error(self, message: str) -> Any:
        raise _Unreadable(f"{self.prog}: {message}")


def _read(path: str) -> bytes:
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise _Unreadable(f"payswitch: cannot read {path}: {error.strerror or error}") from error


def _text(data: bytes, path: str) -> str:
    """An MT message from a file or a pipe: the line break that ends a text file (as our own
    `convert` writes) is the file's, not the FIN message's, so it is not part of the input."""
    try:
        return data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as error:
        raise _Unreadable(f"payswitch: {path} is not UTF-8 text (byte {error.start})") from error


def _fail(error: MessageError) -> int:
    code = EXIT_UNREADABLE if isinstance(error, _UNREADABLE) else EXIT_INVALID
    print(f"payswitch: {error}", file=sys.stderr)
    return code


def convert_main(argv: list[str]) -> int:
    """``convert --from mt|mx --to mx|mt FILE``; returns the exit code."""
    parser = _Parser(prog="payswitch convert",
                     description="translate between SWIFT MT and ISO 20022 MX (CBPR+ rules)")
    parser.add_argument("--from", dest="source", choices=("mt", "mx"), required=True)
    parser.add_argument("--to", dest="target", choices=("mt", "mx"), required=True)
    parser.add_argument("file", help="the message file, or - for stdin")
    try:
        args = parser.parse_args(argv)
        if args.source == args.target:
            raise _Unreadable(f"payswitch convert: --from and --to are both {args.source}")
        data = _read(args.file)
        if args.source == "mt":
            to_mx = mt_to_mx(_text(data, args.file))
            output, warnings = to_mx.message.decode("utf-8"), to_mx.warnings
        else:
            to_mt = mx_to_mt(data)
            output, warnings = to_mt.message, to_mt.warnings
    except _Unreadable as error:
        print(error, file=sys.stderr)
        return EXIT_UNREADABLE
    except MessageError as error:
        return _fail(error)
    sys.stdout.write(output if output.endswith("\n") else output + "\n")
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_OK


def _validate_mx(data: bytes) -> str:
    name, document, _ = read_mx(data)
    parse = _MX_PARSERS.get(name)
    if parse is None:
        raise MessageError("MX_UNSUPPORTED", f"{name} is not a message payswitch reads",
                           where="/Document")
    parse(document)
    return name


def validate_main(argv: list[str]) -> int:
    """``validate [--format mt|mx] FILE``; the format is detected when not given."""
    parser = _Parser(prog="payswitch validate",
                     description="validate an MT (FIN) or MX (ISO 20022) message")
    parser.add_argument("--format", choices=("mt", "mx"), help="default: detected")
    parser.add_argument("file", help="the message file, or - for stdin")
    try:
        args = parser.parse_args(argv)
        data = _read(args.file)
        kind = args.format or ("mt" if data.lstrip()[:1] == b"{" else "mx")
        if kind == "mt":
            message = parse_mt(_text(data, args.file))
            what = f"MT{message.MESSAGE_TYPE}"
        else:
            what = _validate_mx(data)
    except _Unreadable as error:
        print(error, file=sys.stderr)
        return EXIT_UNREADABLE
    except MessageError as error:
        return _fail(error)
    print(f"{args.file}: valid {what}")
    return EXIT_OK
