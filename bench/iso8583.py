"""ISO 8583 codec throughput, next to pyiso8583 on the same messages in the same run.

    python -m bench.iso8583 [--json] [--seconds 3]

Workload: a UnionPay 0200 financial request (PAN, amount, STAN, institution ids, terminal and
merchant, currency, a secondary bitmap and the field 128 MAC as given bytes, so both codecs do the
same work) in the ASCII spec, and the same message in the BCD spec. Baseline: pyiso8583's
``encode``/``decode`` with the equivalent spec dict (`messages.iso8583.interop`). Our decoder
checks character classes, BCD nibbles and lengths that pyiso8583 does not: the ratio includes it.
``peer_ratios`` are ours / pyiso8583 (above 1: we are faster); null when pyiso8583 is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from messages.iso8583 import (
    UNIONPAY,
    UNIONPAY_BCD,
    FinancialRequest,
    Message,
    Spec,
    decode,
    encode,
    hmac_sha256_mac,
)
from messages.iso8583.interop import pyiso8583_spec, to_pyiso8583

peer: ModuleType | None
try:  # the peer is a test extra; without it the benchmark reports ours alone
    import iso8583 as _peer

    peer = _peer
except ImportError:  # pragma: no cover - depends on the environment
    peer = None

_MAC = hmac_sha256_mac(b"bench-mac-key-not-a-real-key-32b")


def sample_request() -> FinancialRequest:
    """A 0200 as the UnionPay adapter builds it for one card payment."""
    return FinancialRequest(
        pan="6222020200000001234", processing_code="000000", amount=1234567, currency="CNY",
        transmission_time="0506093015", stan="000123", acquirer_id="01020000",
        forwarder_id="01020000", retrieval_ref="240506000123", terminal_id="TERM0001",
        merchant_id="898310048990001", other={22: "021", 25: "00"})


def sample_message() -> Message:
    """The sample request as a generic message, field 128 filled with its MAC."""
    msg = sample_request().to_message()
    data = encode(msg, UNIONPAY, mac=_MAC)
    return decode(data, UNIONPAY, mac=_MAC)


def measure(runs: dict[str, Callable[[], object]], seconds: float, batch: int = 50
            ) -> dict[str, float]:
    """Calls per second of each run's fastest batch, the runs taking turns batch by batch."""
    best = dict.fromkeys(runs, float("inf"))
    deadline = time.perf_counter() + seconds
    rounds = 0
    while rounds < 20 or time.perf_counter() < deadline:
        for name, run in runs.items():
            t0 = time.perf_counter()
            for _ in range(batch):
                run()
            best[name] = min(best[name], time.perf_counter() - t0)
        rounds += 1
    return {name: batch / elapsed for name, elapsed in best.items()}


def _runs(key: str, spec: Spec, msg: Message) -> dict[str, Callable[[], object]]:
    data = encode(msg, spec)
    # Refuse to report speed for a codec that does not round-trip.
    if decode(data, spec) != msg:
        raise AssertionError(f"the sample does not round-trip in {spec.name}")
    runs: dict[str, Callable[[], object]] = {
        f"{key}_encode_per_s": lambda: encode(msg, spec),
        f"{key}_decode_per_s": lambda: decode(data, spec),
    }
    if peer is not None:
        their_spec = pyiso8583_spec(spec)
        doc = to_pyiso8583(msg, spec)
        theirs, _ = peer.encode(dict(doc), their_spec)
        if bytes(theirs) != data:
            raise AssertionError(f"pyiso8583 encodes the sample differently in {spec.name}")
        theirs_key = key.replace("iso8583", "pyiso8583")
        runs[f"{theirs_key}_encode_per_s"] = lambda: peer.encode(dict(doc), their_spec)
        runs[f"{theirs_key}_decode_per_s"] = lambda: peer.decode(data, their_spec)
    return runs


def run_all(seconds: float) -> dict[str, Any]:
    """Every rate in messages per second, and the ratios to pyiso8583."""
    msg = sample_message()
    request = sample_request()
    runs = {**_runs("iso8583", UNIONPAY, msg), **_runs("iso8583_bcd", UNIONPAY_BCD, msg)}
    runs["iso8583_typed_mac_encode_per_s"] = lambda: encode(request, UNIONPAY, mac=_MAC)
    rates: dict[str, Any] = measure(runs, seconds)
    ratios: dict[str, float | None] = {}
    for key, name in (("iso8583", "pyiso8583"), ("iso8583_bcd", "pyiso8583_bcd")):
        for op in ("encode", "decode"):
            theirs = rates.get(f"{name}_{op}_per_s")
            ours = rates[f"{key}_{op}_per_s"]
            ratios[f"{name}_{op}"] = round(ours / theirs, 3) if theirs else None
    rates["peer_ratios"] = ratios
    rates["peer"] = None if peer is None else f"pyiso8583 {_peer_version()}"
    return rates


def _peer_version() -> str:
    from importlib.metadata import version

    return version("pyiso8583")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.iso8583", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seconds", type=float, default=3.0, help="time for all measurements")
    args = parser.parse_args(argv)
    rates = run_all(args.seconds)
    if args.json:
        print(json.dumps({"benchmark": "iso8583", "python": sys.version.split()[0], **rates},
                         indent=2))
        return 0
    print(f"peer: {rates['peer'] or 'pyiso8583 not installed'}")
    print(f"{'operation':<26} {'ours msgs/s':>12} {'pyiso8583':>12} {'ratio':>7}")
    for key, label in (("iso8583", "0200 ASCII"), ("iso8583_bcd", "0200 BCD")):
        for op in ("encode", "decode"):
            name = key.replace("iso8583", "pyiso8583")
            theirs = rates.get(f"{name}_{op}_per_s")
            ratio = rates["peer_ratios"][f"{name}_{op}"]
            peer_text = f"{theirs:>12,.0f} {ratio:>7.2f}" if theirs and ratio else f"{'-':>12}"
            print(f"{label + ' ' + op:<26} {rates[f'{key}_{op}_per_s']:>12,.0f} {peer_text}")
    print(f"{'typed 0200 + MAC encode':<26} {rates['iso8583_typed_mac_encode_per_s']:>12,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
