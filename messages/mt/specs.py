"""SWIFT MT formats as data: field formats, block 3 tags and, per message type, its fields.

Field formats use the SWIFT notation (``n`` digits, ``a`` upper-case letters, ``c`` upper-case
letters and digits, ``x`` the X character set, ``d`` decimal with a comma, ``h`` upper-case hex,
``3!a`` exactly 3, ``35x`` up to 35, ``4*35x`` up to 4 lines of up to 35, ``[...]`` optional,
``\\n`` a CrLf); anything else is a literal. An optional part that holds a line break is written
with the break inside the brackets. Each format has one role per atom: the typed attribute the atom
fills (atoms sharing a role are concatenated, e.g. the four parts of a BIC; ``-`` for none).

A message spec is a sequence of entries ``(attribute, tag, status, kind)``: ``tag`` is a full tag
(``32A``) or a tag number with its letter options (``50a:AFK``; ``_`` means no letter),
``status`` is ``M``/``O`` with ``*`` for repeating, ``kind`` says how the value becomes the typed
attribute. A group entry is ``(attribute, (entries...), status, kind)``; it repeats as a whole.
"""

from __future__ import annotations

__all__ = [
    "CODE_LISTS",
    "FIELD_FORMATS",
    "MESSAGE_SPECS",
    "USER_HEADER_TAGS",
    "Entry",
    "FieldEntry",
]

_BIC = "4!a2!a2!c[3!c]"
_BIC_ROLES = "bic bic bic bic"
_PARTY_ID = "[[/1!a][/34x]\n]"  # optional party identifier line: [/D or /C][/account]

FIELD_FORMATS: dict[str, tuple[str, str]] = {
    "11R": ("3!n\n6!n[\n4!n6!n]", "- - - -"),
    "11S": ("3!n\n6!n[\n4!n6!n]", "- - - -"),
    "13C": ("/8c/4!n1!x4!n", "- - - -"),
    "13D": ("6!n4!n1!x4!n", "- - - -"),
    "20": ("16x", "-"),
    "21": ("16x", "-"),
    "23B": ("4!c", "-"),
    "23E": ("4!c[/30x]", "- -"),
    "25": ("35x", "account"),
    "25P": ("35x\n" + _BIC, "account " + _BIC_ROLES),
    "26T": ("3!c", "-"),
    "28C": ("5n[/5n]", "- -"),
    "32A": ("6!n3!a15d", "date currency amount"),
    "33B": ("3!a15d", "currency amount"),
    "36": ("12d", "-"),
    "50A": ("[/34x\n]" + _BIC, "account " + _BIC_ROLES),
    "50F": ("35x\n4*35x", "account lines"),
    "50K": ("[/34x\n]4*35x", "account lines"),
    "51A": (_PARTY_ID + _BIC, "mark account " + _BIC_ROLES),
    "52A": (_PARTY_ID + _BIC, "mark account " + _BIC_ROLES),
    "52D": (_PARTY_ID + "4*35x", "mark account lines"),
    "53A": (_PARTY_ID + _BIC, "mark account " + _BIC_ROLES),
    "53B": ("[/1!a][/34x][\n35x]", "mark account lines"),
    "53D": (_PARTY_ID + "4*35x", "mark account lines"),
    "54A": (_PARTY_ID + _BIC, "mark account " + _BIC_ROLES),
    "54B": ("[/1!a][/34x][\n35x]", "mark account lines"),
    "54D": (_PARTY_ID + "4*35x", "mark account lines"),
    "55A": (_PARTY_ID + _BIC, "mark account " + _BIC_ROLES),
    "55B": ("[/1!a][/34x][\n35x]", "mark account lines"),
    "55D": (_PARTY_ID + "4*35x", "mark account lines"),
    "56A": (_PARTY_ID + _BIC, "mark account " + _BIC_ROLES),
    "56C": ("/34x", "account"),
    "56D": (_PARTY_ID + "4*35x", "mark account lines"),
    "57A": (_PARTY_ID + _BIC, "mark account " + _BIC_ROLES),
    "57B": ("[/1!a][/34x][\n35x]", "mark account lines"),
    "57C": ("/34x", "account"),
    "57D": (_PARTY_ID + "4*35x", "mark account lines"),
    "58A": (_PARTY_ID + _BIC, "mark account " + _BIC_ROLES),
    "58D": (_PARTY_ID + "4*35x", "mark account lines"),
    "59": ("[/34x\n]4*35x", "account lines"),
    "59A": ("[/34x\n]" + _BIC, "account " + _BIC_ROLES),
    "59F": ("[/34x\n]4*35x", "account lines"),
    "60F": ("1!a6!n3!a15d", "mark date currency amount"),
    "60M": ("1!a6!n3!a15d", "mark date currency amount"),
    "61": ("6!n[4!n]2a[1!a]15d1!a3!c16x[//16x][\n34x]",
           "date entry_date mark funds_code amount type type customer_ref bank_ref details"),
    "62F": ("1!a6!n3!a15d", "mark date currency amount"),
    "62M": ("1!a6!n3!a15d", "mark date currency amount"),
    "64": ("1!a6!n3!a15d", "mark date currency amount"),
    "65": ("1!a6!n3!a15d", "mark date currency amount"),
    "70": ("4*35x", "-"),
    "71A": ("3!a", "-"),
    "71F": ("3!a15d", "currency amount"),
    "71G": ("3!a15d", "currency amount"),
    "72": ("6*35x", "-"),
    "76": ("6*35x", "-"),
    "77A": ("20*35x", "-"),
    "77B": ("3*35x", "-"),
    "79": ("35*50x", "-"),
    "86": ("6*65x", "-"),
}

# Fields whose value is one code of a closed list (network validated rules).
CODE_LISTS: dict[str, frozenset[str]] = {
    "23B": frozenset({"CRED", "CRTS", "SPAY", "SPRI", "SSTD"}),
    "71A": frozenset({"OUR", "SHA", "BEN"}),
}

# Block 3 (user header) tags in the order FIN wants them, with the typed attribute and a regex.
USER_HEADER_TAGS: dict[str, tuple[str, str]] = {
    "103": ("service_id", r"[A-Z]{3}"),
    "113": ("banking_priority", r"[A-Za-z0-9]{4}"),
    "108": ("mur", r"[A-Za-z0-9/\-?:().,'+ ]{1,16}"),
    "119": ("validation_flag", r"[A-Z0-9]{1,8}"),
    "111": ("service_type", r"[0-9]{3}"),
    "121": ("uetr", r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"),
    "115": ("addressee_info", r"[A-Za-z0-9/\-?:().,'+ ]{1,32}"),
}

FieldEntry = tuple[str, str, str, str]
Entry = tuple[str, "str | tuple[FieldEntry, ...]", str, str]

_MT202_A: tuple[Entry, ...] = (
    ("sender_ref", "20", "M", "text"),
    ("related_ref", "21", "M", "text"),
    ("time_indications", "13C", "O*", "text"),
    ("value_date currency amount", "32A", "M", "value_amount"),
    ("ordering_institution", "52a:AD", "O", "party"),
    ("senders_correspondent", "53a:ABD", "O", "party"),
    ("receivers_correspondent", "54a:ABD", "O", "party"),
    ("intermediary", "56a:AD", "O", "party"),
    ("account_with_institution", "57a:ABD", "O", "party"),
    ("beneficiary_institution", "58a:AD", "M", "party"),
    ("sender_to_receiver_info", "72", "O", "lines"),
)

MESSAGE_SPECS: dict[str, tuple[Entry, ...]] = {
    "103": (
        ("sender_ref", "20", "M", "text"),
        ("time_indications", "13C", "O*", "text"),
        ("bank_operation_code", "23B", "M", "text"),
        ("instruction_codes", "23E", "O*", "text"),
        ("transaction_type", "26T", "O", "text"),
        ("value_date currency amount", "32A", "M", "value_amount"),
        ("instructed_amount", "33B", "O", "money"),
        ("exchange_rate", "36", "O", "text"),
        ("ordering_customer", "50a:AFK", "M", "party"),
        ("sending_institution", "51A", "O", "party"),
        ("ordering_institution", "52a:AD", "O", "party"),
        ("senders_correspondent", "53a:ABD", "O", "party"),
        ("receivers_correspondent", "54a:ABD", "O", "party"),
        ("third_reimbursement_institution", "55a:ABD", "O", "party"),
        ("intermediary", "56a:ACD", "O", "party"),
        ("account_with_institution", "57a:ABCD", "O", "party"),
        ("beneficiary", "59a:_AF", "M", "party"),
        ("remittance_info", "70", "O", "lines"),
        ("charges", "71A", "M", "text"),
        ("sender_charges", "71F", "O*", "money"),
        ("receiver_charges", "71G", "O", "money"),
        ("sender_to_receiver_info", "72", "O", "lines"),
        ("regulatory_reporting", "77B", "O", "lines"),
    ),
    "202": _MT202_A,
    "202COV": (
        *_MT202_A,
        # sequence B: the underlying customer credit transfer
        ("underlying_ordering_customer", "50a:AFK", "M", "party"),
        ("underlying_ordering_institution", "52a:AD", "O", "party"),
        ("underlying_intermediary", "56a:ACD", "O", "party"),
        ("underlying_account_with_institution", "57a:ABCD", "O", "party"),
        ("underlying_beneficiary", "59a:_AF", "M", "party"),
        ("underlying_remittance_info", "70", "O", "lines"),
        ("underlying_sender_to_receiver_info", "72", "O", "lines"),
        ("underlying_instructed_amount", "33B", "O", "money"),
    ),
    "199": (
        ("sender_ref", "20", "M", "text"),
        ("related_ref", "21", "O", "text"),
        ("narrative", "79", "M", "lines"),
    ),
    "192": (
        ("sender_ref", "20", "M", "text"),
        ("related_ref", "21", "M", "text"),
        ("original_message", "11S", "M", "lines"),
        ("narrative", "79", "O", "lines"),
    ),
    "196": (
        ("sender_ref", "20", "M", "text"),
        ("related_ref", "21", "M", "text"),
        ("answers", "76", "M", "lines"),
        ("narrative_answer", "77A", "O", "lines"),
        ("original_message original_message_option", "11a:RS", "O", "option_lines"),
        ("narrative", "79", "O", "lines"),
    ),
    "900": (
        ("sender_ref", "20", "M", "text"),
        ("related_ref", "21", "M", "text"),
        ("account", "25a:_P", "M", "party"),
        ("debit_time", "13D", "O", "text"),
        ("value_date currency amount", "32A", "M", "value_amount"),
        ("ordering_institution", "52a:AD", "O", "party"),
        ("sender_to_receiver_info", "72", "O", "lines"),
    ),
    "910": (
        ("sender_ref", "20", "M", "text"),
        ("related_ref", "21", "M", "text"),
        ("account", "25a:_P", "M", "party"),
        ("credit_time", "13D", "O", "text"),
        ("value_date currency amount", "32A", "M", "value_amount"),
        ("ordering_customer", "50a:AFK", "O", "party"),
        ("ordering_institution", "52a:AD", "O", "party"),
        ("intermediary", "56a:AD", "O", "party"),
        ("sender_to_receiver_info", "72", "O", "lines"),
    ),
    "940": (
        ("sender_ref", "20", "M", "text"),
        ("related_ref", "21", "O", "text"),
        ("account", "25a:_P", "M", "party"),
        ("statement_number", "28C", "M", "text"),
        ("opening_balance", "60a:FM", "M", "balance"),
        ("entries", (("line", "61", "M", "statement_line"), ("info", "86", "O", "lines")),
         "O*", "entry"),
        ("closing_balance", "62a:FM", "M", "balance"),
        ("closing_available_balance", "64", "O", "balance"),
        ("forward_available_balances", "65", "O*", "balance"),
        ("information", "86", "O", "lines"),
    ),
    "950": (
        ("sender_ref", "20", "M", "text"),
        ("account", "25", "M", "party"),
        ("statement_number", "28C", "M", "text"),
        ("opening_balance", "60a:FM", "M", "balance"),
        ("entries", (("line", "61", "M", "statement_line"),), "O*", "entry"),
        ("closing_balance", "62a:FM", "M", "balance"),
        ("closing_available_balance", "64", "O", "balance"),
    ),
}
