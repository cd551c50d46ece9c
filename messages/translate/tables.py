"""Translation tables as data: charges codes, clearing codes of party identifiers, field names."""

from __future__ import annotations

__all__ = [
    "ANSWER_TO_TX_STATUS",
    "BALANCE_TYPES",
    "CHARGES_MT_TO_MX",
    "CHARGES_MX_TO_MT",
    "CLEARING_MT_TO_MX",
    "CLEARING_MX_TO_MT",
    "LINE_MARKS",
    "MARKS_MT_TO_MX",
    "MARKS_MX_TO_MT",
    "NEXT_AGENT_CODES_MT_TO_MX",
    "NEXT_AGENT_CODES_MX_TO_MT",
    "NOT_PROVIDED",
    "ORIGINAL_NAMES",
]

# 71A <-> ChrgBr. SLEV (service level) has no MT code: CBPR+ forbids it, it goes out as SHA.
CHARGES_MT_TO_MX: dict[str, str] = {"OUR": "DEBT", "SHA": "SHAR", "BEN": "CRED"}
CHARGES_MX_TO_MT: dict[str, str] = {"DEBT": "OUR", "SHAR": "SHA", "CRED": "BEN", "SLEV": "SHA"}

# The //XX national clearing codes of an MT party identifier <-> ISO clearing system ids.
CLEARING_MT_TO_MX: dict[str, str] = {
    "AT": "ATBLZ", "AU": "AUBSB", "BL": "DEBLZ", "CC": "CACPA", "CN": "CNAPS", "CP": "USPID",
    "ES": "ESNCC", "FW": "USABA", "GR": "GRBIC", "HK": "HKNCC", "IE": "IENCC", "IN": "INFSC",
    "IT": "ITNCC", "NZ": "NZNCC", "PL": "PLKNR", "PT": "PTNCC", "RU": "RUCBC", "SC": "GBDSC",
    "SW": "CHBCC", "ZA": "ZANCC",
}
CLEARING_MX_TO_MT: dict[str, str] = {mx: mt for mt, mx in CLEARING_MT_TO_MX.items()}

# Field 72 codes <-> InstrForNxtAgt/Cd (Instruction4Code): phone or telecom the next agent.
NEXT_AGENT_CODES_MT_TO_MX: dict[str, str] = {"PHONNEXT": "PHOA", "TELENEXT": "TELA"}
NEXT_AGENT_CODES_MX_TO_MT: dict[str, str] = {mx: mt for mt, mx in NEXT_AGENT_CODES_MT_TO_MX.items()}

# What CBPR+ writes where a mandatory value has no source.
NOT_PROVIDED = "NOTPROVIDED"

# Statement balance tag (with letter) <-> Bal/Tp code; ITBD is the interim balance of a page.
BALANCE_TYPES: dict[str, str] = {"60F": "OPBD", "60M": "ITBD", "62F": "CLBD", "62M": "ITBD",
                                 "64": "CLAV", "65": "FWAV"}
MARKS_MT_TO_MX: dict[str, str] = {"C": "CRDT", "D": "DBIT"}
MARKS_MX_TO_MT: dict[str, str] = {"CRDT": "C", "DBIT": "D"}
# 61 mark <-> (CdtDbtInd, RvslInd): RC reverses a credit (so debits), RD reverses a debit.
LINE_MARKS: dict[str, tuple[str, bool]] = {"C": ("CRDT", False), "D": ("DBIT", False),
                                            "RC": ("DBIT", True), "RD": ("CRDT", True)}

# MT type of 11R/11S <-> the MX message the original would be today (OrgnlMsgNmId).
ORIGINAL_NAMES: dict[str, str] = {"103": "pacs.008.001.08", "202": "pacs.009.001.08"}
# MT196 76 answer code (camt.029 Sts/Conf) <-> TxCxlSts of the transaction.
ANSWER_TO_TX_STATUS: dict[str, str] = {"CNCL": "ACCR", "RJCR": "RJCR", "PDCR": "PDCR"}
