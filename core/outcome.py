"""What one operator command did, in the one sentence the toast, the Log and the journal all show.

A key press used to be toasted "approve sent" whatever the engine made of it; the truth
("nothing to approve", "already at target") was only on the Log page. Each command of
``core.operator`` now ends in an ``Outcome``: the operator writes its text as the Log line and
as the journal's ``states`` row (kind ``operator``, value the command), the engine hands it
back to the cockpit, and the cockpit toasts that very text.
"""

from __future__ import annotations

from core.events import Command, PlaceOrder
from core.values import value_type

OPERATOR_ROW = "operator"  # the journal's ``states.kind`` of an operator command's outcome


@value_type
class Outcome:
    command: str  # approve | skip | force | pause | resume | mode | kill | rearm | cancel
    text: str  # one line: "approved #7: sell 0.005 BTC, limit ≥ 59,940.00 → order rbx1-1"
    acted: bool  # something was sent or changed; False: refused, or nothing to do
    level: str = "info"  # the Log's level: info | trade | warning | error
    commands: tuple[Command, ...] = ()  # the venue calls it causes (the engine sends them)

    @property
    def order_ids(self) -> tuple[str, ...]:
        """The client ids of the orders it places."""
        return tuple(c.request.client_id for c in self.commands if type(c) is PlaceOrder)
