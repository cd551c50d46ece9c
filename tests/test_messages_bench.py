"""bench.messages runs end to end and reports the keys the issue asks for (figures are not
judged: a unit test holds no timing threshold)."""

from __future__ import annotations

import json

import pytest

from bench import messages

KEYS = ("mt103_to_pacs008_per_s", "pacs008_build_per_s", "pacs008_parse_per_s",
        "mt_tokenize_cython_per_s", "mt_tokenize_pure_per_s", "peer_ratios")


def test_json_has_every_figure_and_a_ratio_per_peer(capsys: pytest.CaptureFixture[str]) -> None:
    assert messages.main(["--json", "--seconds", "0", "--messages", "12",
                          "--statements", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in KEYS:
        assert key in result
    assert result["mt103_to_pacs008_per_s"] > 0 and result["mt_tokenize_pure_per_s"] > 0
    ratios = result["peer_ratios"]
    assert set(ratios) == set(messages.PEER_PAIRS)
    for name, (ours, theirs) in messages.PEER_PAIRS.items():
        installed = theirs in result
        assert (ratios[name] is not None) == installed
        if installed:  # the test extra installs every peer
            assert ratios[name] == pytest.approx(result[ours] / result[theirs])
    assert all(result["peers"].values()), result["peers"]


def test_text_report_names_each_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    assert messages.main(["--seconds", "0", "--messages", "4", "--statements", "1"]) == 0
    out = capsys.readouterr().out
    for label in ("MT103 -> pacs.008", "pyiso20022", "mt103", "mt-940", "pyiso8583",
                  "its pure twin", "lxml fromstring"):
        assert label in out


def test_pyiso20022_builds_the_same_document_we_parse() -> None:
    peer = messages._pyiso20022()
    if peer is None:
        pytest.skip("pyiso20022 is not installed")
    build, parse = peer
    sample = messages.sample_pacs008()
    from messages.iso20022 import build_pacs008, parse_pacs008

    assert parse_pacs008(build(sample)) == sample
    parsed = parse(build_pacs008(sample))
    assert parsed.fito_ficstmr_cdt_trf.grp_hdr.msg_id == sample.msg_id
