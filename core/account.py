"""The account book: what the account holds, and the one home of the sign convention.

Sign convention (DESIGN.md): futures long is ``+size``, short is ``-size``;
``net = spot (minus the reserve kept outside the hedge) + signed futures``;
``gap = net - target``; a positive gap is a long drift, closed by SELLING spot, a negative
one by BUYING. Every module that needs a net, a gap, a side or an equity asks here.

The numbers are floats for analytics and decisions; the venue holds the exact truth and
its balance and position pushes overwrite the running estimates.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from core.model import Balance, Position, Side

QUOTE_COINS = ("USDT", "USDC")


def side_to_close(gap_base: float) -> Side | None:
    """The only side that shrinks |gap|: SELL for a long drift, BUY for a short one, None on target."""
    if gap_base > 0:
        return Side.SELL
    if gap_base < 0:
        return Side.BUY
    return None


def gap_after(gap_base: float, side: Side, qty_base: float) -> float:
    """A gap (or a net position) once ``qty_base`` is traded on ``side`` (a buy adds base)."""
    return gap_base + side.sign * qty_base


def grows_gap(gap_base: float, side: Side, qty_base: float) -> bool:
    """True when trading would leave |gap| larger than now: such an order is never sent."""
    return abs(gap_after(gap_base, side, qty_base)) > abs(gap_base) + 1e-12


def closing_room(gap_base: float, side: Side) -> float:
    """How much trading ``side`` may still shrink |gap| without passing the target (<= 0: none)."""
    return -gap_base if side is Side.BUY else gap_base


def spot_exposure(wallet_base_total: float, reserve_base: float = 0.0) -> float:
    """Spot base that is part of the hedge: the wallet (free + locked) minus the reserve."""
    return wallet_base_total - reserve_base


def finite(*values: Decimal | None) -> bool:
    for v in values:  # a loop, not all(genexpr): every fill and push passes here (replay: ~70 k calls)
        if v is None or not v.is_finite():
            return False
    return True


class AccountBook:
    """Positions (spot wallet, quote wallet, futures, mark, liquidation, funding, uPnL, the
    reserve), and net / gap / target / equity from them. ``target_base(price)`` is the
    policy's: a fixed target (``fixed_target``) needs no price."""

    __slots__ = ("reserve", "fixed_target", "_target_at", "spot_total", "spot_free", "spot_locked", "quote_free",
                 "quote_locked", "futures_size", "futures_entry", "mark_price", "liq_price", "funding_rate",
                 "next_funding_ms", "upnl", "balances_ok", "position_ok", "own_spot_locked", "own_quote_locked")

    def __init__(self, *, reserve_base: float = 0.0, fixed_target: float | None = 0.0,
                 target_at: Callable[[float | None], float] | None = None) -> None:
        if fixed_target is None and target_at is None:
            raise ValueError("a target that moves with price needs target_at(price)")
        self.reserve = reserve_base
        self.fixed_target = fixed_target
        self._target_at = target_at
        self.spot_total = 0.0
        self.spot_free = 0.0
        self.spot_locked = 0.0
        self.quote_free = 0.0
        self.quote_locked = 0.0
        self.futures_size = 0.0
        self.futures_entry = 0.0
        self.mark_price: float | None = None
        self.liq_price: float | None = None
        self.funding_rate: float | None = None
        self.next_funding_ms: int | None = None
        self.upnl = 0.0
        self.balances_ok = False  # the venue confirmed the balances at least once
        self.position_ok = False  # and the futures position (equity is whole only with both)
        # what our own working orders locked when the wallet was last pushed (see wallet_room)
        self.own_spot_locked = 0.0
        self.own_quote_locked = 0.0

    # -- net, gap, target, equity

    @property
    def spot_base(self) -> float:
        """The spot wallet's part in the hedge (the reserve removed)."""
        return self.spot_total - self.reserve

    @property
    def net_base(self) -> float:
        return self.spot_total - self.reserve + self.futures_size

    def target_base(self, price: float | None) -> float:
        t = self.fixed_target
        return t if t is not None else self._target_at(price)

    def gap_base(self, price: float | None) -> float:
        t = self.fixed_target
        return self.spot_total - self.reserve + self.futures_size - (t if t is not None else self._target_at(price))

    def net_after(self, side: Side, qty_base: float) -> float:
        return gap_after(self.net_base, side, qty_base)

    def wallet_room(self, side: Side, price: float) -> float:
        """The largest new order on ``side`` the wallet allows at ``price``: a sell never into
        the reserve (kept outside the hedge) nor past the coins free of other programs' orders,
        a buy never past the quote free of them at its limit price. What our own orders had
        locked at the last push counts as free: the order a chase just cancelled stays locked
        until the wallet's next push, and must not clip its own replacement. Unbounded until
        the venue has confirmed the balances (no order goes out before that anyway)."""
        if not self.balances_ok:
            return float("inf")
        if side is Side.SELL:
            free = self.spot_free + self.own_spot_locked
            outside = self.spot_total - self.reserve
            room = free if free < outside else outside
        else:
            room = (self.quote_free + self.own_quote_locked) / price if price > 0 else 0.0
        return room if room > 0 else 0.0

    def equity_quote(self, price: float | None) -> float:
        return self.spot_total * (price or 0.0) + self.quote_free + self.quote_locked + self.upnl

    def equity_range(self, low_price: float, high_price: float) -> tuple[float, float]:
        """The lowest and highest equity at prices in ``[low_price, high_price]`` (the account
        held still): equity is linear in price, so its ends bound every sample of a run."""
        a = self.spot_total * low_price + self.quote_free + self.quote_locked + self.upnl
        b = self.spot_total * high_price + self.quote_free + self.quote_locked + self.upnl
        return (a, b) if a <= b else (b, a)

    # -- what the venue says

    def apply_balances(self, balances: tuple[Balance, ...], base: str, quote: str, *,
                       own_locked: tuple[float, float] = (0.0, 0.0)) -> None:
        """The wallet as pushed (coins we do not trade are left aside); ``own_locked``: the
        (base, quote) our working orders hold locked as it comes."""
        self.own_spot_locked, self.own_quote_locked = own_locked
        for b in balances:
            if b.coin == base:
                self.spot_free, self.spot_locked = float(b.free), float(b.locked)
                self.spot_total = self.spot_free + self.spot_locked
            elif b.coin == quote:
                self.quote_free, self.quote_locked = float(b.free), float(b.locked)
        self.balances_ok = True

    def apply_position(self, p: Position, price: float | None) -> None:
        self.position_ok = True
        self.futures_size = float(p.size)
        self.futures_entry = float(p.entry_price)
        if p.mark_price:
            self.mark_price = float(p.mark_price)
        self.liq_price = float(p.liq_price) if p.liq_price else None
        self.recompute_upnl(price, float(p.unrealised_pnl) if p.unrealised_pnl else None)

    def apply_ticker(self, mark_price: float | None, funding_rate: float | None, next_funding_ms: int | None,
                     price: float | None) -> None:
        self.mark_price = mark_price
        self.funding_rate = funding_rate
        self.next_funding_ms = next_funding_ms or None
        self.recompute_upnl(price)

    def recompute_upnl(self, price: float | None, given: float | None = None) -> None:
        """The venue's figure when it gave one, else size × (mark − entry), at the last price
        when no mark is known."""
        if given is not None:
            self.upnl = given
            return
        mark = self.mark_price or price
        if mark and self.futures_entry:
            self.upnl = self.futures_size * (mark - self.futures_entry)

    # -- running estimates between pushes

    def spot_traded(self, side: Side, qty: float) -> None:
        self.spot_total += qty if side is Side.BUY else -qty

    def futures_traded(self, side: Side, qty: float) -> None:
        self.futures_size += qty if side is Side.BUY else -qty

    def fee_paid(self, fee_coin: str, fee: float, base: str) -> None:
        """A fee in the base coin leaves the spot wallet (one in quote or a third coin does not)."""
        if fee_coin and fee_coin not in QUOTE_COINS and fee_coin == base:
            self.spot_total -= fee
