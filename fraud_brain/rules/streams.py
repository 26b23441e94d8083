"""What a rule file may say about each event type: read from the feature spec's scored streams.

A rule watches one scored stream (its ``event``). The spec's ``[streams.NAME.scoring]`` table says
which columns hold the event id and time, whom to warn (the ``victim`` columns, each a ``phone``
that can be called or an ``account`` that cannot) and whether the stream moves money (``amount``:
then a rule may ask for a stop-payment). Without a spec, the telecom vocabulary of calls and
transfers applies (victim kinds told by column names, see
:func:`~fraud_brain.rules.vocabulary.victim_kind`).

>>> from fraud_brain.features import resolve_spec
>>> facts = event_facts(resolve_spec("card"))
>>> facts["tx"].id, dict(facts["tx"].victims), facts["tx"].payment
('tx_id', {'customer_id': 'account'}, True)
>>> event_facts(resolve_spec("telecom"))["call"].payment
False
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fraud_brain.rules.vocabulary import victim_kind

if TYPE_CHECKING:
    from fraud_brain.features.spec import Spec


@dataclass(frozen=True)
class EventFacts:
    """One event type rules may watch: id and time columns, victim columns with their kinds, money."""

    id: str
    time: str
    victims: Mapping[str, str] = field(default_factory=dict)
    """Victim column → ``"phone"`` or ``"account"``, in the spec's fallback order."""
    amount: str | None = None
    """The column holding money at risk; a stream with one is a payment (stop-payments allowed)."""

    @property
    def payment(self) -> bool:
        """Whether events of this type move money, so a stop-payment has something to stop."""
        return self.amount is not None

    def kind_of(self, column: str) -> str | None:
        """The victim kind of a column: the spec's word for it, else what its name says.

        >>> EventFacts("tx_id", "time", {"customer_id": "account"}).kind_of("customer_id")
        'account'
        >>> EventFacts("tx_id", "time").kind_of("payer_phone"), EventFacts("tx_id", "time").kind_of("terminal_id")
        ('phone', None)
        """
        return self.victims.get(column) or victim_kind(column)


TELECOM_EVENTS: dict[str, EventFacts] = {
    "call": EventFacts("call_id", "start_time", {"callee": "phone"}),
    "transfer": EventFacts("transfer_id", "time", {"payer_phone": "phone", "payer_account": "account"},
                           amount="amount"),
}
"""The built-in call and transfer events, for rule files checked without a spec."""


def event_facts(spec: Spec) -> dict[str, EventFacts]:
    """The event facts of every scored stream of ``spec``, in tie-break order."""
    out: dict[str, EventFacts] = {}
    for name in spec.scored_streams():
        stream, scoring = spec.streams[name], spec.scoring(name)
        out[name] = EventFacts(stream.id, stream.time, dict(zip(scoring.victim, scoring.victim_kinds, strict=True)),
                               amount=scoring.amount)
    return out
