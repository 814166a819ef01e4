"""Signed oracle prices (StarkEx ``oracle/oracle_price.cairo``, dYdX v3): the rules of an
``OraclePricesTick`` and the staleness of a market's oracle price.

A market's tick lists signed prices, signer keys strictly increasing. It is accepted when, in this
order (the first broken rule is the rejection):

1. every signer is one of the market's ``oracle_signers`` (ORACLE_SIGNER_UNKNOWN), keys strictly
   increasing (ORACLE_SIGNERS_UNSORTED: this is how StarkEx makes the signers distinct);
2. every signed asset id is one of the market's ``oracle_signed_asset_ids`` (ORACLE_ASSET_MISMATCH);
3. every external price is in (0, 2^120) and every timestamp in [0, 2^32) (INVALID_FIELD);
4. no signed timestamp is after the command time (ORACLE_PRICE_FROM_FUTURE) or older than
   ``oracle_max_age_ns`` before it (ORACLE_PRICE_STALE);
5. at least ``oracle_quorum`` prices are listed (ORACLE_QUORUM_NOT_MET);
6. every signature verifies (ORACLE_SIGNATURE_INVALID) — checked last, as it is the expensive rule;
7. the tick is newer than the current price: its time (the oldest signed timestamp) is after the
   current oracle time (ORACLE_PRICE_STALE; this is what refuses a replayed tick);
8. the price (the median of the signed prices, see ``median_price``) moves at most
   ``oracle_max_move_ppm`` from the current price, unless ``oracle_strong_quorum`` signed it
   (ORACLE_PRICE_MOVE_TOO_LARGE).

Price conversion: external prices are collateral per whole synthetic unit with 10^18 = 1.0; the
core's price is collateral quantums (10^-6) per whole unit, so price = round(median / 10^12), half up
(StarkEx rounds its 32.32 conversion to nearest the same way).

Signature verification and determinism: verification is a pure function of the command, so it runs
inside the serial handler (fast-stark-crypto, ~0.5 ms a signature). The sequencer takes the verifier
as a parameter (``SignatureVerifier``): an edge may verify a tick's signatures in a
``crypto.verifier.VerifierPool`` before sequencing and hand the sequencer a verifier that answers
from those results (falling back to verifying inline for anything it has not seen). Every verifier
returns the same answer for the same input, so the state, and a replay with the plain verifier, is
the same.

Staleness (degraded mode): a market whose oracle price is older than ``oracle_max_age_ns`` at a
command's timestamp, or that has none, is stale (``is_stale``). While stale, orders that would raise
the account's worst-case exposure in that market are refused (MARKET_DEGRADED); cancels, reduce-only
orders, orders that cannot add risk, and untriggered conditional orders are still accepted;
liquidations must not run on it; funding ticks skip it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from perpetua.core.commands import MarketOraclePrices, SignedOraclePrice
from perpetua.core.errors import RejectCode, RejectedError
from perpetua.core.markets import Market
from perpetua.core.quantities import COLLATERAL_RESOLUTION, NS_PER_S, PPM
from perpetua.crypto.messages import EXTERNAL_PRICE_BOUND, TIMESTAMP_BOUND, OraclePrice, hash_oracle_price
from perpetua.crypto.signatures import sign

SignatureVerifier = Callable[[int, int, int, int], bool]
"""(public_key, message_hash, r, s) -> valid. ``perpetua.crypto.signatures.verify`` by default."""

EXTERNAL_PRICE_ONE = 10**18
"""1.0 in a signed external price."""
_EXTERNAL_PER_QUANTUM: int = EXTERNAL_PRICE_ONE // COLLATERAL_RESOLUTION
PRICE_BOUND = 1 << 64
"""Prices are below 2^64 (StarkEx's bound on an internal price)."""


def external_to_price(external_price: int) -> int:
    """A signed external price (10^18 = 1.0) in collateral quantums per unit, rounded half up.

    >>> external_to_price(40_000 * 10**18), external_to_price(1_500_000_000_000)
    (40000000000, 2)
    """
    return (external_price + _EXTERNAL_PER_QUANTUM // 2) // _EXTERNAL_PER_QUANTUM


def price_to_external(price: int) -> int:
    """The external (10^18 = 1.0) form of a core price; exact."""
    return price * _EXTERNAL_PER_QUANTUM


def median_price(prices: list[int]) -> int:
    """The lower median: the middle price, or the lower of the two middle ones.

    It passes StarkEx's median test (``passes_median_test``): at least half the prices are <= it and
    at least half are >= it.

    >>> median_price([5, 1, 3]), median_price([4, 1, 3, 2])
    (3, 2)
    """
    ordered = sorted(prices)
    return ordered[(len(ordered) - 1) // 2]


def passes_median_test(price: int, prices: list[int]) -> bool:
    """StarkEx's check of a claimed median: 2 * #(p <= price) >= n and 2 * #(p >= price) >= n."""
    n = len(prices)
    return 2 * sum(p <= price for p in prices) >= n and 2 * sum(p >= price for p in prices) >= n


def oracle_message_hash(signed: SignedOraclePrice) -> int:
    """The hash the oracle signed (crypto.messages.hash_oracle_price)."""
    return hash_oracle_price(
        OraclePrice(
            oracle_name=signed.signed_asset_id & ((1 << 40) - 1),
            asset_pair=signed.signed_asset_id >> 40,
            price=signed.external_price,
            timestamp_s=signed.timestamp_s,
        )
    )


def is_stale(market: Market, oracle_time_ns: int | None, now_ns: int) -> bool:
    """Whether the market is in degraded mode at ``now_ns``: no oracle price, or one older than its bound."""
    return oracle_time_ns is None or now_ns - oracle_time_ns > market.oracle_max_age_ns


class AcceptedPrice:
    """A market's price from a tick that passed every rule."""

    __slots__ = ("market_id", "price", "signatures", "timestamp_ns")

    def __init__(self, market_id: str, price: int, timestamp_ns: int, signatures: int) -> None:
        self.market_id = market_id
        self.price = price
        self.timestamp_ns = timestamp_ns
        self.signatures = signatures


def _reject(code: RejectCode, field: str, message: str) -> RejectedError:
    return RejectedError(code, field, message)


def check_market_prices(
    market: Market,
    entry: MarketOraclePrices,
    now_ns: int,
    current_price: int | None,
    current_time_ns: int | None,
    verify: SignatureVerifier,
) -> AcceptedPrice:
    """Apply the rules of the module docstring to one market's signed prices; raise the first broken.

    Returns the accepted price; changes nothing.
    """
    mid = market.market_id
    signed = entry.prices
    signers = market.oracle_signers
    asset_ids = market.oracle_signed_asset_ids
    previous_key = -1
    for j, p in enumerate(signed):
        field = f"{mid}.prices[{j}]"
        if p.signer_key not in signers:
            raise _reject(RejectCode.ORACLE_SIGNER_UNKNOWN, f"{field}.signer_key",
                          f"{p.signer_key:#x} is not an oracle signer of {mid}")
        if p.signer_key <= previous_key:
            raise _reject(RejectCode.ORACLE_SIGNERS_UNSORTED, f"{field}.signer_key",
                          "signer keys must be strictly increasing (each signer once)")
        previous_key = p.signer_key
        if p.signed_asset_id not in asset_ids:
            raise _reject(RejectCode.ORACLE_ASSET_MISMATCH, f"{field}.signed_asset_id",
                          f"{p.signed_asset_id:#x} is not a signed asset id of {mid}")
        if not 0 < p.external_price < EXTERNAL_PRICE_BOUND:
            raise _reject(RejectCode.INVALID_FIELD, f"{field}.external_price", "must be in (0, 2^120)")
        if not 0 <= p.timestamp_s < TIMESTAMP_BOUND:
            raise _reject(RejectCode.INVALID_FIELD, f"{field}.timestamp_s", "must be in [0, 2^32)")
        signed_ns = p.timestamp_s * NS_PER_S
        if signed_ns > now_ns:
            raise _reject(RejectCode.ORACLE_PRICE_FROM_FUTURE, f"{field}.timestamp_s",
                          f"signed at {p.timestamp_s} s, after the command time {now_ns} ns")
        if now_ns - signed_ns > market.oracle_max_age_ns:
            raise _reject(RejectCode.ORACLE_PRICE_STALE, f"{field}.timestamp_s",
                          f"signed at {p.timestamp_s} s, older than {market.oracle_max_age_ns // NS_PER_S} s")
    n = len(signed)
    if n < market.oracle_quorum:
        raise _reject(RejectCode.ORACLE_QUORUM_NOT_MET, f"{mid}.prices",
                      f"{n} signed prices, the quorum is {market.oracle_quorum}")
    for j, p in enumerate(signed):
        if not verify(p.signer_key, oracle_message_hash(p), p.signature_r, p.signature_s):
            raise _reject(RejectCode.ORACLE_SIGNATURE_INVALID, f"{mid}.prices[{j}].signature",
                          f"the signature of {p.signer_key:#x} does not verify")
    as_of_ns = min(p.timestamp_s for p in signed) * NS_PER_S
    if current_time_ns is not None and as_of_ns <= current_time_ns:
        raise _reject(RejectCode.ORACLE_PRICE_STALE, f"{mid}.prices",
                      f"the tick's time {as_of_ns} ns is not after the current price's {current_time_ns} ns")
    externals = [p.external_price for p in signed]
    median = median_price(externals)
    assert passes_median_test(median, externals)
    price = external_to_price(median)
    if not 0 < price < PRICE_BOUND:
        raise _reject(RejectCode.INVALID_FIELD, f"{mid}.prices", f"the median {median} is not a price in (0, 2^64)")
    if (
        current_price is not None
        and abs(price - current_price) * PPM > market.oracle_max_move_ppm * current_price
        and n < market.oracle_strong_quorum
    ):
        raise _reject(
            RejectCode.ORACLE_PRICE_MOVE_TOO_LARGE, f"{mid}.prices",
            f"{current_price} -> {price} moves more than {market.oracle_max_move_ppm} ppm; "
            f"needs {market.oracle_strong_quorum} signatures, has {n}",
        )
    return AcceptedPrice(mid, price, as_of_ns, n)


def check_tick(
    markets: Mapping[str, Market],
    entries: tuple[MarketOraclePrices, ...],
    now_ns: int,
    prices: Mapping[str, int],
    times_ns: Mapping[str, int],
    verify: SignatureVerifier,
) -> list[AcceptedPrice]:
    """Check a whole tick (market ids strictly increasing, each known); raise on the first broken rule."""
    if not entries:
        raise _reject(RejectCode.INVALID_FIELD, "markets", "a tick needs at least one market")
    accepted = []
    previous = ""
    for entry in entries:
        market = markets.get(entry.market_id)
        if market is None:
            raise _reject(RejectCode.UNKNOWN_MARKET, "markets", f"no market {entry.market_id!r}")
        if entry.market_id <= previous:
            raise _reject(RejectCode.INVALID_FIELD, "markets", "market ids must be strictly increasing")
        previous = entry.market_id
        accepted.append(
            check_market_prices(
                market, entry, now_ns, prices.get(entry.market_id), times_ns.get(entry.market_id), verify
            )
        )
    return accepted


# -- signing (oracles, tests, the demo) --------------------------------------------------------------


def sign_oracle_price(
    private_key: int, signer_key: int, market: Market, external_price: int, timestamp_s: int, name_index: int = 0
) -> SignedOraclePrice:
    """Sign one price for ``market`` with its ``name_index``-th signed asset id (deterministic, RFC 6979)."""
    unsigned = SignedOraclePrice(signer_key, external_price, timestamp_s, market.oracle_signed_asset_ids[name_index], 0, 0)
    sig = sign(private_key, oracle_message_hash(unsigned))
    return SignedOraclePrice(signer_key, external_price, timestamp_s, unsigned.signed_asset_id, sig.r, sig.s)


def sign_market_prices(
    keys: Mapping[int, int], market: Market, prices: list[int], timestamp_s: int
) -> MarketOraclePrices:
    """Sign core ``prices`` (one per signer, collateral quantums per unit) with the first
    ``len(prices)`` of ``keys`` (public -> private) in increasing key order."""
    signers = sorted(keys)[: len(prices)]
    return MarketOraclePrices(
        market.market_id,
        tuple(
            sign_oracle_price(keys[k], k, market, price_to_external(p), timestamp_s)
            for k, p in zip(signers, prices, strict=True)
        ),
    )
