"""The backtest report: one self-contained HTML file (Plotly's JavaScript inlined, opens offline).

Charts, sharing the time axis: price (oracle) with the strategy's entries and exits (triangles: up for
buys, down for sells; filled for entries, open for exits), its liquidation price and its
liquidations/deleverages (crosses); equity with realised and unrealised PnL; position; funding (each
payment as a bar, the running net as a line); margin ratio. Then the summary, and every
liquidation/deleverage of the account as a table row.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from perpetua.core.quantities import COLLATERAL_RESOLUTION, PPM, format_units

if TYPE_CHECKING:
    from perpetua.sim.playback import PlaybackResult

_MONEY = {"start_equity", "end_equity", "pnl", "realised_pnl", "unrealised_pnl", "max_drawdown", "fees_paid",
          "funding_paid", "funding_received", "funding_net", "liquidation_penalties"}


def _when(ns: int | None) -> datetime:
    return datetime.fromtimestamp(int(ns or 0) / 1e9, UTC)


def backtest_report(result: PlaybackResult, title: str) -> str:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    usd = COLLATERAL_RESOLUTION
    rows = result.samples
    when = [_when(r["time_ns"]) for r in rows]

    def series(key: str, scale: float = usd) -> list[float | None]:
        return [None if r.get(key) is None else int(r[key] or 0) / scale for r in rows]

    fig = make_subplots(
        rows=5, cols=1, shared_xaxes=True, vertical_spacing=0.035, row_heights=[0.32, 0.2, 0.12, 0.16, 0.2],
        subplot_titles=("Price (USDC): entries, exits, liquidation price", "Equity and PnL (USDC)", "Position",
                        "Funding (USDC): payments and running net", "Margin ratio (%)"),
    )
    fig.add_trace(go.Scatter(x=when, y=series("oracle"), name="oracle", line={"color": "#444"}), row=1, col=1)
    # A liquidation price more than 50% from the oracle (a tiny position) would flatten the chart.
    liq_px = [None if lp is None or px is None or not 0.5 * px <= lp <= 1.5 * px else lp
              for lp, px in zip(series("liquidation_price"), series("oracle"), strict=True)]
    fig.add_trace(go.Scatter(x=when, y=liq_px, name="liquidation price (within 50%)",
                             line={"color": "#d62728", "dash": "dot"}), row=1, col=1)
    for side, kind, label, symbol, color in (
        (1, "entry", "buy (entry)", "triangle-up", "#2ca02c"), (-1, "entry", "sell (entry)", "triangle-down", "#d62728"),
        (1, "exit", "buy (exit)", "triangle-up-open", "#2ca02c"), (-1, "exit", "sell (exit)", "triangle-down-open", "#d62728"),
    ):
        pick = [t for t in result.trades if t["side"] == side and (t["kind"] == kind or (kind == "exit" and t["kind"] == "flip"))]
        if pick:
            fig.add_trace(go.Scatter(
                x=[_when(int(t["time_ns"])) for t in pick], y=[int(t["price"]) / usd for t in pick], mode="markers",
                name=label, marker={"symbol": symbol, "size": 9, "color": color},
                text=[f"{t['source']} {t['size']} @ {int(t['price']) / usd:,.2f}" for t in pick],
            ), row=1, col=1)
    liq = [r for r in result.liquidations if r["kind"] in ("liquidation_fill", "deleveraged", "deleverager")]
    if liq:
        fig.add_trace(go.Scatter(x=[_when(int(r["time_ns"])) for r in liq], y=[int(r["price"]) / usd for r in liq],
                                 mode="markers", name="liquidation / deleverage",
                                 marker={"symbol": "x", "size": 11, "color": "black"}), row=1, col=1)
    fig.add_trace(go.Scatter(x=when, y=series("equity"), name="equity"), row=2, col=1)
    fig.add_trace(go.Scatter(x=when, y=series("realised_pnl"), name="realised PnL"), row=2, col=1)
    fig.add_trace(go.Scatter(x=when, y=series("unrealised_pnl"), name="unrealised PnL"), row=2, col=1)
    fig.add_trace(go.Scatter(x=when, y=series("position", 1), name="position (quantums)"), row=3, col=1)
    fig.add_trace(go.Bar(x=[_when(t) for t in result.funding_times], y=[p.amount / usd for p in result.funding],
                         name="funding payment"), row=4, col=1)
    fig.add_trace(go.Scatter(x=when, y=series("funding"), name="funding, net to date"), row=4, col=1)
    fig.add_trace(go.Scatter(x=when, y=series("margin_ratio_ppm", PPM / 100), name="margin ratio %"), row=5, col=1)
    fig.update_layout(height=1250, title=title, legend={"orientation": "h", "y": -0.04}, margin={"t": 70})
    summary = "".join(
        f"<tr><td>{k}</td><td style='text-align:right'>"
        f"{format_units(v, usd) + ' USDC' if k in _MONEY and isinstance(v, int) else html.escape(str(v))}</td></tr>"
        for k, v in result.summary().items()
    )
    if result.liquidations:
        keys = list(result.liquidations[0])
        liq_rows = "".join(
            "<tr>" + "".join(f"<td>{_when(int(r['time_ns'])).isoformat() if k == 'time_ns' else html.escape(str(r[k]))}</td>"
                             for k in keys) + "</tr>"
            for r in result.liquidations
        )
        liquidations = (f"<h2>Liquidations and deleverages ({len(result.liquidations)})</h2><table border=1 "
                        f"cellspacing=0 cellpadding=3><tr>{''.join(f'<th>{k}</th>' for k in keys)}</tr>{liq_rows}</table>")
    else:
        liquidations = "<h2>Liquidations and deleverages</h2><p>None: the account was never liquidated.</p>"
    t = html.escape(title)
    return ("<!doctype html><html><head><meta charset='utf-8'><title>" + t + "</title></head>"
            "<body style='font-family:sans-serif;margin:16px'><h1>" + t + "</h1>"
            "<table cellpadding=2 style='font-size:13px'>" + summary + "</table>"
            + fig.to_html(full_html=False, include_plotlyjs="inline") + liquidations + "</body></html>")
