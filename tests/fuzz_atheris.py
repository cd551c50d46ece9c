"""Coverage-guided fuzzing (atheris, i.e. libFuzzer) of the targets of tests/test_fuzz.py.

    pip install -e '.[fuzz]'
    python -m tests.fuzz_atheris TARGET [libFuzzer options, e.g. -runs=100000 -max_len=4096]

TARGET is one of framescan, payload, mt, iso8583, xml. Each input goes through the same check as
the hypothesis test of that target: anything but the layer's stable error (or a failed
assertion) is a crash, which libFuzzer reports with the input saved as crash-<sha1>.
`pytest -m slow tests/test_fuzz.py` runs every target for a bounded number of runs.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the tests import their siblings

with atheris.instrument_imports(include=["fastpath", "messages", "switch"]):
    from switch import protocol as proto
    from tests import test_fuzz as checks
    from tests.orders import order


def _chunks(data: bytes) -> list[bytes]:
    """The input as a stream cut where its first byte says (the scanner must not care)."""
    if not data:
        return [b""]
    cut = data[0] % max(1, len(data))
    return [data[1:cut + 1], data[cut + 1:]]


TARGETS: dict[str, Callable[[bytes], None]] = {
    "framescan": lambda data: checks._scan(_chunks(data)),
    "payload": checks._decode_payloads,
    "mt": lambda data: checks._mt(data.decode("latin-1")),
    "iso8583": checks._iso8583,
    "xml": checks._xml,
}


def _seeds(name: str) -> list[bytes]:
    """Valid messages to start from: random bytes rarely get past the first check."""
    submit = proto.encode(proto.Submit(seq=1, order=order()))
    return {
        "framescan": [b"\x00" + submit, b"\x03" + submit * 3],
        "payload": [submit[6:]],
        "mt": [text.encode("latin-1") for text in checks.MT_SEEDS],
        "iso8583": checks.ISO8583_SEEDS,
        "xml": checks.XML_SEEDS,
    }[name]


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in TARGETS:
        raise SystemExit(f"usage: python -m tests.fuzz_atheris {{{','.join(TARGETS)}}} "
                         "[libFuzzer options] [corpus directory]")
    name, options = argv[1], argv[2:]
    if not any(not o.startswith("-") for o in options):  # no corpus named: start from seeds
        corpus = Path(tempfile.mkdtemp(prefix=f"payswitch-fuzz-{name}-"))
        for n, seed in enumerate(_seeds(name)):
            (corpus / f"seed-{n}").write_bytes(seed)
        options.append(str(corpus))
    atheris.Setup([argv[0], *options], TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
