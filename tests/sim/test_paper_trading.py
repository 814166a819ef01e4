"""Paper trading: an unchanged Strategy against a real server (its own process) over REST + WebSocket."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from perpetua.core.events import FundingPaid, OrderFilled
from perpetua.core.markets import load_config
from perpetua.sim.live import LiveAccount, LiveContext, PaperTrader
from perpetua.sim.marketdata import BookDelta, BookSnapshot, Trade
from perpetua.sim.playback import Strategy, StrategyContext
from tests.api.server import Server
from tests.api.trader import Trader

BTC = load_config().markets["BTC-USD"]


def onboard(http: httpx.Client, trader: Trader) -> Trader:
    headers, body = trader.onboarding_request()
    resp = http.post("/v3/onboarding", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    trader.onboarded(resp.json())
    resp = http.post("/v3/testnet/tokens", json={}, headers=trader.headers("POST", "/v3/testnet/tokens"))
    assert resp.status_code == 201, resp.text
    return trader


class BidAndWatch(Strategy):
    """Bids 0.01 BTC 10 USD under the oracle at the start; records what it is told."""

    def __init__(self) -> None:
        self.fills: list[OrderFilled] = []
        self.trades: list[Trade] = []
        self.books: list[BookSnapshot | BookDelta] = []
        self.funding: list[FundingPaid] = []

    def on_start(self, ctx: StrategyContext) -> None:
        self.bid = ctx.oracle_price() - 10 * 10**6
        self.cid = ctx.place(1, 10**8, self.bid)

    def on_trade(self, ctx: StrategyContext, trade: Trade) -> None:
        self.trades.append(trade)

    def on_book(self, ctx: StrategyContext, event: BookSnapshot | BookDelta) -> None:
        self.books.append(event)

    def on_fill(self, ctx: StrategyContext, fill: OrderFilled) -> None:
        self.fills.append(fill)

    def on_funding(self, ctx: StrategyContext, payment: FundingPaid) -> None:
        self.funding.append(payment)


@pytest.mark.slow
def test_a_strategy_paper_trades_against_a_running_server(tmp_path: Path) -> None:
    server = Server(tmp_path / "srv").start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            me, other = onboard(http, Trader(501)), onboard(http, Trader(502))
            creds = me.credentials
            account = LiveAccount(creds["key"], creds["secret"], creds["passphrase"], me.stark_private, me.position_id)
            ctx = LiveContext(server.url, account, BTC)
            strategy = BidAndWatch()

            def hit_the_bid() -> None:  # another trader sells into the strategy's bid
                time.sleep(1.5)
                price = f"{strategy.bid // 10**6}"
                body = other.order("SELL", "0.01", price, tif="IOC")
                resp = http.post("/v3/orders", json=body, headers=other.headers("POST", "/v3/orders", body))
                assert resp.status_code == 201, resp.text

            seller = threading.Thread(target=hit_the_bid)
            seller.start()
            PaperTrader(strategy, ctx, funding_poll_s=1.0).run(4.0)
            seller.join()
        assert not ctx.rejections, ctx.rejections
        assert [(f.price, f.size, f.maker_position_id) for f in strategy.fills] == [(strategy.bid, 10**8, me.position_id)]
        assert [(t.price, t.size, t.aggressor) for t in strategy.trades] == [(strategy.bid, 10**8, -1)]
        assert isinstance(strategy.books[0], BookSnapshot) and any(isinstance(b, BookDelta) for b in strategy.books)
        assert ctx.position() == 10**8 and ctx.ledger.position == 10**8
        assert ctx.ledger.average_entry() == strategy.bid
        assert ctx.account().equity > 0 and ctx.best_bid() is None and ctx.open_order_ids() == []
    finally:
        server.kill()
