// The settlement panel: GET /mainjob/settlement (the L1 contracts' state as the main job's settlement
// thread last read it: perpetua.chain.view.settlement_view plus the loop's status). Times are L1 seconds.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  const short = (h) => (h ? esc(h.slice(0, 10) + "…" + h.slice(-6)) : "–");
  const at = (s) => (s === null || s === undefined ? "–" : new Date(s * 1000).toLocaleTimeString());
  const day = (s) => (s === null || s === undefined ? "–" : new Date(s * 1000).toLocaleString());
  const money = (x) => (x === null || x === undefined ? "–" : "$" + Number(x).toLocaleString("en-US", { maximumFractionDigits: 2 }));
  const dur = (s) => {
    if (s === null || s === undefined) return "–";
    const a = Math.abs(s), sign = s < 0 ? "-" : "";
    if (a < 120) return sign + a + " s";
    if (a < 7200) return sign + Math.round(a / 60) + " min";
    if (a < 172800) return sign + (a / 3600).toFixed(1) + " h";
    return sign + (a / 86400).toFixed(1) + " d";
  };
  const rows = (id, items, cols, row) => {
    $(id).innerHTML = items.length ? items.map(row).join("") : `<tr><td colspan="${cols}" class="empty">none</td></tr>`;
  };

  function render(v) {
    const status = $("l1-status");
    status.className = "l1-status " + v.status;
    const text = {
      off: "The L1 is off (perpetua up --no-l1).",
      starting: "Starting…", deploying: "Deploying the contracts on the in-process EVM…",
      funding: "Funding the demo traders on L1…",
      running: "Following the exchange: every batch is accepted on L1 with the rollup's root, after the fact service verified its STARK proof.",
      stopped: "Settlement stopped: " + (v.stoppedReason || "") + " (the exchange keeps trading)",
    }[v.status] || v.status;
    const p = v.prover;
    status.textContent = text + (p && p.proving ? ` Proving batch ${p.proving}…` : "")
      + (p && p.tamperProofEvery ? ` Fault injection: every ${p.tamperProofEvery}th batch's proof is corrupted.` : "");
    const refused = v.refused || [];
    rows("l1-refused", refused, 4, (r) => `<tr><td>${r.sequence}</td><td>${new Date(r.at * 1000).toLocaleTimeString()}</td>`
      + `<td>${esc(r.reason)}${r.tampered ? " <small>(injected)</small>" : ""}</td><td>${esc(r.resolution)}</td></tr>`);
    const r = v.rollup;
    $("l1-rollup").textContent = r ? `${r.txs} txs settled, ${r.pendingTxs} pending, next batch within ${Math.round(v.batchIntervalS)} s` : "–";
    const l1 = v.l1;
    if (!l1 || l1.error) { $("l1-summary").textContent = l1 && l1.error ? l1.error : ""; return; }
    $("l1-summary").textContent = `contract ${short(l1.contracts.exchange)} · verifier: ${l1.verifierNote}`;
    $("l1-frozen").innerHTML = l1.frozen ? '<span class="frozen">FROZEN</span>' : '<span class="live">not frozen</span>';
    $("l1-da").textContent = l1.da_mode;
    $("l1-seq").textContent = l1.sequence_number;
    $("l1-root").textContent = short(l1.state_root);
    $("l1-root").title = l1.state_root;
    $("l1-held").textContent = money(l1.tokenHeld);
    const proof = (b) => (b.proven ? `${(b.proof_bytes / 1024).toFixed(0)} KiB · ${b.prove_s.toFixed(1)} s · `
      + `verify ${b.verify_s.toFixed(2)} s${b.security_bits ? " · " + b.security_bits + " bits" : ""}` : "–");
    rows("l1-batches", l1.batches, 9, (b) => `<tr><td>${b.sequence_number}</td><td>${at(b.accepted_at)}</td><td>${esc(b.da_mode)}</td>`
      + `<td>${b.txs ?? "–"}</td><td>${b.payload_bytes ? (b.payload_bytes / 1024).toFixed(1) + " KiB" : "–"}</td>`
      + `<td>${b.gas ? b.gas.toLocaleString("en-US") : "–"}</td><td>${proof(b)}</td>`
      + `<td>${b.accepted ? '<span class="live">accepted</span>' : "–"}${b.refusals ? ` <span class="frozen">after ${b.refusals} refusal</span>` : ""}</td>`
      + `<td class="hash" title="${esc(b.old_root)} → ${esc(b.new_root)}">${short(b.old_root)} → ${short(b.new_root)}</td></tr>`);
    rows("l1-withdrawals", l1.withdrawals.slice(0, 12), 6, (w) => `<tr><td>#${w.position_id}</td><td>${money(w.amount)}</td>`
      + `<td>${at(w.requested_at)}</td><td>${at(w.claimable_at)}</td><td>${dur(w.delay_s)}</td>`
      + `<td>${w.claimed_at ? at(w.claimed_at) : "claimable"}</td></tr>`);
    rows("l1-deposits", l1.pending_deposits, 3, (d) => `<tr><td>#${d.position_id}</td><td class="hash">${short(d.stark_key)}</td><td>${money(d.amount)}</td></tr>`);
    rows("l1-forced", l1.forced_requests, 5, (f) => `<tr><td>${esc(f.kind)}</td><td class="hash">${short(f.request)}</td>`
      + `<td>${day(f.requested_at)}</td><td>${day(f.deadline)}</td><td>${f.freezable ? '<span class="frozen">freezable</span>' : dur(f.seconds_left)}</td></tr>`);
    rows("l1-changes", l1.pending_changes, 3, (c) => `<tr><td>${esc(c.kind)}</td><td class="hash">${short(c.value)}</td><td>${day(c.eta)} (in ${dur(c.eta - l1.now)})</td></tr>`);
  }

  const MARKUP = `
<h2>Settlement on L1 <small id="l1-summary">–</small></h2>
<div class="l1-status" id="l1-status">loading…</div>
<dl class="figures l1-figures">
  <div><dt>Exchange</dt><dd id="l1-frozen">–</dd></div>
  <div><dt>DA mode</dt><dd id="l1-da">–</dd></div>
  <div><dt>Accepted batches</dt><dd id="l1-seq">–</dd></div>
  <div><dt>State root (positions)</dt><dd class="hash" id="l1-root">–</dd></div>
  <div><dt>USDC held by the contract</dt><dd id="l1-held">–</dd></div>
  <div><dt>Rollup</dt><dd id="l1-rollup">–</dd></div>
</dl>
<div class="l1-grid">
  <div>
    <h3>Latest batches</h3>
    <table class="l1"><thead><tr><th>#</th><th>Accepted</th><th>DA</th><th>Txs</th><th>Payload</th><th>Gas</th><th>Proof (size · prove · verify · security)</th><th>L1</th><th>Old root → new root</th></tr></thead>
      <tbody id="l1-batches"><tr><td colspan="9" class="empty">no batch yet</td></tr></tbody></table>
    <h3>Refused batches (their proof did not verify: no fact registered, nothing settled)</h3>
    <table class="l1"><thead><tr><th>#</th><th>At</th><th>Reason</th><th>Then</th></tr></thead>
      <tbody id="l1-refused"><tr><td colspan="4" class="empty">none</td></tr></tbody></table>
  </div>
  <div>
    <h3>Withdrawals: requested on L2 → claimable on L1 → claimed</h3>
    <table class="l1"><thead><tr><th>Position</th><th>Amount</th><th>Requested</th><th>Claimable</th><th>Delay</th><th>Claimed</th></tr></thead>
      <tbody id="l1-withdrawals"><tr><td colspan="6" class="empty">none yet</td></tr></tbody></table>
    <h3>Pending deposits (on L1, not yet in a batch)</h3>
    <table class="l1"><thead><tr><th>Position</th><th>STARK key</th><th>Amount</th></tr></thead>
      <tbody id="l1-deposits"><tr><td colspan="3" class="empty">none</td></tr></tbody></table>
    <h3>Forced requests (the operator must serve them before the deadline, else anyone may freeze)</h3>
    <table class="l1"><thead><tr><th>Kind</th><th>Request</th><th>Requested</th><th>Deadline</th><th>Left</th></tr></thead>
      <tbody id="l1-forced"><tr><td colspan="5" class="empty">none</td></tr></tbody></table>
    <h3>Pending governance changes (timelocked)</h3>
    <table class="l1"><thead><tr><th>Kind</th><th>Value</th><th>Takes effect</th></tr></thead>
      <tbody id="l1-changes"><tr><td colspan="3" class="empty">none</td></tr></tbody></table>
  </div>
</div>`;

  async function refresh() {
    try {
      const r = await fetch("/mainjob/settlement");
      if (r.ok) render(await r.json());
    } catch (e) { /* the server restarts: keep the last view */ }
  }
  const panel = $("settlement");
  if (!panel.innerHTML.trim()) panel.innerHTML = MARKUP;
  refresh();
  setInterval(refresh, 2000);
})();
