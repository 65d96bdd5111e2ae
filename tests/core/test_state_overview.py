"""The overview row of one symbol is read off its snapshot (several symbols in one cockpit)."""

from core.model import Mode, Side, TradingState
from core.state import CockpitState, CostView, LogLine, OrderView, SymbolRow


def test_a_row_carries_the_working_order_the_last_trade_line_and_the_cost():
    state = CockpitState(symbol="ETHUSDT", base_coin="ETH", price=3000.5, net_base=0.4, gap_base=0.4,
                         effective_soft=0.2, effective_hard=0.6, mode=Mode.SEMI, trading_state=TradingState.ACTIVE,
                         orders=(OrderView("rb-1", Side.SELL, "PostOnly", "3001.0", "0.20", "0", "Filled", 3.0),
                                 OrderView("rb-2", Side.SELL, "PostOnly", "3000.9", "0.10", "0", "New", 1.0)),
                         log=(LogLine(1, "trade", "rebalance #1: sell 0.30"), LogLine(2, "info", "cooldown")),
                         cost=CostView(fills=2, cost_bps=9.5))
    row = SymbolRow.of(state, selected=True)
    assert (row.symbol, row.base_coin, row.working_order) == ("ETHUSDT", "ETH", "sell 0.10 @ 3000.9")
    assert row.last_action == "rebalance #1: sell 0.30"
    assert (row.cost_bps, row.fills, row.selected, row.proposal_id) == (9.5, 2, True, None)


def test_a_quiet_symbol_has_no_order_and_no_action():
    row = SymbolRow.of(CockpitState())
    assert (row.working_order, row.last_action, row.cost_bps) == ("", "", None)
