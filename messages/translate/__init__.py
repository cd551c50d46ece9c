"""MT <-> MX translation following the CBPR+ rules, with every data loss reported.

Each translator returns a `Translation`: the message and a tuple of `DataLoss` warnings (MT field,
MX element, what was lost, the rule). `mt_to_mx` and `mx_to_mt` choose the translator by type.
"""

from messages.translate._model import DataLoss, Translation, TranslationError
from messages.translate.api import MT_TO_MX, MX_TO_MT, mt_to_mx, mx_to_mt, read_mx
from messages.translate.charset import is_x, to_x
from messages.translate.customer import mt103_to_pacs008, pacs008_to_mt103
from messages.translate.institution import mt202_to_pacs009, pacs009_to_mt202
from messages.translate.investigations import (
    camt029_to_mt196,
    camt056_to_mt192,
    mt192_to_camt056,
    mt196_to_camt029,
    mt199_to_pacs002,
    pacs002_to_mt199,
)
from messages.translate.reports import (
    camt053_to_mt940,
    camt054_to_mt900,
    mt900_to_camt054,
    mt940_to_camt053,
)
from messages.translate.returns import mt103_return_to_pacs004, pacs004_to_mt103_return

__all__ = [
    "MT_TO_MX",
    "MX_TO_MT",
    "DataLoss",
    "Translation",
    "TranslationError",
    "camt029_to_mt196",
    "camt053_to_mt940",
    "camt054_to_mt900",
    "camt056_to_mt192",
    "is_x",
    "mt103_return_to_pacs004",
    "mt103_to_pacs008",
    "mt192_to_camt056",
    "mt196_to_camt029",
    "mt199_to_pacs002",
    "mt202_to_pacs009",
    "mt900_to_camt054",
    "mt940_to_camt053",
    "mt_to_mx",
    "mx_to_mt",
    "pacs002_to_mt199",
    "pacs004_to_mt103_return",
    "pacs008_to_mt103",
    "pacs009_to_mt202",
    "read_mx",
    "to_x",
]
