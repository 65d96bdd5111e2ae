"""The trader's commands as the venue calls they cause (``list[Command]``).

The engine asks the ``Operator`` directly and toasts its ``Outcome``; replay, the soak, the
fuzz and tests drive the rebalancer with these. ``kill`` here is a halt with a reason of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.events import Command
from core.model import Mode
from core.state import Proposal

if TYPE_CHECKING:
    from core.operator import Operator


class TraderCommands:
    """Mixed into ``Rebalancer``: each command's venue calls, from its operator."""

    operator: Operator

    def approve(self, shown: int | None = None) -> list[Command]:
        return list(self.operator.approve(shown).commands)

    def skip(self, shown: int | None = None) -> list[Command]:
        return list(self.operator.skip(shown).commands)

    def preview_force(self) -> Proposal | None:
        return self.operator.preview_force()

    def force(self, confirmed: Proposal | None = None) -> list[Command]:
        return list(self.operator.force(confirmed).commands)

    def toggle_pause(self) -> list[Command]:
        return list(self.operator.toggle_pause().commands)

    def set_mode(self, mode: Mode) -> list[Command]:
        return list(self.operator.set_mode(mode).commands)

    def kill(self, reason: str = "kill switch pressed by the user") -> list[Command]:
        return self.operator.halt(reason)

    def rearm(self) -> list[Command]:
        return list(self.operator.rearm().commands)

    def cancel_pending(self) -> list[Command]:
        return list(self.operator.cancel_pending().commands)
