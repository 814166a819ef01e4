"""The settlement panel in a real browser, against `perpetua up` with the L1 on (its default): the
batches accepted on L1 with their roots and DA mode, withdrawals from request to claimed, the pending
governance change, frozen or not; on the dashboard and on its own page (/settlement)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow


def test_settlement_page_shows_batches_withdrawals_and_governance(browser: Any, server: str, screenshots: Path) -> None:
    # wait until a demo withdrawal was claimed on L1 (a few batches)
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(server + "/settlement")
    page.wait_for_function("document.querySelectorAll('#l1-batches tr td.hash').length >= 2", timeout=60_000)
    page.wait_for_function(
        "[...document.querySelectorAll('#l1-withdrawals tr')].some(r => /AM|PM|:/.test(r.cells[5]?.textContent || '')"
        " && r.cells[5].textContent !== 'claimable')", timeout=90_000)
    view = httpx.get(server + "/mainjob/settlement", timeout=5).json()
    assert view["status"] == "running", view["stoppedReason"]
    assert "every batch is accepted" in page.inner_text("#l1-status")
    assert page.inner_text("#l1-frozen") == "not frozen"
    assert page.inner_text("#l1-da") == "rollup"
    assert int(page.inner_text("#l1-seq")) >= 2
    first = page.locator("#l1-batches tr").first
    assert first.locator("td").nth(2).inner_text() == "rollup"
    assert "→" in first.locator("td.hash").inner_text()
    assert "global_config" in page.inner_text("#l1-changes")
    page.screenshot(path=str(screenshots / "settlement-view.png"), full_page=True)
    page.close()
    # the same panel on the dashboard
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server + "/")
    page.wait_for_function("document.querySelectorAll('#l1-batches tr td.hash').length >= 1", timeout=20_000)
    page.close()
