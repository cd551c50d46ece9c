"""Agents, parties and accounts as every message after pacs.008 writes and reads them.

The element layout (BranchAndFinancialInstitutionIdentification6, PartyIdentification135,
CashAccount38) is the same in every schema version the project speaks; only the namespace
differs. Writing is namespace-free text; reading is a `Reader` bound to one namespace, since
children are looked up by Clark tag. Values are the `Agent` and `PartyAccount` structs
(exported by `pacs008`), so a bank or a customer looks the same in every message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import msgspec

from messages.errors import MessageError
from messages.iso20022 import _xml
from messages.iso20022._xml import Element, Kids, child, kids, optional, optional_text, text

# ExternalClearingSystemIdentification1Code (member ids); anything else goes out as Prtry.
CLEARING_SYSTEM_CODES = frozenset({
    "ATBLZ", "AUBSB", "CACPA", "CHBCC", "CHSIC", "CNAPS", "DEBLZ", "ESNCC", "GBDSC", "GRBIC",
    "HKNCC", "IENCC", "INFSC", "ITNCC", "JPZGN", "NZNCC", "PLKNR", "PTNCC", "RUCBC", "SESBA",
    "SGIBG", "THCBC", "TWNCN", "USABA", "USPID", "ZANCC",
})
# ExternalCashClearingSystem1Code (settlement): CHIPS, Fedwire, TARGET2; others go out as Prtry.
CASH_CLEARING_SYSTEM_CODES = frozenset({"CHI", "FDW", "TGT"})
MAX_ADDRESS_LINES = 7
T = TypeVar("T")


class Agent(msgspec.Struct, frozen=True):
    """A financial institution: BIC, clearing member id (e.g. a 12-digit CNAPS code), LEI, name."""

    bic: str | None = None
    member_id: str | None = None
    clearing_system: str | None = None
    lei: str | None = None
    name: str | None = None


class PartyAccount(msgspec.Struct, frozen=True):
    """A debtor or creditor with its account; `bic` is its Id/OrgId/AnyBIC. CBPR+: a party is
    named by a name or a BIC (or both)."""

    name: str | None = None
    account: str | None = None
    country: str | None = None
    address_lines: tuple[str, ...] = ()
    bic: str | None = None


# ---------------------------------------------------------------- build


class _AgentPaths:
    """XPath suffixes of an agent's values, below its parent."""

    __slots__ = ("bic", "lei", "member_id", "name", "system")

    def __init__(self, agent: str) -> None:
        fin = f"/{agent}/FinInstnId"
        self.bic = fin + "/BICFI"
        self.system = fin + "/ClrSysMmbId/ClrSysId/Prtry"
        self.member_id = fin + "/ClrSysMmbId/MmbId"
        self.lei = fin + "/LEI"
        self.name = fin + "/Nm"


class _PartyPaths:
    """XPath suffixes of a party's and its account's values, below the transaction; `key` is
    the party's name, or `wrap/name` for a party whose Nm is inside a `wrap` element."""

    __slots__ = ("account", "account_name", "address", "bic", "country", "name")

    def __init__(self, key: str) -> None:
        wrap, _, party = key.rpartition("/")
        account = party + "Acct"
        party += wrap and "/" + wrap
        self.name = f"/{party}/Nm"
        self.country = f"/{party}/PstlAdr/Ctry"
        self.address = f"/{party}/PstlAdr/AdrLine"
        self.bic = f"/{party}/Id/OrgId/AnyBIC"
        self.account_name = account
        self.account = f"/{account}/Id/Othr/Id"


class _Made(dict[str, T]):
    """Values made from their key on first use (keys are element names, a small fixed set)."""

    def __init__(self, make: Callable[[str], T]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key: str) -> T:
        value = self[key] = self.make(key)
        return value


_agent_paths = _Made(_AgentPaths)
_party_paths = _Made(_PartyPaths)
_account_paths = _Made("/{}/Id/Othr/Id".format)


def agent_xml(name: str, agent: Agent, where: str) -> str:
    """`<name><FinInstnId>...</FinInstnId></name>`; `where` is the XPath of its parent."""
    paths = _agent_paths[name]
    bic = "" if agent.bic is None else f"<BICFI>{_xml.bic(agent.bic, where, paths.bic)}</BICFI>"
    member = ""
    if agent.member_id is not None:
        system = agent.clearing_system
        if system is None:
            system_xml = ""
        elif system in CLEARING_SYSTEM_CODES:
            system_xml = f"<ClrSysId><Cd>{system}</Cd></ClrSysId>"
        else:
            system_xml = f"<ClrSysId><Prtry>{_xml.max35_xml(system, where, paths.system)}"\
                "</Prtry></ClrSysId>"
        member_id = _xml.max35_xml(agent.member_id, where, paths.member_id)
        member = f"<ClrSysMmbId>{system_xml}<MmbId>{member_id}</MmbId></ClrSysMmbId>"
    elif agent.clearing_system is not None:
        raise MessageError(
            "MX_MISSING_ELEMENT", "a clearing system needs a member id",
            where=where + paths.member_id,
        )
    lei = "" if agent.lei is None else f"<LEI>{_xml.lei(agent.lei, where, paths.lei)}</LEI>"
    nm = "" if agent.name is None else f"<Nm>{_xml.max140_xml(agent.name, where, paths.name)}</Nm>"
    return f"<{name}><FinInstnId>{bic}{member}{lei}{nm}</FinInstnId></{name}>"


def optional_agent_xml(name: str, agent: Agent | None, where: str) -> str:
    return "" if agent is None else agent_xml(name, agent, where)


def account_id_xml(account: str, where: str, suffix: str) -> str:
    """`<Id>...</Id>` of an account: an IBAN when it is one (check digits included), else Othr
    (whose Id is at XPath `where` + `suffix`)."""
    if _xml.is_iban(account):
        return f"<Id><IBAN>{account}</IBAN></Id>"
    return f"<Id><Othr><Id>{_xml.max34_xml(account, where, suffix)}</Id></Othr></Id>"


def account_xml(name: str, account: str, where: str) -> str:
    """`<name><Id>...</Id></name>`; `where` is the XPath of its parent."""
    return f"<{name}>{account_id_xml(account, where, _account_paths[name])}</{name}>"


def clearing_system_xml(system: str | None, where: str) -> str:
    """`<ClrSys>` of a settlement instruction: a cash clearing system code, else Prtry."""
    if system is None:
        return ""
    if system in CASH_CLEARING_SYSTEM_CODES:
        return f"<ClrSys><Cd>{system}</Cd></ClrSys>"
    return f"<ClrSys><Prtry>{_xml.max35_xml(system, where, '/ClrSys/Prtry')}</Prtry></ClrSys>"


def party_xml(name: str, party: PartyAccount, where: str, wrap: str = "") -> str:
    """The party `name` (Nm, PstlAdr, Id/OrgId/AnyBIC) followed by its account (`name`Acct).

    `wrap` names the element between the party and its Nm where a choice puts one (the `Pty`
    of a Party40Choice in camt reports).
    """
    paths = _party_paths[f"{wrap}/{name}" if wrap else name]
    if party.name is not None:
        nm = f"<Nm>{_xml.max140_xml(party.name, where, paths.name)}</Nm>"
    elif party.bic is None:
        raise MessageError("MX_MISSING_ELEMENT", "a party needs a name or a BIC",
                           where=where + paths.name)
    else:
        nm = ""
    identification = "" if party.bic is None else \
        f"<Id><OrgId><AnyBIC>{_xml.any_bic(party.bic, where, paths.bic)}</AnyBIC></OrgId></Id>"
    address = ""
    if party.country is not None or party.address_lines:
        country = "" if party.country is None else \
            f"<Ctry>{_xml.country(party.country, where, paths.country)}</Ctry>"
        if len(party.address_lines) > MAX_ADDRESS_LINES:
            raise MessageError(
                "MX_BAD_VALUE", f"at most {MAX_ADDRESS_LINES} address lines",
                where=where + paths.address,
            )
        lines = "".join(
            f"<AdrLine>{_xml.max70_xml(line, where, f'{paths.address}[{index}]')}</AdrLine>"
            for index, line in enumerate(party.address_lines, start=1)
        )
        address = f"<PstlAdr>{country}{lines}</PstlAdr>"
    account = "" if party.account is None else \
        f"<{paths.account_name}>{account_id_xml(party.account, where, paths.account)}"\
        f"</{paths.account_name}>"
    if wrap:
        return f"<{name}><{wrap}>{nm}{address}{identification}</{wrap}></{name}>{account}"
    return f"<{name}>{nm}{address}{identification}</{name}>{account}"


# ---------------------------------------------------------------- parse


def _any_text(value: str, where: str) -> str:
    return value


class Reader:
    """Readers of agents, parties and accounts in the one namespace of a document."""

    def __init__(self, namespace: str) -> None:
        self.t = _xml.Tags(namespace, """
            Cd Prtry FinInstnId BICFI ClrSysMmbId ClrSysId MmbId LEI Nm PstlAdr Ctry AdrLine
            Id IBAN Othr OrgId AnyBIC
        """)
        # Clark tag of a name in this namespace.
        self.tag: Callable[[str], str] = _Made(lambda name: f"{{{namespace}}}{name}").__getitem__

    def choice(self, element: Element, where: str, code: _xml.Check[str] = _xml.max35) -> str:
        """Value of a Cd/Prtry choice (the code checked by `code`)."""
        t = self.t
        if len(element) == 1:  # the usual shape, a lone Cd: no index needed
            first = element[0]
            if first.tag == t.Cd:
                return _xml.own_text(first, code, where + "/Cd")
        index = kids(element)
        found = optional_text(index, t.Cd, code, where)
        if found is not None:
            return found
        proprietary = optional_text(index, t.Prtry, _xml.max35, where)
        if proprietary is None:
            raise MessageError("MX_MISSING_ELEMENT", "Cd or Prtry is required",
                               where=where + "/Cd")
        return proprietary

    def agent(self, element: Element, where: str) -> Agent:
        """Agent from a BranchAndFinancialInstitutionIdentification6 element at XPath `where`."""
        t = self.t
        fin = kids(_xml.only(element, t.FinInstnId, where))
        where += "/FinInstnId"
        member_id = clearing_system = None
        member_element = optional(fin, t.ClrSysMmbId, where)
        if member_element is not None:
            member_where = where + "/ClrSysMmbId"
            member = kids(member_element)
            member_id = text(member, t.MmbId, _xml.max35, member_where)
            system = optional(member, t.ClrSysId, member_where)
            if system is not None:
                clearing_system = self.choice(system, member_where + "/ClrSysId")
        return Agent(
            bic=optional_text(fin, t.BICFI, _xml.bic, where),
            member_id=member_id,
            clearing_system=clearing_system,
            lei=optional_text(fin, t.LEI, _xml.lei, where),
            name=optional_text(fin, t.Nm, _xml.max140, where),
        )

    def optional_agent(self, index: Kids, name: str, where: str) -> Agent | None:
        """The agent `name` among the children `index` of the element at `where`, if there."""
        element = optional(index, self.tag(name), where)
        return None if element is None else self.agent(element, f"{where}/{name}")

    def required_agent(self, index: Kids, name: str, where: str) -> Agent:
        return self.agent(child(index, self.tag(name), where), f"{where}/{name}")

    def account(self, element: Element, where: str) -> str:
        """The identification of a CashAccount38/39 element at XPath `where`: IBAN or Othr/Id."""
        t = self.t
        id_where = where + "/Id"
        identification = kids(_xml.only(element, t.Id, where))
        iban = optional(identification, t.IBAN, id_where)
        if iban is not None:
            account = _xml.own_text(iban, _any_text, id_where + "/IBAN")
            if not _xml.is_iban(account):
                raise MessageError("MX_BAD_VALUE", f"{account!r} is not a valid IBAN",
                                   where=id_where + "/IBAN")
            return account
        other = optional(identification, t.Othr, id_where)
        if other is None:
            raise MessageError("MX_MISSING_ELEMENT", "IBAN or Othr is required",
                               where=id_where + "/Othr")
        return _xml.only_text(other, t.Id, _xml.max34, id_where + "/Othr")

    def optional_account(self, index: Kids, name: str, where: str) -> str | None:
        element = optional(index, self.tag(name), where)
        return None if element is None else self.account(element, f"{where}/{name}")

    def party(self, index: Kids, name: str, where: str, wrap: str = "", *,
              account_first: bool = False) -> PartyAccount:
        """The party `name` and its account (`name`Acct), from the children `index` of the
        element at XPath `where`; `wrap` as for `party_xml`. The account is read after the
        party's Nm, or before it with `account_first` (the order pacs.008 reports errors in)."""
        t = self.t
        account_name = name + "Acct"
        party_where = f"{where}/{name}"
        party_element = child(index, self.tag(name), where)
        if wrap:
            party_element = _xml.only(party_element, self.tag(wrap), party_where)
            party_where += "/" + wrap
        party = kids(party_element)
        country: str | None = None
        lines: tuple[str, ...] = ()
        address_element = optional(party, t.PstlAdr, party_where)
        if address_element is not None:
            address_where = party_where + "/PstlAdr"
            address = kids(address_element)
            country = optional_text(address, t.Ctry, _xml.country, address_where)
            if t.AdrLine in address:
                lines = tuple(
                    _xml.own_text(line, _xml.max70, f"{address_where}/AdrLine[{number}]")
                    for number, line in enumerate(_xml.repeated(address, t.AdrLine), start=1)
                )
            if len(lines) > MAX_ADDRESS_LINES:
                raise MessageError("MX_BAD_VALUE", f"at most {MAX_ADDRESS_LINES} address lines",
                                   where=address_where + "/AdrLine")
        if account_first:
            account = self.optional_account(index, account_name, where)
        party_name = optional_text(party, t.Nm, _xml.max140, party_where)
        bic = None
        identification = optional(party, t.Id, party_where)
        if identification is not None:
            bic = self._any_bic(identification, party_where + "/Id")
        if party_name is None and bic is None:
            raise MessageError("MX_MISSING_ELEMENT", "a party needs a name or a BIC",
                               where=party_where + "/Nm")
        if not account_first:
            account = self.optional_account(index, account_name, where)
        return PartyAccount(name=party_name, account=account, country=country,
                            address_lines=lines, bic=bic)

    def _any_bic(self, element: Element, where: str) -> str | None:
        """The OrgId/AnyBIC of a party's Id (Party38Choice) at XPath `where`, None when the Id
        holds another identification (which the model does not carry)."""
        t = self.t
        organisation = optional(kids(element), t.OrgId, where)
        if organisation is None:
            return None
        return optional_text(kids(organisation), t.AnyBIC, _xml.any_bic, where + "/OrgId")
