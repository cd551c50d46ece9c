"""Usage rules on top of the XSD, as data: CBPR+ (SWIFT cross-border payments) and the clearing
channels' own (CNAPS member codes for HVPS, BEPS and IBPS, LEIs for CIPS).

`check_pacs008` (and `build_pacs008(msg, profile=...)`) refuses a message that breaks its
profile with a `MessageError` MX_RULE naming the element, before anything is written.

>>> import datetime
>>> from messages.iso20022 import CreditTransfer, Pacs008, PartyAccount
>>> bank = Agent(member_id="102100099996", clearing_system="CNAPS")
>>> tx = CreditTransfer(end_to_end_id="E2E-1", tx_id="TX-1",
...     uetr="6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f", amount=100, currency="CNY",
...     settlement_date=datetime.date(2024, 5, 6), debtor=PartyAccount("A", account="1"),
...     debtor_agent=bank, creditor=PartyAccount("B", account="2"),
...     creditor_agent=Agent(bic="ICBKCNBJ"))
>>> msg = Pacs008(msg_id="M-1", transactions=(tx,),
...     created_at=datetime.datetime(2024, 5, 6, tzinfo=datetime.timezone.utc))
>>> try:
...     check_pacs008(msg, "IBPS")
... except MessageError as error:
...     print(error.code, error.where.rsplit("CdtTrfTxInf[1]", 1)[1])
MX_RULE /CdtrAgt/FinInstnId/ClrSysMmbId/MmbId
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import msgspec

from messages.errors import MessageError
from messages.iso20022._parties import Agent, PartyAccount

if TYPE_CHECKING:  # pacs008 checks its messages here before writing them
    from messages.iso20022.pacs008 import CreditTransfer, Pacs008

__all__ = ["PROFILES", "Profile", "check_pacs008"]

_HEAD = "/Document/FIToFICstmrCdtTrf/GrpHdr"
_TX = "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf"
# CBPR+ RestrictedFINXMax35Text: the SWIFT X set, no '/' at either end, no '//'
_RESTRICTED_X = re.compile(r"[0-9a-zA-Z\-?:().,'+ ](?:/?[0-9a-zA-Z\-?:().,'+ ])*")
_CNAPS_CODE = re.compile(r"[0-9]{12}")


class Profile(msgspec.Struct, frozen=True):
    """What a profile asks of a pacs.008 beyond the XSD.

    `agent_id` says what identifies an agent: "BICFI", "CNAPS" (a 12-digit member of the CNAPS
    clearing system) or "LEI"; `identified_agents` which agents need it where present, and
    `required_agents` which must be present. `party_id`: a debtor or creditor is named by a
    BIC, or by a name and a postal address. `restricted_ids`: message and transaction ids in
    the restricted FIN X set; `latin_text`: names, addresses, remittance and instructions in
    printable ASCII.
    """

    name: str
    currency: str | None = None
    single_transaction: bool = False
    settlement_methods: frozenset[str] | None = None
    agent_id: str | None = None
    identified_agents: frozenset[str] = frozenset()
    required_agents: frozenset[str] = frozenset()
    party_id: bool = False
    restricted_ids: bool = False
    latin_text: bool = False


_HEAD_AGENTS = frozenset({"InstgAgt", "InstdAgt"})
_TX_AGENTS = frozenset({"DbtrAgt", "CdtrAgt"})
_CNAPS_AGENTS = _HEAD_AGENTS | _TX_AGENTS

PROFILES: dict[str, Profile] = {
    "CBPR+": Profile(
        "CBPR+", single_transaction=True,
        settlement_methods=frozenset({"INDA", "INGA", "COVE"}), agent_id="BICFI",
        identified_agents=_HEAD_AGENTS, required_agents=_HEAD_AGENTS, party_id=True,
        restricted_ids=True, latin_text=True),
    "HVPS": Profile("HVPS", currency="CNY", agent_id="CNAPS", identified_agents=_CNAPS_AGENTS),
    "BEPS": Profile("BEPS", currency="CNY", agent_id="CNAPS", identified_agents=_CNAPS_AGENTS),
    "IBPS": Profile("IBPS", currency="CNY", agent_id="CNAPS", identified_agents=_CNAPS_AGENTS),
    "CIPS": Profile("CIPS", currency="CNY", agent_id="LEI", identified_agents=_TX_AGENTS),
}
_AGENT_RULES = {
    "BICFI": ("/FinInstnId/BICFI", "an agent is identified by its BICFI"),
    "CNAPS": ("/FinInstnId/ClrSysMmbId/MmbId",
              "an agent is a CNAPS member (12-digit MmbId in CNAPS)"),
    "LEI": ("/FinInstnId/LEI", "an agent carries its LEI"),
}


def _refuse(profile: Profile, where: str, rule: str) -> MessageError:
    return MessageError("MX_RULE", f"{profile.name}: {rule}", where=where)


def _identified(agent: Agent, kind: str) -> bool:
    if kind == "BICFI":
        return agent.bic is not None
    if kind == "CNAPS":
        return agent.clearing_system == "CNAPS" and agent.member_id is not None and \
            _CNAPS_CODE.fullmatch(agent.member_id) is not None
    return agent.lei is not None


def _agent(profile: Profile, agent: Agent | None, where: str, name: str) -> None:
    if profile.latin_text and agent is not None:
        _latin(profile, agent.name, f"{where}/{name}/FinInstnId/Nm")
    kind = profile.agent_id
    if kind is None or name not in profile.identified_agents:
        return
    if agent is None and name not in profile.required_agents:
        return
    suffix, rule = _AGENT_RULES[kind]
    if agent is None or not _identified(agent, kind):
        raise _refuse(profile, f"{where}/{name}{suffix}", rule)


def _latin(profile: Profile, value: str | None, where: str) -> None:
    if value is not None and not (value.isascii() and value.isprintable()):
        raise _refuse(profile, where, "text is in the Latin character set (printable ASCII)")


def _party(profile: Profile, party: PartyAccount, where: str) -> None:
    if profile.party_id and party.bic is None and (
            party.name is None or (party.country is None and not party.address_lines)):
        raise _refuse(profile, where + "/PstlAdr",
                      "a party is named by a BIC, or by a name and a postal address")
    if profile.latin_text:
        _latin(profile, party.name, where + "/Nm")
        for number, line in enumerate(party.address_lines, start=1):
            _latin(profile, line, f"{where}/PstlAdr/AdrLine[{number}]")


def _restricted(profile: Profile, value: str | None, where: str) -> None:
    if profile.restricted_ids and value is not None and _RESTRICTED_X.fullmatch(value) is None:
        raise _refuse(profile, where, "an id is in the FIN X set, without '/' at an end or '//'")


def _transfer(profile: Profile, tx: CreditTransfer, where: str) -> None:
    if profile.currency is not None and tx.currency != profile.currency:
        raise _refuse(profile, where + "/IntrBkSttlmAmt/@Ccy",
                      f"payments are in {profile.currency}")
    for value, element in ((tx.instr_id, "/PmtId/InstrId"),
                           (tx.end_to_end_id, "/PmtId/EndToEndId"),
                           (tx.tx_id, "/PmtId/TxId")):
        _restricted(profile, value, where + element)
    _party(profile, tx.debtor, where + "/Dbtr")
    _agent(profile, tx.debtor_agent, where, "DbtrAgt")
    _agent(profile, tx.creditor_agent, where, "CdtrAgt")
    _party(profile, tx.creditor, where + "/Cdtr")
    if profile.latin_text:
        for number, instruction in enumerate(tx.next_agent_instructions, start=1):
            _latin(profile, instruction.info, f"{where}/InstrForNxtAgt[{number}]/InstrInf")
        _latin(profile, tx.remittance_info, where + "/RmtInf/Ustrd")


def check_pacs008(msg: Pacs008, profile: str) -> None:
    """Raise MessageError MX_RULE, naming the element, unless `msg` keeps the rules of
    `profile` (a key of PROFILES)."""
    rules = PROFILES.get(profile)
    if rules is None:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    if rules.single_transaction and len(msg.transactions) != 1:
        raise _refuse(rules, _HEAD + "/NbOfTxs", "a message carries one transaction")
    if rules.settlement_methods is not None and \
            msg.settlement_method not in rules.settlement_methods:
        raise _refuse(rules, _HEAD + "/SttlmInf/SttlmMtd",
                      f"settlement is {' or '.join(sorted(rules.settlement_methods))}")
    _restricted(rules, msg.msg_id, _HEAD + "/MsgId")
    _agent(rules, msg.instructing_agent, _HEAD, "InstgAgt")
    _agent(rules, msg.instructed_agent, _HEAD, "InstdAgt")
    for index, tx in enumerate(msg.transactions, start=1):
        _transfer(rules, tx, f"{_TX}[{index}]")
