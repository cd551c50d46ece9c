"""Party fields (50a, 59a: customers; 51a..58a: institutions) <-> PartyAccount and Agent.

Customer options: A (BIC) <-> Id/OrgId/AnyBIC, K / no letter (name and address lines) <-> Nm +
AdrLine, F (structured: 1/ name, 2/ address, 3/ country and town) <-> Nm + AdrLine + Ctry. An MX
party with a BIC an MT field can hold becomes option A (its name and address are reported), one
with a country option F.
Institutions: A (BIC, //XX clearing code) <-> BICFI (+ ClrSysMmbId), D (name) <-> Nm,
C (//XX clearing code) <-> ClrSysMmbId.
"""

from __future__ import annotations

import msgspec

from messages.iso20022 import Agent, PartyAccount
from messages.mt import Party
from messages.translate._losses import BIC, COUNTRY, Losses, cut
from messages.translate._model import RULE_AMBIGUOUS, RULE_TRUNCATE, TranslationError
from messages.translate.tables import CLEARING_MT_TO_MX, CLEARING_MX_TO_MT, NOT_PROVIDED

# ---------------------------------------------------------------- addresses


def bic_of_address(address: str) -> str:
    """BIC of a 12-character LT address: the logical terminal letter dropped, XXX dropped."""
    branch = address[9:12]
    return address[:8] if branch in ("", "XXX") else address[:8] + branch


def address_of_bic(bic: str, element: str = "") -> str:
    """12-character LT address of a BIC (terminal letter X, branch XXX when none)."""
    if not BIC.fullmatch(bic):
        raise TranslationError(f"{bic!r} is not a BIC an MT header can hold",
                               where=element + "/FinInstnId/BICFI" if element else None)
    return bic[:8] + "X" + (bic[8:11] or "XXX")


def same_bic(left: str | None, right: str | None) -> bool:
    if left is None or right is None:
        return False
    return left[:8] == right[:8] and (left[8:] or "XXX") == (right[8:] or "XXX")


# ---------------------------------------------------------------- customers, MT -> MX


def customer_to_mx(party: Party, tag: str, element: str, losses: Losses) -> PartyAccount:
    """The PartyAccount of customer field `tag` (50 or 59); `element` is Dbtr or Cdtr."""
    field = tag + party.option
    if party.option == "A":
        return PartyAccount(account=party.account, bic=party.bic)
    if party.option == "F":
        return _structured_to_mx(party, field, element, losses)
    lines = party.lines or (NOT_PROVIDED,)
    return PartyAccount(name=lines[0], account=party.account, address_lines=lines[1:])


def _structured_to_mx(party: Party, field: str, element: str, losses: Losses) -> PartyAccount:
    account = party.account
    if account is not None and tag_is_50(field):
        # 50F: the party identifier is /account or a code (NIDN/...) the model cannot hold
        if account.startswith("/") and len(account) > 1:
            account = account[1:]
        else:
            losses.no_element(field, element + "/Id/PrvtId", account)
            account = None
    if account == NOT_PROVIDED:
        account = None
    name: list[str] = []
    address: list[str] = []
    country: str | None = None
    for line in party.lines:
        number, _, rest = line.partition("/")
        if number == "1" and rest:
            name.append(rest)
        elif number == "2" and rest:
            address.append(rest)
        elif number == "3" and COUNTRY.fullmatch(rest[:2]) and rest[2:3] in ("", "/"):
            country = rest[:2]
            if rest[3:]:
                address.append(rest[3:])
        else:
            losses.no_element(field, element + "/Id/PrvtId", line)
    return PartyAccount(name="".join(name) or NOT_PROVIDED, account=account, country=country,
                        address_lines=tuple(address))


def tag_is_50(field: str) -> bool:
    return field.startswith("50")


# ---------------------------------------------------------------- customers, MX -> MT


def customer_to_mt(party: PartyAccount, tag: str, element: str, losses: Losses) -> Party:
    """Customer field `tag` (50 or 59) of the MX party `element` (Dbtr or Cdtr)."""
    account = None if party.account is None else \
        losses.fit(party.account, 34, tag, element + "Acct/Id")
    if party.bic is not None and BIC.fullmatch(party.bic):
        return _bic_to_mt(party, account, tag, element, losses)
    if party.bic is not None:
        losses.no_field(tag, element + "/Id/OrgId/AnyBIC", f"{party.bic} (not an MT BIC)")
    if party.country is not None:
        return _structured_to_mt(party, account, tag, element, losses)
    field = tag + ("K" if tag == "50" else "")
    name = losses.line(losses.fit(_name(party), 35, field,
                                  element + "/Nm"), field, element + "/Nm", ":-/")
    address = [
        losses.line(losses.fit(line, 35, field, f"{element}/PstlAdr/AdrLine[{number}]"), field,
                    f"{element}/PstlAdr/AdrLine[{number}]")
        for number, line in enumerate(party.address_lines, start=1)
    ]
    if len(address) > 3:
        losses.add(field, element + "/PstlAdr/AdrLine", f"{address[3:]!r} beyond 4 lines",
                   "CBPR+ truncation: lines beyond the field's 4 are dropped")
        address = address[:3]
    option = "K" if tag == "50" else ""
    return Party(option=option, account=account, lines=(name, *address))


def _bic_to_mt(party: PartyAccount, account: str | None, tag: str, element: str,
               losses: Losses) -> Party:
    """Option A: the BIC and the account; a name, address or country has no room."""
    field = tag + "A"
    for value, where in ((party.name, "/Nm"), (party.country, "/PstlAdr/Ctry"),
                         (party.address_lines, "/PstlAdr/AdrLine")):
        if value:
            losses.no_field(field, element + where, value)
    return Party(option="A", account=account, bic=party.bic)


def _name(party: PartyAccount) -> str:
    """The party's name; NOTPROVIDED for one named only by a BIC MT cannot hold (reported)."""
    return NOT_PROVIDED if party.name is None else party.name


def _structured_to_mt(party: PartyAccount, account: str | None, tag: str, element: str,
                      losses: Losses) -> Party:
    field = tag + "F"
    name = losses.x(_name(party), field, element + "/Nm")
    if len(name) > 66:
        losses.add(field, element + "/Nm", f"{name[65:]!r} after 65 characters",
                   RULE_TRUNCATE)
        name = cut(name, 66)
    lines = [f"1/{name[i:i + 33]}" for i in range(0, len(name), 33)] or [f"1/{NOT_PROVIDED}"]
    address = [losses.fit(line, 33, field, f"{element}/PstlAdr/AdrLine[{number}]")
               for number, line in enumerate(party.address_lines, start=1)]
    town = address.pop() if address else ""
    room = 4 - len(lines) - 1
    if len(address) > room:
        losses.add(field, element + "/PstlAdr/AdrLine", f"{address[room:]!r} beyond 4 lines",
                   "CBPR+ truncation: lines beyond the field's 4 are dropped")
        address = address[:room]
    lines += [f"2/{line}" for line in address]
    country_line = f"3/{party.country}"
    if town:
        country_line += "/" + cut(town, 30)
        if len(town) > 30:
            losses.add(field, f"{element}/PstlAdr/AdrLine", f"{town[29:]!r} after 29 characters",
                       RULE_TRUNCATE)
    lines.append(country_line)
    if tag == "50":
        identifier = "/" + (account or NOT_PROVIDED)
        return Party(option="F", account=identifier, lines=tuple(lines))
    return Party(option="F", account=account, lines=tuple(lines))


# ---------------------------------------------------------------- institutions


def agent_to_mx(party: Party, tag: str, element: str, losses: Losses,
                account_element: str = "") -> tuple[Agent | None, str | None]:
    """The Agent of institution field `tag` (52, 56, 57, 58...), None when it names none, and
    the party identifier when it is an account and `account_element` (e.g. DbtrAcct) holds it;
    otherwise an account is reported as lost."""
    field = tag + party.option
    member_id = clearing = kept = None
    account = party.account
    if account is not None and account.startswith("/") and account[1:3] in CLEARING_MT_TO_MX \
            and len(account) > 3:
        clearing, member_id = CLEARING_MT_TO_MX[account[1:3]], account[3:]
    elif account is not None and account_element and len(account) <= 34:
        kept = account
    elif account is not None:
        losses.no_element(field, account_element or element + "Acct", account)
    if party.mark is not None:
        losses.no_element(field, account_element or element + "Acct", "/" + party.mark)
    name = None
    if party.option == "D" and party.lines:
        name = None if party.lines[0] == NOT_PROVIDED else party.lines[0]
        if len(party.lines) > 1:
            losses.no_element(field, element + "/FinInstnId/PstlAdr", party.lines[1:])
    elif party.option == "B" and party.lines:
        losses.no_element(field, element + "/BrnchId", party.lines)
    if party.bic is None and member_id is None and name is None:
        # an account alone still names the party (MX: an empty FinInstnId beside the account)
        return (None, None) if kept is None else (Agent(), kept)
    return Agent(bic=party.bic, member_id=member_id, clearing_system=clearing, name=name), kept


def agent_to_mt(agent: Agent, tag: str, element: str, losses: Losses,
                options: str = "AD", account: str | None = None,
                account_element: str = "") -> Party | None:
    """Institution field `tag` of `agent` (options among `options`), None when it has nothing
    an MT field can carry; `account` (from `account_element`) is its party identifier."""
    if account is not None:
        account = losses.fit(account, 34, tag, account_element)
        if (account[:1].isalpha() and account[1:2] in ("", "/")) or \
                (account[:1] == "/" and account[1:3] in CLEARING_MT_TO_MX):
            # "/D" or "/D/..." would read back as the /D or /C mark before an account, and
            # "//CN..." as a clearing code
            losses.add(tag, account_element, f"{account!r} reads as a mark or clearing code in MT",
                       RULE_AMBIGUOUS)
            account = None
    if account is not None:
        if agent.member_id is not None:
            losses.no_field(tag, element + "/FinInstnId/ClrSysMmbId",
                            f"{agent.clearing_system}/{agent.member_id}")
    elif agent.member_id is not None:
        code = CLEARING_MX_TO_MT.get(agent.clearing_system or "")
        member = losses.x(agent.member_id, tag, element + "/FinInstnId/ClrSysMmbId/MmbId")
        if code is not None and len(member) <= 31:
            account = f"/{code}{member}"
        else:
            losses.no_field(tag, element + "/FinInstnId/ClrSysMmbId",
                            f"{agent.clearing_system}/{agent.member_id}")
    if agent.lei is not None:
        losses.no_field(tag, element + "/FinInstnId/LEI", agent.lei)
    if agent.bic is not None and not BIC.fullmatch(agent.bic):
        losses.no_field(tag, element + "/FinInstnId/BICFI", f"{agent.bic} (not an MT BIC)")
        agent = msgspec.structs.replace(agent, bic=None)
    if agent.bic is not None:
        if agent.name is not None:
            losses.no_field(tag + "A", element + "/FinInstnId/Nm", agent.name)
        return Party(option="A", account=account, bic=agent.bic)
    if agent.name is not None and "D" in options:
        field = tag + "D"
        where = element + "/FinInstnId/Nm"
        name = losses.line(losses.fit(agent.name, 35, field, where), field, where, ":-/")
        return Party(option="D", account=account, lines=(name,))
    if account is not None and "C" in options:
        return Party(option="C", account=account)
    if account is not None and "D" in options:
        return Party(option="D", account=account, lines=(NOT_PROVIDED,))
    if agent.name is not None:
        losses.no_field(tag, element + "/FinInstnId/Nm", agent.name)
    if account is not None:
        losses.no_field(tag, account_element, account)
    return None
