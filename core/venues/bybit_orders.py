"""How the Bybit venue places, amends and cancels our orders, and what a refusal means.

A mixin of ``BybitVenue`` (one idea per file): it uses the venue's ``rest``, trading switch,
order memory and held pushes, and is never used alone. Order safety (who may trade, a place
sent once, unknown outcomes resolved by client id) is described in ``core.venues.bybit``.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from core.events import OrderUpdate
from core.model import Leg, Order, OrderRequest, OrderStatus, TimeInForce
from core.venues import bybit_codes as codes
from core.venues import bybit_parse as P
from core.venues.base import AuthError, OrderRejected, OrderStateUnknown, TradingDisabled, VenueError
from core.venues.bybit_rest import ApiError, TransportError

log = logging.getLogger("rebalancer.bybit")

REJECT_REASONS = {  # what an order refusal means, in the words the cockpit shows
    codes.INSUFFICIENT_BALANCE: "insufficient balance",
    codes.INSUFFICIENT_BALANCE_SPOT: "insufficient balance",
    codes.VALUE_TOO_SMALL: "order value below the minimum (minOrderAmt)",
    codes.QTY_TOO_SMALL: "order quantity below the minimum (minOrderQty)",
    codes.QTY_OFF_STEP: "order quantity has too many decimals (basePrecision)",
    codes.PRICE_OFF_TICK: "order price has too many decimals (tickSize)",
    codes.PRICE_TOO_HIGH: "order price too high",
    codes.PRICE_TOO_LOW: "order price below the minimum",
    codes.QTY_TOO_LARGE: "order amount too large",
    codes.DUPLICATE_CLIENT_ID: "duplicate client order id",
    codes.DUPLICATE_ORDER_LINK_ID: "duplicate client order id",
    codes.BUY_PRICE_ABOVE_BAND: "buy price above the allowed band",
    codes.SELL_PRICE_BELOW_BAND: "sell price below the allowed band",
    codes.LIMIT_MAKER_ONLY: "only LIMIT-MAKER orders allowed for this pair",
    codes.LIMIT_MAKER_REJECTED: "LIMIT-MAKER order rejected at this price",
    codes.TOO_MANY_OPEN_ORDERS: "too many open orders (500)",
    codes.INVALID_SYMBOL: "invalid symbol",
    codes.PARAM_ERROR: "request parameter error",
}


class BybitOrders:
    # ------------------------------------------------------------------ orders

    def _write_error(self, e: VenueError, what: str, client_id: str) -> VenueError:
        """Turn a failed order call into the protocol's exception."""
        if isinstance(e, AuthError):
            if e.code == codes.PERMISSION_DENIED:
                self._mark_read_only(f"{codes.PERMISSION_DENIED} on an order call")
                return TradingDisabled(f"{what} {client_id}: the API key has no trade permission "
                                       f"({codes.PERMISSION_DENIED})", code=codes.PERMISSION_DENIED)
            return e
        if isinstance(e, ApiError):
            code = e.code or 0
            if code in codes.ORDER_GONE:
                return OrderRejected(f"{what} {client_id}: order not found or already closed ({e})", code=code)
            reason = REJECT_REASONS.get(code, "refused by Bybit")
            return OrderRejected(f"{what} {client_id}: {reason} ({e})", code=code)
        return e

    async def place_order(self, request: OrderRequest) -> Order:
        """POST /v5/order/create once: Limit, PostOnly/IOC/GTC, exact decimal strings."""
        self._check_trade()
        cid = request.client_id
        if request.symbol.upper() != self.symbol or request.leg is not Leg.SPOT:
            raise OrderRejected(f"place {cid}: this venue trades {self.symbol} spot only")
        params = dict(category="spot", symbol=self.symbol, side=request.side.value, orderType="Limit",
                      qty=P.fmt_decimal(request.qty), price=P.fmt_decimal(request.price),
                      timeInForce=request.tif.value, orderLinkId=cid)
        self._hold += 1
        try:
            try:
                result = await self._send_create(params, cid)
            except VenueError as e:
                if e.code != codes.TIMESTAMP_OUT_OF_WINDOW:
                    raise
                found, result = await self._after_clock_refusal(e, params, cid)
                if found is not None:
                    return found
            now = self._now_ms()
            order = Order(client_id=cid, order_id=str(result.get("orderId") or ""), symbol=self.symbol,
                          side=request.side, qty=request.qty, price=request.price, tif=request.tif,
                          status=OrderStatus.NEW, created_ms=now, updated_ms=now, leg=Leg.SPOT)
            from_ack = True
            if request.tif is TimeInForce.POST_ONLY and self.settings.confirm_post_only:
                # a crossing PostOnly is accepted (retCode 0) and then rejected by the matcher:
                # report that at once when the venue already knows it
                seen = await self._peek(cid)
                if seen is not None and seen.filled_qty == 0 and seen.order_id == order.order_id:
                    order, from_ack = seen, False
            self._known.remember(order, provisional=from_ack)
            return order
        finally:
            self._release_hold()

    async def _send_create(self, params: dict, cid: str) -> dict:
        try:
            return await self.rest.call("place_order", write=True, **params)
        except TransportError as e:
            raise OrderStateUnknown(f"place {cid}: {e}", retryable=True) from None
        except VenueError as e:
            raise self._write_error(e, "place", cid) from None

    async def _after_clock_refusal(self, e: VenueError, params: dict, cid: str) -> tuple[Order | None, dict]:
        """A create refused with 10002 (timestamp outside recv_window): the REST layer has
        already re-synced the clock. If the clock is now within bounds, look the order up by
        client id first (a 10002 means "not executed", but a lookup costs one read and makes a
        double order impossible), then send it once more; a second refusal is final.

        Returns ``(order found by the lookup, None)`` or ``(None, the retried create's result)``.
        """
        if self._clock_refused:
            raise TradingDisabled(f"place {cid}: {self._clock_text()}", code=codes.TIMESTAMP_OUT_OF_WINDOW) from None
        try:
            seen = await self._fetch_order(cid)
        except VenueError:
            raise e from None  # unknown: never resend blind (the engine looks it up itself)
        if seen is not None:
            log.warning("place %s: refused with 10002, yet Bybit has it (%s): not resent", cid, seen.status.value)
            self._known.remember(seen)
            return seen, {}
        self._check_trade()
        log.warning("place %s: refused with 10002; clock re-synced (offset %+d ms), not on Bybit: sending once more",
                    cid, self.clock_offset_ms)
        return None, await self._send_create(params, cid)

    async def _peek(self, client_id: str) -> Order | None:
        try:
            result = await self.rest.call("get_open_orders", retries=0, category="spot", symbol=self.symbol,
                                          orderLinkId=client_id)
        except VenueError:
            return None
        for item in result.get("list") or ():
            if item.get("orderLinkId") == client_id:
                try:
                    return P.order(item)
                except (P.BadMessage, KeyError, ValueError):
                    return None
        return None

    async def _cancel(self, client_id: str) -> bool:
        """True when cancelled now; False when the venue no longer had it open."""
        try:
            await self.rest.call("cancel_order", write=True, category="spot", symbol=self.symbol,
                                 orderLinkId=client_id)
        except VenueError as e:
            err = self._write_error(e, "cancel", client_id)
            if isinstance(err, OrderRejected) and err.code in codes.ORDER_GONE:
                await self._refresh_order(client_id)
                return False
            raise err from None
        return True

    async def _refresh_order(self, client_id: str) -> None:
        """An order we thought open is gone: deliver its final state unless already delivered."""
        known = self._known.get(client_id)
        if known is None or not known.status.is_open:
            return
        try:
            o = await self._fetch_order(client_id)
        except VenueError as e:
            log.warning("could not read the final state of %s: %s", client_id, e)
            return
        if o is not None and self._known.is_newer(o):
            self._deliver([OrderUpdate(o.updated_ms or self._now_ms(), o)])

    async def cancel_order(self, client_id: str) -> None:
        """Cancel by client id. An unknown or already closed order returns quietly (its final
        state comes from the stream, or is read here when the adapter still thought it open)."""
        self._check_trade()
        await self._cancel(client_id)

    async def amend_order(self, client_id: str, price: Decimal, qty: Decimal | None = None) -> None:
        self._check_trade()
        params = dict(category="spot", symbol=self.symbol, orderLinkId=client_id, price=P.fmt_decimal(price))
        if qty is not None:
            params["qty"] = P.fmt_decimal(qty)
        try:
            await self.rest.call("amend_order", write=True, **params)
        except VenueError as e:
            raise self._write_error(e, "amend", client_id) from None

    async def cancel_all_ours(self) -> int:
        """Cancel each of our open orders by client id (never anything without our prefix)."""
        self._check_trade()
        cancelled, failures = 0, []
        for o in await self.open_orders():
            try:
                if await self._cancel(o.client_id):
                    cancelled += 1
            except TradingDisabled:
                raise
            except VenueError as e:
                failures.append(f"{o.client_id}: {e}")
        if failures:
            raise VenueError(f"cancelled {cancelled}; failed: {'; '.join(failures)}", retryable=True)
        return cancelled
