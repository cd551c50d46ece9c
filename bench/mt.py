"""SWIFT MT codec throughput: the FIN tokenizer (Cython next to its pure twin) and MT103 parsing,
next to the ``mt103`` and ``mt-940`` packages on the same inputs when they are installed.

    python -m bench.mt [--json] [--seconds 0.5] [--messages 2000] [--statements 200]

Inputs are seeded MT103 messages (1-4 address lines, optional intermediary, charges, UETR) and
MT940 statements of 20 entries, all built by ``messages.mt.build_mt``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import random
import string
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from fastpath import _mttok_py
from messages.mt import (
    MT103,
    MT940,
    Balance,
    Envelope,
    Money,
    Party,
    StatementLine,
    build_mt,
    parse_mt,
)

_NAME = string.ascii_uppercase + " "


def _words(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(_NAME) for _ in range(size)).strip() or "X"


def _bic(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(6)) + "2LXXX"


def mt103_texts(count: int = 2000, seed: int = 3) -> list[str]:
    """``count`` MT103 messages of about 400-600 characters."""
    rng = random.Random(seed)
    env = Envelope(sender="BANKBEBBAXXX", receiver="BANKDEFFXXXX", priority="N")
    out = []
    for i in range(count):
        msg = MT103(
            envelope=env, uetr=str(_uuid4(rng)), sender_ref=f"REF{i:08d}",
            bank_operation_code="CRED", value_date=datetime.date(2025, 1, 1 + i % 28),
            currency=rng.choice(["EUR", "USD", "JPY"]), amount=rng.randrange(1, 10**9),
            ordering_customer=Party(option="K", account=f"BE{rng.randrange(10**14):014d}",
                                    lines=tuple(_words(rng, 30) for _ in range(rng.randint(1, 4)))),
            ordering_institution=Party(option="A", bic=_bic(rng)),
            intermediary=Party(option="A", bic=_bic(rng)) if rng.random() < 0.5 else None,
            account_with_institution=Party(option="A", bic=_bic(rng)),
            beneficiary=Party(option="", account=f"DE{rng.randrange(10**18):018d}",
                              lines=tuple(_words(rng, 30) for _ in range(rng.randint(1, 4)))),
            remittance_info=(f"INVOICE {i}", _words(rng, 25)), charges=rng.choice(["SHA", "OUR"]),
            sender_charges=(Money("EUR", rng.randrange(100, 5000)),),
        )
        out.append(build_mt(msg))
    return out


def mt940_texts(count: int = 200, entries: int = 20, seed: int = 4) -> list[str]:
    """``count`` MT940 statements of ``entries`` entries each."""
    rng = random.Random(seed)
    env = Envelope(sender="BANKBEBBAXXX", receiver="BANKDEFFXXXX")
    day = datetime.date(2025, 3, 3)
    out = []
    for i in range(count):
        lines = tuple(
            StatementLine(value_date=day, entry_date="0303", mark=rng.choice("CD"),
                          amount=rng.randrange(1, 10**7), transaction_type="NTRF",
                          customer_ref=f"C{j:06d}", bank_ref=f"B{i:04d}{j:04d}",
                          info=(_words(rng, 60),))
            for j in range(entries))
        out.append(build_mt(MT940(
            envelope=env, sender_ref=f"STMT{i:06d}", account=Party(account="NL00BANK0123456789"),
            statement_number=f"{i + 1}/1",
            opening_balance=Balance(mark="C", date=day, currency="EUR", amount=10**9, option="F"),
            closing_balance=Balance(mark="C", date=day, currency="EUR", amount=10**9, option="F"),
            entries=lines)))
    return out


def _uuid4(rng: random.Random) -> str:
    import uuid

    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def measure(run: Callable[[], int], count: int, seconds: float) -> float:
    """Best-of-runs items per second within roughly ``seconds`` of wall time."""
    best = float("inf")
    deadline = time.perf_counter() + seconds
    runs = 0
    while runs < 3 or time.perf_counter() < deadline:
        t0 = time.perf_counter()
        got = run()
        elapsed = time.perf_counter() - t0
        if got != count:
            raise AssertionError(f"handled {got} items, expected {count}")
        best = min(best, elapsed)
        runs += 1
    return count / best


def _tokenize_all(impl: ModuleType, texts: list[str]) -> int:
    tokenize, subblocks = impl.tokenize, impl.split_subblocks
    n = 0
    for text in texts:
        blocks, _ = tokenize(text)
        for block_id, content, offset in blocks:
            if block_id in ("3", "5"):
                subblocks(content, offset)
        n += 1
    return n


def _parse_all(texts: list[str]) -> int:
    for text in texts:
        parse_mt(text)
    return len(texts)


def _optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _block4_body(wire: str) -> str:
    return wire[wire.index("{4:\r\n") + 5 : wire.index("\r\n-}")]


def run(seconds: float, messages: int = 2000, statements_count: int = 200) -> dict[str, Any]:
    texts = mt103_texts(messages)
    statements = mt940_texts(statements_count)
    try:
        compiled: ModuleType | None = importlib.import_module("fastpath._mttok")
    except ImportError:
        compiled = None
    result: dict[str, Any] = {"benchmark": "mt", "python": sys.version.split()[0],
                              "mt103_messages": len(texts),
                              "mt103_mean_chars": sum(map(len, texts)) // len(texts)}
    result["mt_tokenize_cython_per_s"] = None if compiled is None else measure(
        lambda: _tokenize_all(compiled, texts), len(texts), seconds)
    result["mt_tokenize_pure_per_s"] = measure(
        lambda: _tokenize_all(_mttok_py, texts), len(texts), seconds)
    c, p = result["mt_tokenize_cython_per_s"], result["mt_tokenize_pure_per_s"]
    result["mt_tokenize_speedup"] = None if c is None else c / p
    result["mt103_parse_per_s"] = measure(lambda: _parse_all(texts), len(texts), seconds)

    pkg103 = _optional("mt103")
    if pkg103 is not None:
        def theirs103() -> int:
            return sum(1 for text in texts if pkg103.MT103(text))

        rate = measure(theirs103, len(texts), seconds)
        result["mt103_pkg_parse_per_s"] = rate
        result["mt103_ratio_ours_to_pkg"] = result["mt103_parse_per_s"] / rate
    result["mt940_statements"] = len(statements)
    result["mt940_parse_per_s"] = measure(lambda: _parse_all(statements), len(statements),
                                          seconds)
    pkg940 = _optional("mt940")
    if pkg940 is not None:
        bodies = [_block4_body(s) for s in statements]

        def theirs940() -> int:
            return sum(1 for body in bodies if len(pkg940.parse(body)) == 20)

        rate = measure(theirs940, len(statements), seconds)
        result["mt940_pkg_parse_per_s"] = rate
        result["mt940_ratio_ours_to_pkg"] = result["mt940_parse_per_s"] / rate
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mt", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seconds", type=float, default=0.5, help="time per measurement")
    parser.add_argument("--messages", type=int, default=2000, help="MT103 inputs")
    parser.add_argument("--statements", type=int, default=200, help="MT940 inputs")
    args = parser.parse_args(argv)
    result = run(args.seconds, args.messages, args.statements)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    if result["mt_tokenize_cython_per_s"] is None:
        print("fastpath._mttok is not built: pure twin only (python setup.py build_ext --inplace)")
    for key, value in result.items():
        if isinstance(value, float):
            unit = "x" if "ratio" in key or "speedup" in key else "/s"
            print(f"{key:<28} {value:>14,.1f}{unit}" if unit == "x" else
                  f"{key:<28} {value:>14,.0f}{unit}")
    if "mt103_pkg_parse_per_s" not in result:
        print("mt103 package not installed: no MT103 comparison")
    if "mt940_pkg_parse_per_s" not in result:
        print("mt-940 package not installed: no MT940 comparison")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
