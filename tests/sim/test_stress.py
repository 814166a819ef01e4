"""The stress lab: scenarios through the real core (conservation, oracle faults, determinism) and sweeps."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from perpetua.core.events import OraclePriceUpdated
from perpetua.sim.stress import StressRun, load_scenario, price_path, run_scenario, with_overrides
from perpetua.sim.sweep import grid_points, parse_grid, run_sweep, write_report


def small(name: str, **agents: object) -> object:
    s = load_scenario(name)
    return dataclasses.replace(s, agents={**s.agents, "traders": 40, **agents},
                               path={**s.path, "pre_minutes": 3, "post_minutes": 4})


def test_gap_scenario_conserves_collateral_and_breaches_leveraged_longs() -> None:
    m = run_scenario(small("gap-30"))  # type: ignore[arg-type]
    assert m["conservation_violations"] == 0
    assert m["traders_opened"] > 30
    assert m["accounts_breached"] > 10  # 10x longs through a 30% gap
    assert m["insurance_fund_min"] >= 0


def test_scenarios_are_deterministic_and_seeds_matter() -> None:
    s = small("gap-30")
    assert run_scenario(s) == run_scenario(s)  # type: ignore[arg-type]
    assert run_scenario(s, {"seed": 7})["state_hash"] != run_scenario(s)["state_hash"]  # type: ignore[arg-type]


def test_a_rogue_signer_does_not_move_the_quorum_median() -> None:
    run = StressRun(small("oracle-faults"))  # type: ignore[arg-type]
    path = price_path(run.scenario, run.market)
    seen: list[int] = []
    apply = run.seq.apply

    def spy(cmd):  # type: ignore[no-untyped-def]
        events = apply(cmd)
        seen.extend(e.price for e in events if isinstance(e, OraclePriceUpdated))
        return events

    run.seq.apply = spy  # type: ignore[method-assign]
    run.run()
    # One of five signers pushes +50% for five minutes; every accepted price is still on the path.
    assert seen and set(seen) <= set(path)


def test_a_stale_feed_degrades_the_market() -> None:
    s = small("oracle-faults")
    m = run_scenario(s)  # type: ignore[arg-type]
    assert m["conservation_violations"] == 0
    fresh = run_scenario(dataclasses.replace(s, faults=()))  # type: ignore[arg-type]
    # While the feed is stale, orders that add risk are refused (MARKET_DEGRADED): more rejections.
    assert m["rejected"] > fresh["rejected"]


def test_overrides_change_the_market_and_are_validated() -> None:
    s = with_overrides(load_scenario("gap-30"), {"margin.imf": "0.08", "fund": 5})
    assert s.market["initial_margin_fraction"] == "0.08" and s.insurance_fund_usd == 5
    with pytest.raises(ValueError, match="no such market setting"):
        run_scenario(dataclasses.replace(load_scenario("gap-30"), market={"nonsense": "1"}))
    assert grid_points(parse_grid(["a=1,2", "b=x,y,z"])) == [
        {"a": "1", "b": "x"}, {"a": "1", "b": "y"}, {"a": "1", "b": "z"},
        {"a": "2", "b": "x"}, {"a": "2", "b": "y"}, {"a": "2", "b": "z"}]
    with pytest.raises(ValueError, match="expected name=value"):
        parse_grid(["oops"])


@pytest.mark.slow
def test_a_24_point_sweep_on_local_ray_matches_the_process_pool(tmp_path: Path) -> None:
    pytest.importorskip("ray")  # a dev dependency: present in CI
    s = small("gap-30", traders=20)
    grid = parse_grid(["margin.imf=0.04,0.05,0.06,0.08", "fund=0,100000,1000000", "seed=1,2"])
    on_ray = run_sweep(s, grid, engine="ray", workers=2)  # type: ignore[arg-type]
    assert len(on_ray) == 24 and all(r["conservation_violations"] == 0 for r in on_ray)
    some = {"margin.imf": ["0.04", "0.08"], "fund": ["0"], "seed": ["1"]}
    local = run_sweep(s, some, engine="process", workers=2)  # type: ignore[arg-type]
    by_key = {(r["param.margin.imf"], r["param.fund"], r["param.seed"]): r for r in on_ray}
    assert all(by_key[(r["param.margin.imf"], r["param.fund"], r["param.seed"])] == r for r in local)
    table, html = write_report(on_ray, tmp_path)
    assert table.stat().st_size > 0 and "Plotly" in html.read_text()


@pytest.mark.slow
def test_january_2022_crash_replay_at_10x_average_leverage() -> None:
    adl = run_scenario("jan-2022-crash")
    social = run_scenario("jan-2022-crash", {"exchange.socialized_loss": True})
    for m in (adl, social):
        assert m["conservation_violations"] == 0
        assert m["insurance_fund_min"] >= 0
        assert m["still_liquidatable"] == 0
        assert m["accounts_breached"] > 50 and m["liquidation_events"] > 0
    # Counts, for the record (printed with -s): liquidations, deleverages, the fund's minimum.
    print({k: (adl[k], social[k]) for k in ("liquidation_events", "deleverage_events", "insurance_fund_min", "bad_debt")})


@pytest.mark.slow
def test_deleveraging_and_socialized_loss_compared_on_an_instant_30_percent_gap() -> None:
    adl = run_scenario("gap-30-instant")
    social = run_scenario("gap-30-instant", {"exchange.socialized_loss": True})
    for m in (adl, social):
        assert m["conservation_violations"] == 0 and m["insurance_fund_min"] >= 0 and m["still_liquidatable"] == 0
    # With an empty fund and a true gap, the default mode deleverages what the book cannot take at the
    # bankruptcy price; socialized mode lets fills below bankruptcy through and charges the loss to the
    # other side instead, so it deleverages less.
    assert adl["deleverage_events"] > social["deleverage_events"]
    print({k: (adl[k], social[k]) for k in ("liquidation_events", "deleverage_events", "bad_debt")})


def test_exchange_overrides_are_validated() -> None:
    s = with_overrides(load_scenario("gap-30"), {"exchange.socialized_loss": "true"})
    assert s.exchange == {"socialized_loss": "true"}
    with pytest.raises(ValueError, match="no such exchange setting"):
        run_scenario(small("gap-30"), {"exchange.bogus": 1})  # type: ignore[arg-type]


def test_keepers_compete_and_batch_boundaries_delay_liquidation() -> None:
    s = small("gap-30")
    auto = run_scenario(s)  # type: ignore[arg-type]
    every_tick = run_scenario(s, {"batch_interval": 0})  # type: ignore[arg-type]
    batched = run_scenario(s, {"batch_interval": 120})  # type: ignore[arg-type]
    assert (auto["settlement"], every_tick["settlement"], batched["batch_interval_s"]) == ("auto", "keepers", 120)
    for m in (auto, every_tick, batched):
        assert m["conservation_violations"] == 0 and m["still_liquidatable"] == 0
        assert m["insurance_fund_min"] >= 0
    # Keepers race for each account: one Liquidate wins, the others are refused.
    assert every_tick["keeper_liquidations"] > 0 and every_tick["keeper_attempts_lost"] > 0
    assert sum(every_tick["keeper_wins"].values()) == every_tick["keeper_liquidations"]
    # Liquidations only every two minutes: breach-to-liquidation grows from about a tick to tens of
    # seconds, and accounts slide past bankruptcy before anyone may act (the backstop takes them).
    assert every_tick["breach_to_liquidation_max_s"] < 16 < batched["breach_to_liquidation_mean_s"]
    assert batched["backstop_liquidations"] > every_tick["backstop_liquidations"]
    assert run_scenario(s, {"batch_interval": 120}) == batched  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"settlement\.mode"):
        run_scenario(s, {"settlement.mode": "sometimes"})  # type: ignore[arg-type]


def test_a_correlated_crash_across_two_markets_liquidates_cross_margined_accounts() -> None:
    m = run_scenario("correlated-crash")
    assert m["markets"] == "BTC-USD,ETH-USD"
    assert m["conservation_violations"] == 0 and m["insurance_fund_min"] >= 0
    assert m["accounts_breached"] > 50 and m["liquidation_events"] > 0 and m["still_liquidatable"] == 0


def test_a_funding_spike_makes_longs_pay_far_more() -> None:
    spike = run_scenario("funding-spike")
    calm = run_scenario(dataclasses.replace(load_scenario("funding-spike"), faults=()))
    assert spike["conservation_violations"] == calm["conservation_violations"] == 0
    # Makers leaning 0.5% above the index push the sampled premium up: the rate jumps from the
    # interest alone to tens of times that, and the mostly-long traders pay accordingly.
    assert spike["max_funding_rate_ppb"] > 20 * calm["max_funding_rate_ppb"] > 0
    assert spike["funding_paid_by_traders"] > 10 * calm["funding_paid_by_traders"] > 0
