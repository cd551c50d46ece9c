"""What every credit transfer translation shares: 33B <-> InstdAmt, 71F/71G <-> ChrgsInf,
56a <-> IntrmyAgt1 (+Acct), 72 <-> InstrForNxtAgt.

Charges: each 71F is a ChrgsInf taken by the MT sender, 71G one taken by the receiver; back,
a last ChrgsInf taken by the receiver is 71G, every other one a 71F (whose agent MT cannot
name). When sender and receiver are one bank, only ChrgBr DEBT (71A OUR) makes it 71G.
Field 72 is a list of instructions, `/CODE/text` with `//` continuation lines; each becomes one
InstrForNxtAgt: /PHONNEXT/ and /TELENEXT/ its Cd (PHOA, TELA) with the text as InstrInf, any
other code kept in InstrInf as `/CODE/text`.

>>> mx = to_mx_instructions(("/PHONNEXT/", "/REC/ADVISE BENEFICIARY BY", "//PHONE"), "x",
...                         Losses())
>>> mx  # doctest: +NORMALIZE_WHITESPACE
(NextAgentInstruction(code='PHOA', info=None),
 NextAgentInstruction(code=None, info='/REC/ADVISE BENEFICIARY BYPHONE'))
>>> instruction_lines(mx, "x", Losses())
('/PHONNEXT/', '/REC/ADVISE BENEFICIARY BYPHONE')
"""

from __future__ import annotations

import re

from messages.iso20022 import Agent, Charge, NextAgentInstruction
from messages.mt import Money, Party
from messages.translate._losses import Losses, cut, wrap
from messages.translate._model import (
    RULE_AMBIGUOUS,
    RULE_LINE_BREAKS,
    RULE_NO_CODE,
    RULE_NOT_VALID_MX,
    RULE_TRUNCATE,
    RULE_TRUNCATE_MX,
)
from messages.translate._parties import agent_to_mt, agent_to_mx, same_bic
from messages.translate.tables import NEXT_AGENT_CODES_MT_TO_MX, NEXT_AGENT_CODES_MX_TO_MT

__all__ = [
    "charges_to_mt",
    "charges_to_mx",
    "instructed_to_mt",
    "instructed_to_mx",
    "instruction_lines",
    "intermediary_to_mt",
    "intermediary_to_mx",
    "to_mx_instructions",
]

_CODE = re.compile(r"/([A-Z0-9]{1,8})/")
_LINES_72 = 6
_WIDTH = 35
_INFO = 140  # InstrInf is Max140Text


# ---------------------------------------------------------------- 33B


def instructed_to_mx(money: Money | None, element: str, losses: Losses
                     ) -> tuple[int | None, str | None]:
    """(InstdAmt amount, currency) of 33B; a zero amount is reported (MX amounts are > 0)."""
    if money is None:
        return None, None
    if money.amount <= 0:
        losses.add("33B", element, f"{money!r} (amounts are positive)", RULE_NOT_VALID_MX)
        return None, None
    return money.amount, money.currency


def instructed_to_mt(amount: int | None, currency: str | None) -> Money | None:
    return None if amount is None or currency is None else Money(currency, amount)


# ---------------------------------------------------------------- 71F / 71G


def charges_to_mx(sender_charges: tuple[Money, ...], receiver_charges: Money | None,
                  sender: Agent, receiver: Agent, bearer: str, element: str, losses: Losses
                  ) -> tuple[Charge, ...]:
    """ChrgsInf of 71F (taken by `sender`) and 71G (taken by `receiver`), in field order;
    `bearer` is the ChrgBr. A last 71F that would read back as 71G is reported."""
    if same_bic(sender.bic, receiver.bic):  # then only 71A OUR tells 71G from a last 71F
        where = f"{element}/ChrgsInf[{len(sender_charges) + (receiver_charges is not None)}]"
        if sender_charges and receiver_charges is None and bearer == "DEBT":
            losses.add("71F", where, "a last 71F with 71A OUR reads back as 71G", RULE_AMBIGUOUS)
        elif receiver_charges is not None and bearer != "DEBT":
            losses.add("71G", where, "71G without 71A OUR reads back as 71F", RULE_AMBIGUOUS)
    out = [Charge(money.amount, money.currency, sender) for money in sender_charges]
    if receiver_charges is not None:
        out.append(Charge(receiver_charges.amount, receiver_charges.currency, receiver))
    return tuple(out)


def _is_bank(agent: Agent, bic: str) -> bool:
    return agent == Agent(bic=agent.bic) and same_bic(agent.bic, bic)


def charges_to_mt(charges: tuple[Charge, ...], sender_bic: str, receiver_bic: str,
                  bearer: str, element: str, losses: Losses
                  ) -> tuple[tuple[Money, ...], Money | None]:
    """(71F, 71G) of the ChrgsInf at `element`; agents MT cannot name are reported."""
    receiver_charges = None
    if charges:
        last = charges[-1]
        if _is_bank(last.agent, receiver_bic) and \
                (not same_bic(sender_bic, receiver_bic) or bearer == "DEBT"):
            receiver_charges = Money(last.currency, last.amount)
            charges = charges[:-1]
    sender_charges = []
    for index, charge in enumerate(charges, start=1):
        if not _is_bank(charge.agent, sender_bic):
            losses.no_field("71F", f"{element}/ChrgsInf[{index}]/Agt", charge.agent)
        sender_charges.append(Money(charge.currency, charge.amount))
    return tuple(sender_charges), receiver_charges


# ---------------------------------------------------------------- 56a


def intermediary_to_mx(party: Party | None, element: str, losses: Losses
                       ) -> tuple[Agent | None, str | None]:
    """IntrmyAgt1 and IntrmyAgt1Acct of 56a; `element` is the transaction."""
    if party is None:
        return None, None
    return agent_to_mx(party, "56", element + "/IntrmyAgt1", losses,
                       element + "/IntrmyAgt1Acct")


def intermediary_to_mt(agent: Agent | None, account: str | None, element: str,
                       losses: Losses, options: str) -> Party | None:
    """56a (options among `options`) of IntrmyAgt1 and its account."""
    if agent is None:
        return None
    return agent_to_mt(agent, "56", element + "/IntrmyAgt1", losses, options, account,
                       element + "/IntrmyAgt1Acct")


# ---------------------------------------------------------------- 72


def _texts_72(lines: tuple[str, ...]) -> list[str]:
    """The instructions of 72 lines: a /CODE/ line starts one, `//` lines continue it."""
    texts: list[str] = []
    for line in lines:
        if texts and (line.startswith("//") or _CODE.match(line) is None):
            texts[-1] += line[2:] if line.startswith("//") else line
        else:
            texts.append(line)
    return texts


def to_mx_instructions(lines: tuple[str, ...] | None, element: str, losses: Losses
                       ) -> tuple[NextAgentInstruction, ...]:
    """InstrForNxtAgt of field 72 `lines`; `element` is the transaction. Line breaks that the
    instructions do not give back (a line not filled before its continuation) are reported."""
    if not lines:
        return ()
    where = element + "/InstrForNxtAgt"
    out = []
    for index, text in enumerate(_texts_72(lines), start=1):
        found = _CODE.match(text)
        code = None if found is None else NEXT_AGENT_CODES_MT_TO_MX.get(found.group(1))
        if code is not None and found is not None:
            text = text[found.end():]
        if len(text) > _INFO:
            losses.add("72", f"{where}[{index}]/InstrInf",
                       f"{text[_INFO - 1:]!r} after {_INFO - 1} characters",
                       RULE_TRUNCATE_MX)
            text = cut(text, _INFO)
        out.append(NextAgentInstruction(code, text or None))
    instructions = tuple(out)
    if instruction_lines(instructions, element, Losses()) != lines:
        losses.add("72", where, f"line breaks of {lines!r}", RULE_LINE_BREAKS)
    return instructions


def instruction_lines(instructions: tuple[NextAgentInstruction, ...], element: str,
                      losses: Losses) -> tuple[str, ...] | None:
    """Field 72 of InstrForNxtAgt (None when there are none): each instruction from a line of
    its own, continued on `//` lines, at most 6 lines in all (CBPR+: cut with '+')."""
    lines: list[str] = []
    for index, instruction in enumerate(instructions, start=1):
        where = f"{element}/InstrForNxtAgt[{index}]"
        code = NEXT_AGENT_CODES_MX_TO_MT.get(instruction.code or "")
        info = "" if instruction.info is None else \
            losses.x(instruction.info, "72", where + "/InstrInf")
        if code is not None:
            text = f"/{code}/{info}"
        elif _CODE.match(info) is None:
            losses.add("72", where + "/InstrInf", f"{info!r} written after /REC/", RULE_NO_CODE)
            text = "/REC/" + info
        elif not lines and info.startswith("/RETN/"):  # it would make the MT103 a return
            losses.add("72", where + "/InstrInf", f"{info!r} written after /REC/",
                       RULE_AMBIGUOUS)
            text = "/REC/" + info
        else:
            text = info
        chunks = wrap(text, _WIDTH)
        lines += chunks[:1] + [f"//{chunk}" for chunk in wrap("".join(chunks[1:]), _WIDTH - 2)]
    if len(lines) > _LINES_72:
        losses.add("72", element + "/InstrForNxtAgt", f"{lines[_LINES_72:]!r} beyond 6 lines",
                   RULE_TRUNCATE)
        lines = lines[:_LINES_72]
        lines[-1] = lines[-1][:-1] + "+"
    return tuple(lines) or None
