"""The reference to an original transaction, and the reason block, that pacs.004 returns,
camt.056 cancellation requests and camt.029 resolutions all carry; and the case assignment
(Assgnmt, Case) of the two investigation messages.

Messages keep these as flat `orgnl_*` and `reason*` fields of their own structs (as pacs.002
does); these functions write and read them, in the order the three schemas share.
"""

from __future__ import annotations

import datetime
from typing import Any, Protocol

from messages.errors import MessageError
from messages.iso20022 import _xml
from messages.iso20022._parties import Reader, agent_xml
from messages.iso20022._xml import Kids, child, kids, optional, optional_text, repeated, text
from messages.iso20022.pacs008 import Agent


class Original(Protocol):
    """The fields of a struct that names an original transaction."""

    @property
    def orgnl_msg_id(self) -> str: ...
    @property
    def orgnl_msg_name(self) -> str: ...
    @property
    def orgnl_end_to_end_id(self) -> str: ...
    @property
    def orgnl_created_at(self) -> datetime.datetime | None: ...
    @property
    def orgnl_instr_id(self) -> str | None: ...
    @property
    def orgnl_tx_id(self) -> str | None: ...
    @property
    def orgnl_uetr(self) -> str | None: ...
    @property
    def orgnl_amount(self) -> int | None: ...
    @property
    def orgnl_currency(self) -> str | None: ...
    @property
    def orgnl_settlement_date(self) -> datetime.date | None: ...


def _optional_id(tag: str, value: str | None, where: str) -> str:
    if value is None:
        return ""
    return f"<{tag}>{_xml.max35_xml(value, where, '/' + tag)}</{tag}>"


def ids_xml(tx: Original, where: str) -> str:
    """OrgnlGrpInf, OrgnlInstrId, OrgnlEndToEndId, OrgnlTxId and OrgnlUETR of `tx`."""
    group_where = where + "/OrgnlGrpInf"
    msg_id = _xml.max35_xml(tx.orgnl_msg_id, group_where, "/OrgnlMsgId")
    msg_name = _xml.max35_xml(tx.orgnl_msg_name, group_where, "/OrgnlMsgNmId")
    created = "" if tx.orgnl_created_at is None else \
        "<OrgnlCreDtTm>" \
        f"{_xml.datetime_text(tx.orgnl_created_at, group_where, '/OrgnlCreDtTm')}</OrgnlCreDtTm>"
    end_to_end_id = _xml.max35_xml(tx.orgnl_end_to_end_id, where, "/OrgnlEndToEndId")
    uetr = "" if tx.orgnl_uetr is None else \
        f"<OrgnlUETR>{_xml.uetr(tx.orgnl_uetr, where, '/OrgnlUETR')}</OrgnlUETR>"
    return (
        f"<OrgnlGrpInf><OrgnlMsgId>{msg_id}</OrgnlMsgId><OrgnlMsgNmId>{msg_name}</OrgnlMsgNmId>"
        f"{created}</OrgnlGrpInf>{_optional_id('OrgnlInstrId', tx.orgnl_instr_id, where)}"
        f"<OrgnlEndToEndId>{end_to_end_id}</OrgnlEndToEndId>"
        f"{_optional_id('OrgnlTxId', tx.orgnl_tx_id, where)}{uetr}"
    )


def settlement_xml(tx: Original, where: str) -> str:
    """OrgnlIntrBkSttlmAmt and OrgnlIntrBkSttlmDt of `tx`, each if set."""
    amount = ""
    if (tx.orgnl_amount is None) != (tx.orgnl_currency is None):
        raise MessageError("MX_MISSING_ELEMENT", "original amount and currency go together",
                           where=where + "/OrgnlIntrBkSttlmAmt")
    if tx.orgnl_amount is not None and tx.orgnl_currency is not None:
        value = _xml.amount_text(tx.orgnl_amount, tx.orgnl_currency,
                                 where + "/OrgnlIntrBkSttlmAmt")
        amount = f'<OrgnlIntrBkSttlmAmt Ccy="{tx.orgnl_currency}">{value}</OrgnlIntrBkSttlmAmt>'
    date = "" if tx.orgnl_settlement_date is None else \
        "<OrgnlIntrBkSttlmDt>" \
        f"{_xml.date_text(tx.orgnl_settlement_date, where, '/OrgnlIntrBkSttlmDt')}" \
        "</OrgnlIntrBkSttlmDt>"
    return amount + date


def reason_xml(tag: str, where: str, reason: str | None, proprietary: str | None,
               additional_info: str | None, originator: str | None = None) -> str:
    """The reason block `tag` (RtrRsnInf, CxlRsnInf, CxlStsRsnInf): Orgtr/Nm, Rsn (Cd or
    Prtry, exclusive) and AddtlInf; empty when nothing is set."""
    where += "/" + tag
    if reason is not None and proprietary is not None:
        raise MessageError("MX_BAD_VALUE", "reason and reason_proprietary are exclusive",
                           where=where + "/Rsn")
    if reason is None and proprietary is None and additional_info is None and originator is None:
        return ""
    out = "" if originator is None else \
        f"<Orgtr><Nm>{_xml.max140_xml(originator, where, '/Orgtr/Nm')}</Nm></Orgtr>"
    if reason is not None:
        out += f"<Rsn><Cd>{_xml.max4_xml(reason, where, '/Rsn/Cd')}</Cd></Rsn>"
    elif proprietary is not None:
        out += f"<Rsn><Prtry>{_xml.max35_xml(proprietary, where, '/Rsn/Prtry')}</Prtry></Rsn>"
    if additional_info is not None:
        out += f"<AddtlInf>{_xml.max105_xml(additional_info, where, '/AddtlInf')}</AddtlInf>"
    return f"<{tag}>{out}</{tag}>"


def _party_agent_xml(name: str, agent: Agent, where: str) -> str:
    """A Party40Choice holding an agent: `<name><Agt>...</Agt></name>`."""
    return f"<{name}>{agent_xml('Agt', agent, f'{where}/{name}')}</{name}>"


def assignment_xml(assignment_id: str, assigner: Agent, assignee: Agent,
                   created_at: datetime.datetime, where: str) -> str:
    """`<Assgnmt>` (CaseAssignment5) at XPath `where`; assigner and assignee are agents."""
    identification = _xml.max35_xml(assignment_id, where, "/Id")
    created = _xml.datetime_text(created_at, where, "/CreDtTm")
    return (
        f"<Assgnmt><Id>{identification}</Id>{_party_agent_xml('Assgnr', assigner, where)}"
        f"{_party_agent_xml('Assgne', assignee, where)}<CreDtTm>{created}</CreDtTm></Assgnmt>"
    )


def case_xml(tag: str, case_id: str | None, creator: Agent | None, where: str) -> str:
    """A Case5 element `tag` at XPath `where` (id and creating agent go together), or ""."""
    if case_id is None and creator is None:
        return ""
    if case_id is None or creator is None:
        raise MessageError("MX_MISSING_ELEMENT", "a case needs its id and its creator",
                           where=where + ("/Id" if case_id is None else "/Cretr"))
    identification = _xml.max35_xml(case_id, where, "/Id")
    return f"<{tag}><Id>{identification}</Id>{_party_agent_xml('Cretr', creator, where)}</{tag}>"


class OriginalReader:
    """Readers of original references and reason blocks in the one namespace of a document."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.t = _xml.Tags(namespace, """
            OrgnlGrpInf OrgnlMsgId OrgnlMsgNmId OrgnlCreDtTm OrgnlInstrId OrgnlEndToEndId
            OrgnlTxId OrgnlUETR OrgnlIntrBkSttlmAmt OrgnlIntrBkSttlmDt Orgtr Nm Rsn Cd Prtry
            AddtlInf Assgnmt Id Assgnr Assgne CreDtTm Cretr Agt
        """)
        self.parties = Reader(namespace)

    def party_agent(self, index: Kids, name: str, where: str) -> Agent:
        """The agent of the Party40Choice `name` among `index` (a party is not supported)."""
        element = child(index, f"{{{self.namespace}}}{name}", where)
        where = f"{where}/{name}"
        return self.parties.agent(_xml.only(element, self.t.Agt, where), where + "/Agt")

    def assignment(self, index: Kids, where: str
                   ) -> tuple[str, Agent, Agent, datetime.datetime]:
        """(id, assigner, assignee, created_at) of the Assgnmt among `index`."""
        t = self.t
        assignment_where = where + "/Assgnmt"
        node = kids(child(index, t.Assgnmt, where))
        return (
            text(node, t.Id, _xml.max35, assignment_where),
            self.party_agent(node, "Assgnr", assignment_where),
            self.party_agent(node, "Assgne", assignment_where),
            text(node, t.CreDtTm, _xml.parse_datetime, assignment_where),
        )

    def case(self, index: Kids, tag: str, where: str) -> tuple[str | None, Agent | None]:
        """(id, creator) of the Case5 element `tag` among `index`, or (None, None)."""
        element = optional(index, f"{{{self.namespace}}}{tag}", where)
        if element is None:
            return None, None
        where = f"{where}/{tag}"
        node = kids(element)
        return text(node, self.t.Id, _xml.max35, where), self.party_agent(node, "Cretr", where)

    def ids(self, tx: Kids, where: str) -> dict[str, Any]:
        """The `orgnl_*` id fields from the children `tx` of the element at XPath `where`."""
        t = self.t
        group_where = where + "/OrgnlGrpInf"
        group = kids(child(tx, t.OrgnlGrpInf, where))
        return {
            "orgnl_msg_id": text(group, t.OrgnlMsgId, _xml.max35, group_where),
            "orgnl_msg_name": text(group, t.OrgnlMsgNmId, _xml.max35, group_where),
            "orgnl_created_at":
                optional_text(group, t.OrgnlCreDtTm, _xml.parse_datetime, group_where),
            "orgnl_instr_id": optional_text(tx, t.OrgnlInstrId, _xml.max35, where),
            "orgnl_end_to_end_id": text(tx, t.OrgnlEndToEndId, _xml.max35, where),
            "orgnl_tx_id": optional_text(tx, t.OrgnlTxId, _xml.max35, where),
            "orgnl_uetr": optional_text(tx, t.OrgnlUETR, _xml.uetr, where),
        }

    def settlement(self, tx: Kids, where: str) -> dict[str, Any]:
        """`orgnl_amount`, `orgnl_currency` and `orgnl_settlement_date`."""
        t = self.t
        amount = currency = None
        if t.OrgnlIntrBkSttlmAmt in tx:
            amount, currency = _xml.amount(tx, t.OrgnlIntrBkSttlmAmt, where)
        return {
            "orgnl_amount": amount,
            "orgnl_currency": currency,
            "orgnl_settlement_date":
                optional_text(tx, t.OrgnlIntrBkSttlmDt, _xml.parse_date, where),
        }

    def reason(self, tx: Kids, tag: str, where: str) -> dict[str, Any]:
        """The `reason`, `reason_proprietary`, `additional_info` and `originator` fields of the
        one reason block `tag` among the children `tx` of the element at `where`, if any."""
        t = self.t
        reasons = repeated(tx, f"{{{self.namespace}}}{tag}")
        if not reasons:
            return {}
        if len(reasons) > 1:
            raise MessageError("MX_BAD_VALUE", f"more than one {tag} is not supported",
                               where=f"{where}/{tag}[2]")
        info_where = f"{where}/{tag}[1]"
        info = kids(reasons[0])
        originator_element = optional(info, t.Orgtr, info_where)
        originator = None if originator_element is None else \
            _xml.only_text(originator_element, t.Nm, _xml.max140, info_where + "/Orgtr")
        reason = proprietary = None
        rsn_element = optional(info, t.Rsn, info_where)
        if rsn_element is not None:
            rsn = kids(rsn_element)
            rsn_where = info_where + "/Rsn"
            reason = optional_text(rsn, t.Cd, _xml.max4, rsn_where)
            proprietary = optional_text(rsn, t.Prtry, _xml.max35, rsn_where)
            if reason is None and proprietary is None:
                raise MessageError("MX_MISSING_ELEMENT", "Cd or Prtry is required",
                                   where=rsn_where + "/Cd")
            if reason is not None and proprietary is not None:
                raise MessageError("MX_BAD_VALUE", "Cd and Prtry are exclusive",
                                   where=rsn_where + "/Prtry")
        # AddtlInf repeats when the text is longer than 105 characters: rejoin the pieces.
        pieces = [
            _xml.own_text(piece, _xml.max105, f"{info_where}/AddtlInf[{index}]")
            for index, piece in enumerate(repeated(info, t.AddtlInf), start=1)
        ]
        return {"reason": reason, "reason_proprietary": proprietary,
                "additional_info": "".join(pieces) if pieces else None, "originator": originator}
