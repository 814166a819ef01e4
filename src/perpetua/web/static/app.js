// Perpetua dashboard: public data from the v3 API (REST + /v3/ws WebSocket), the demo account from
// the main job's routes (/mainjob/...). No framework, no network beyond this server.
"use strict";

const MARKET = "BTC-USD";
const $ = (id) => document.getElementById(id);
const S = {
  side: "BUY", bids: new Map(), asks: new Map(), trades: [], state: null, ws: null,
  myOrderPrices: new Set(), sizeTouched: false,
};

const num = (x) => (x === null || x === undefined || x === "" ? NaN : Number(x));
const fmt = (x, d = 2) => (Number.isFinite(num(x)) ? num(x).toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }) : "–");
const usd = (x) => (Number.isFinite(num(x)) ? "$" + fmt(x, 2) : "–");
const pct = (x, d = 2) => (Number.isFinite(num(x)) ? (num(x) * 100).toFixed(d) + "%" : "–");
const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "–");
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));

async function api(path, opts = {}) {
  const r = await fetch(path, { headers: { "Content-Type": "application/json" }, ...opts });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    const e = (body.errors && body.errors[0]) || {};
    throw new Error(e.msg || e.code || r.statusText);
  }
  return body;
}

// -- order book and trades (WebSocket) --------------------------------------------------------------

function renderBook() {
  const depth = 12;
  const asks = [...S.asks.entries()].sort((a, b) => a[0] - b[0]).slice(0, depth);
  const bids = [...S.bids.entries()].sort((a, b) => b[0] - a[0]).slice(0, depth);
  const rows = (levels, cls) => {
    let total = 0;
    const out = levels.map(([p, s]) => {
      total += s;
      const mine = S.myOrderPrices.has(p.toFixed(6)) ? " mine" : "";
      return `<tr class="${cls}${mine}" data-price="${p}"><td>${fmt(p)}</td><td>${fmt(s, 4)}</td><td>${fmt(total, 4)}</td></tr>`;
    });
    return out;
  };
  $("book-asks").innerHTML = rows(asks, "ask").reverse().join("");
  $("book-bids").innerHTML = rows(bids, "bid").join("");
  const spread = asks.length && bids.length ? asks[0][0] - bids[0][0] : NaN;
  $("book-spread").textContent = Number.isFinite(spread) ? `spread ${fmt(spread)}` : "–";
}

function applyLevels(map, levels) {
  for (const lv of levels) {
    const [p, s] = Array.isArray(lv) ? lv : [lv.price, lv.size];
    if (num(s) === 0) map.delete(num(p)); else map.set(num(p), num(s));
  }
}

function renderTrades() {
  $("trades").innerHTML = S.trades.slice(0, 16).map((t) =>
    `<tr class="${t.side === "BUY" ? "buy" : "sell"}"><td>${fmt(t.price)}</td><td>${fmt(t.size, 4)}</td><td>${time(t.createdAt)}</td></tr>`).join("");
}

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v3/ws`);
  S.ws = ws;
  let bookTimer = null;
  const scheduleBook = () => { if (!bookTimer) bookTimer = setTimeout(() => { bookTimer = null; renderBook(); }, 100); };
  ws.onopen = () => {
    $("ws-status").textContent = "live"; $("ws-status").className = "conn ok";
    for (const channel of ["v3_orderbook", "v3_trades"]) ws.send(JSON.stringify({ type: "subscribe", channel, id: MARKET }));
    ws.send(JSON.stringify({ type: "subscribe", channel: "v3_markets" }));
  };
  ws.onmessage = (msg) => {
    const m = JSON.parse(msg.data);
    if (m.channel === "v3_orderbook") {
      if (m.type === "subscribed") { S.bids.clear(); S.asks.clear(); }
      applyLevels(S.bids, m.contents.bids || []);
      applyLevels(S.asks, m.contents.asks || []);
      scheduleBook();
    } else if (m.channel === "v3_trades") {
      const trades = m.contents.trades || [];
      S.trades = m.type === "subscribed" ? trades : trades.slice().reverse().concat(S.trades).slice(0, 100);
      renderTrades();
    } else if (m.channel === "v3_markets" && m.type === "channel_data") {
      const mk = m.contents[MARKET];
      if (mk && mk.oraclePrice) $("oracle-price").textContent = usd(mk.oraclePrice);
    }
  };
  ws.onclose = () => {
    $("ws-status").textContent = "reconnecting…"; $("ws-status").className = "conn";
    setTimeout(connect, 1000);
  };
}

// -- chart ----------------------------------------------------------------------------------------

async function refreshChart() {
  let chart;
  try { chart = await api(`/mainjob/chart?market=${MARKET}`); } catch (e) { return; }
  const c = chart.candles, P = chart.prices;
  const nums = (xs) => xs.map(num);
  const data = [
    { type: "candlestick", name: "trades", x: c.map((k) => k.t), open: nums(c.map((k) => k.open)),
      high: nums(c.map((k) => k.high)), low: nums(c.map((k) => k.low)), close: nums(c.map((k) => k.close)),
      increasing: { line: { color: "#26a269" } }, decreasing: { line: { color: "#e0455a" } } },
    { type: "scatter", mode: "lines", name: "mark", x: P.t, y: nums(P.mark), line: { color: "#5b8def", width: 1.5 } },
    { type: "scatter", mode: "lines", name: "index", x: P.t, y: nums(P.index), line: { color: "#e8a33d", width: 1, dash: "dot" } },
    { type: "scatter", mode: "lines", name: "oracle", x: P.t, y: nums(P.oracle), line: { color: "#c678dd", width: 1 } },
  ];
  const layout = {
    paper_bgcolor: "#171e2d", plot_bgcolor: "#171e2d", font: { color: "#dfe6f3", size: 11 },
    margin: { l: 10, r: 64, t: 24, b: 30 }, showlegend: true, legend: { orientation: "h", x: 0, y: 1.1 },
    xaxis: { rangeslider: { visible: false }, gridcolor: "#263047", type: "date" },
    yaxis: { gridcolor: "#263047", side: "right", tickformat: ",.0f" }, uirevision: "keep",
  };
  if (window.Plotly) Plotly.react("chart", data, layout, { displayModeBar: false, responsive: true });
}

// -- market and account state (main job routes) ---------------------------------------------------

function marginClass(ratio) {
  if (!Number.isFinite(ratio)) return "safe";
  if (ratio >= 0.8) return "danger";
  if (ratio >= 0.5) return "caution";
  return "safe";
}

function renderState(st) {
  S.state = st;
  const mk = st.market;
  $("mark-price").textContent = usd(mk.markPrice);
  $("index-price").textContent = usd(mk.indexPrice);
  $("oracle-price").textContent = usd(mk.oraclePrice);
  $("oracle-age").textContent = mk.oracleAgeS === null ? "no price" : `${mk.oracleAgeS.toFixed(0)} s old`;
  $("funding-rate").textContent = pct(mk.fundingRate, 5);
  $("open-interest").textContent = `${fmt(mk.openInterest, 4)} BTC`;
  $("insurance-fund").textContent = usd(mk.insuranceFund);
  const r = st.replay;
  $("replay").textContent = r.finished ? "replay finished" :
    `${r.simulatedTime ? new Date(r.simulatedTime).toISOString().slice(0, 16).replace("T", " ") : "–"} · ${r.speed > 0 ? r.speed + "x" : "max"}`;
  S.nextFundingMs = mk.nextFundingMs; S.clockSkew = st.serverTimeMs - Date.now();
  tickCountdown();

  const warnings = [];
  if (mk.stale) warnings.push(`<div class="warning stale" id="stale-warning">Oracle price is stale (${mk.oracleAgeS === null ? "none yet" : mk.oracleAgeS.toFixed(0) + " s old"}, limit ${mk.oracleMaxAgeS} s): the market is in degraded mode — no new risk is accepted.</div>`);
  const a = st.account;
  if (a && a.nearLiquidation) warnings.push(`<div class="warning liq" id="liquidation-warning">Your account is ${a.liquidatable ? "LIQUIDATABLE" : "near liquidation"}: margin ratio ${pct(a.marginRatio, 1)} (liquidation at 100%). Reduce the position or add collateral.</div>`);
  $("warnings").innerHTML = warnings.join("");
  if (!a) return;

  $("demo-position").textContent = `#${a.positionId}`;
  $("account-id").textContent = `position ${a.positionId} · ${a.ethereumAddress.slice(0, 10)}…`;
  const ratio = num(a.marginRatio);
  $("margin-ratio").textContent = a.marginRatio === null ? (a.positions.length ? "∞" : "0.00%") : pct(ratio);
  $("margin-ratio-box").className = "margin-ratio " + marginClass(ratio);
  $("equity").textContent = usd(a.equity);
  $("free-collateral").textContent = usd(a.freeCollateral);
  $("collateral").textContent = usd(a.collateral);
  $("account-leverage").textContent = a.leverage === null ? "–" : fmt(a.leverage, 2) + "x";
  $("positions").innerHTML = a.positions.length ? a.positions.map((p) => {
    const pnl = num(p.unrealizedPnl);
    return `<tr><td>${esc(p.market)} <span class="${p.side === "LONG" ? "pos" : "neg"}">${p.side}</span></td><td>${fmt(p.size, 4)}</td>` +
      `<td>${usd(p.entryPrice)}</td><td>${usd(p.markPrice)}</td><td class="${pnl >= 0 ? "pos" : "neg"}">${usd(p.unrealizedPnl)}</td>` +
      `<td class="liq-price">${usd(p.liquidationPrice)}</td></tr>`;
  }).join("") : `<tr><td colspan="6" class="empty">no open position</td></tr>`;
  S.myOrderPrices = new Set(a.orders.filter((o) => o.status === "OPEN").map((o) => num(o.price).toFixed(6)));
  $("open-orders").innerHTML = a.orders.length ? a.orders.map((o) =>
    `<tr data-order-id="${esc(o.id)}"><td class="${o.side === "BUY" ? "pos" : "neg"}">${o.side}</td><td>${esc(o.type)}${o.status === "UNTRIGGERED" ? " (untriggered)" : ""}</td>` +
    `<td>${usd(o.price)}</td><td>${o.triggerPrice ? usd(o.triggerPrice) : o.trailingPercent ? esc(o.trailingPercent) + "%" : "–"}</td><td>${fmt(o.remainingSize, 4)}</td>` +
    `<td><button class="cancel" data-cancel="${esc(o.id)}">Cancel</button></td></tr>`).join("")
    : `<tr><td colspan="6" class="empty">no open order</td></tr>`;
  $("funding-payments").innerHTML = a.fundingPayments.length ? a.fundingPayments.map((f) =>
    `<tr><td>${time(f.effectiveAt)}</td><td class="${num(f.payment) >= 0 ? "pos" : "neg"}">${usd(f.payment)}</td><td>${pct(f.rate, 5)}</td><td>${fmt(f.positionSize, 4)}</td></tr>`).join("")
    : `<tr><td colspan="4" class="empty">none yet</td></tr>`;
  $("funding-rates").innerHTML = st.fundingRates.length ? st.fundingRates.map((f) =>
    `<tr><td>${time(f.effectiveAt)}</td><td>${pct(f.rate, 5)}</td><td>${usd(f.price)}</td></tr>`).join("")
    : `<tr><td colspan="3" class="empty">no funding tick yet</td></tr>`;
  if (st.liquidations.length) {
    $("liquidations").innerHTML = st.liquidations.map((l) => {
      const details = Object.entries(l).filter(([k]) => !["event", "time", "time_ns"].includes(k)).map(([k, v]) => `${k}=${v}`).join(" ");
      return `<tr><td>${time(l.time)}</td><td>${esc(l.event)}</td><td>${esc(details)}</td></tr>`;
    }).join("");
  }
  updateSizing(false);
}

function tickCountdown() {
  if (!S.nextFundingMs) { $("funding-countdown").textContent = "–"; return; }
  const left = Math.max(0, (S.nextFundingMs - (Date.now() + (S.clockSkew || 0))) / 1000);
  const m = Math.floor(left / 60), s = Math.floor(left % 60);
  $("funding-countdown").textContent = `${m}:${String(s).padStart(2, "0")}`;
}

async function refreshState() {
  try { renderState(await api(`/mainjob/state?market=${MARKET}`)); } catch (e) { /* server restarting */ }
}

// -- order entry ----------------------------------------------------------------------------------

const NEEDS = {
  LIMIT: ["price"], MARKET: [], STOP_LIMIT: ["price", "trigger"], STOP_MARKET: ["trigger"],
  TAKE_PROFIT: ["price", "trigger"], TAKE_PROFIT_MARKET: ["trigger"], TRAILING_STOP: ["trailing"],
};

function showFields() {
  const need = NEEDS[$("order-type").value];
  for (const f of ["price", "trigger", "trailing"]) document.querySelector(`.f-${f}`).style.display = need.includes(f) ? "" : "none";
}

function referencePrice() {
  const type = $("order-type").value;
  if (NEEDS[type].includes("price") && num($("order-price").value) > 0) return num($("order-price").value);
  if (NEEDS[type].includes("trigger") && num($("order-trigger").value) > 0) return num($("order-trigger").value);
  return S.state ? num(S.state.market.markPrice) || num(S.state.market.oraclePrice) : NaN;
}

function stepDecimals(step) { const s = String(step); return s.includes(".") ? s.split(".")[1].length : 0; }

// Leverage slider: size = free collateral x leverage / price, down to the market's step.
function updateSizing(fromSlider) {
  const lev = num($("leverage").value);
  $("leverage-value").textContent = lev.toFixed(1) + "x";
  if (!fromSlider && S.sizeTouched) { schedulePreview(); return; }
  const st = S.state;
  if (!st || !st.account) return;
  const price = referencePrice(), free = Math.max(0, num(st.account.freeCollateral)), step = num(st.market.stepSize);
  if (!(price > 0) || !(step > 0)) return;
  const size = Math.floor((free * lev) / price / step) * step;
  $("order-size").value = size > 0 ? size.toFixed(stepDecimals(st.market.stepSize)) : "";
  if (fromSlider) S.sizeTouched = false;
  schedulePreview();
}

let previewTimer = null;
function schedulePreview() { clearTimeout(previewTimer); previewTimer = setTimeout(preview, 150); }

async function preview() {
  const size = $("order-size").value.trim();
  if (!(num(size) > 0)) { $("order-preview").textContent = "After this order your liquidation price will be –"; return; }
  const type = $("order-type").value;
  const body = { market: MARKET, side: S.side, size };
  const price = NEEDS[type].includes("price") ? $("order-price").value.trim() : NEEDS[type].includes("trigger") ? $("order-trigger").value.trim() : "";
  if (price) body.price = price;
  try {
    const p = await api("/mainjob/demo/preview", { method: "POST", body: JSON.stringify(body) });
    const liq = p.liquidationPriceAfter === null ? "none (no price liquidates it)" : usd(p.liquidationPriceAfter);
    $("order-preview").innerHTML = `After this order your liquidation price will be <b id="preview-liq">${liq}</b>` +
      ` · margin ratio ${pct(p.marginRatioAfter)} · position ${fmt(p.positionAfter, 4)} BTC` +
      (p.meetsInitialMargin ? "" : ` · <span class="neg">exceeds your free collateral</span>`);
    $("order-preview").dataset.size = size;
  } catch (e) {
    $("order-preview").textContent = "After this order: " + e.message;
  }
}

function setSide(side) {
  S.side = side;
  $("side-buy").classList.toggle("active", side === "BUY");
  $("side-sell").classList.toggle("active", side === "SELL");
  $("place-order").className = "place " + (side === "BUY" ? "buy" : "sell");
  $("place-order").textContent = (side === "BUY" ? "Buy / Long " : "Sell / Short ") + MARKET;
  schedulePreview();
}

async function placeOrder(ev) {
  ev.preventDefault();
  const type = $("order-type").value, need = NEEDS[type];
  const body = { market: MARKET, side: S.side, type, size: $("order-size").value.trim(),
    postOnly: $("order-post-only").checked, reduceOnly: $("order-reduce-only").checked };
  if (need.includes("price")) body.price = $("order-price").value.trim();
  if (need.includes("trigger")) body.triggerPrice = $("order-trigger").value.trim();
  if (need.includes("trailing")) body.trailingPercent = $("order-trailing").value.trim();
  if ($("order-tif").value) body.timeInForce = $("order-tif").value;
  const msg = $("order-message");
  msg.className = "message"; msg.textContent = "signing and placing…";
  try {
    const r = await api("/mainjob/demo/orders", { method: "POST", body: JSON.stringify(body) });
    const o = r.order;
    msg.className = "message ok";
    msg.textContent = `${o.side} ${o.size} ${o.type} ${o.status === "UNTRIGGERED" ? "waiting for its trigger" : o.status.toLowerCase()} (order ${o.id})`;
  } catch (e) {
    msg.className = "message error"; msg.textContent = "Refused: " + e.message;
  }
  refreshState();
}

async function cancelOrder(id) {
  const msg = $("order-message");
  try { await api(`/mainjob/demo/orders/${id}`, { method: "DELETE" }); msg.className = "message ok"; msg.textContent = `order ${id} canceled`; }
  catch (e) { msg.className = "message error"; msg.textContent = "Cancel refused: " + e.message; }
  refreshState();
}

function init() {
  $("side-buy").onclick = () => setSide("BUY");
  $("side-sell").onclick = () => setSide("SELL");
  $("order-type").onchange = () => { showFields(); updateSizing(true); };
  $("leverage").oninput = () => updateSizing(true);
  $("order-size").oninput = () => { S.sizeTouched = true; schedulePreview(); };
  for (const id of ["order-price", "order-trigger"]) $(id).oninput = () => updateSizing(!S.sizeTouched);
  $("order-form").onsubmit = placeOrder;
  $("open-orders").onclick = (e) => { const id = e.target.dataset && e.target.dataset.cancel; if (id) cancelOrder(id); };
  $("book-asks").onclick = $("book-bids").onclick = (e) => {
    const tr = e.target.closest("tr"); if (tr && tr.dataset.price) { $("order-price").value = tr.dataset.price; updateSizing(!S.sizeTouched); }
  };
  showFields(); setSide("BUY");
  connect();
  refreshState().then(refreshChart);
  setInterval(refreshState, 1000);
  setInterval(refreshChart, 2000);
  setInterval(tickCountdown, 1000);
}

init();
