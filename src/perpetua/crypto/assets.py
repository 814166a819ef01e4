"""StarkEx asset ids and networks, as dYdX v3 configured them.

A synthetic asset id is 15 bytes: the ASCII text "<SYMBOL>-<log10(resolution)>", right-padded with
zero bytes (so BTC with resolution 10^10 is "BTC-10"). It is the same on every network. The
collateral (USDC) asset id differs per network; see shared/research/starkex-perp-spec.md.
"""

from __future__ import annotations

from enum import IntEnum

SYNTHETIC_ASSET_ID_BYTES = 15


class Network(IntEnum):
    """Ethereum networks by chain id. Sepolia is the development default: the only network on which the
    official dYdX v3 client asks the faucet for test collateral."""

    MAINNET = 1
    ROPSTEN = 3
    GOERLI = 5
    SEPOLIA = 11155111


DEFAULT_NETWORK = Network.SEPOLIA

COLLATERAL_ASSET = "USDC"
COLLATERAL_RESOLUTION = 10**6
"""USDC quantums per unit on every network."""

SYNTHETIC_RESOLUTIONS: dict[str, int] = {
    "BTC": 10**10, "ETH": 10**9, "LINK": 10**7, "AAVE": 10**8, "UNI": 10**7, "SUSHI": 10**7,
    "SOL": 10**7, "YFI": 10**10, "1INCH": 10**7, "AVAX": 10**7, "SNX": 10**7, "CRV": 10**6,
    "UMA": 10**7, "DOT": 10**7, "DOGE": 10**5, "MATIC": 10**6, "MKR": 10**9, "FIL": 10**7,
    "ADA": 10**6, "ATOM": 10**7, "COMP": 10**8, "BCH": 10**8, "LTC": 10**8, "EOS": 10**6,
    "ALGO": 10**6, "ZRX": 10**6, "XMR": 10**8, "ZEC": 10**8, "ENJ": 10**6, "ETC": 10**7,
    "XLM": 10**5, "TRX": 10**4, "XTZ": 10**6, "ICP": 10**7, "RUNE": 10**6, "LUNA": 10**6,
    "NEAR": 10**6, "CELO": 10**6,
}
"""Synthetic quantums per unit, as dYdX v3 configured them (dydx-v3-python 2.1.0 `dydx3/constants.py`,
ASSET_RESOLUTION). Configuration, not law: a market may be listed with another resolution, and its
asset id then changes with it."""

COLLATERAL_ASSET_ID_BY_NETWORK: dict[Network, int] = {
    Network.MAINNET: 0x02893294412A4C8F915F75892B395EBBF6859EC246EC365C3B1F56F47C3A0A5D,
    Network.SEPOLIA: 0x01E70C509C4C6BFAFE8B73D2FC1819444B2C0B435D4B82C0F24ADDFF9565CE25,
    Network.GOERLI: 0x03BDA2B4764039F2DF44A00A9CF1D1569A83F95406A983CE4BEB95791C376008,
    Network.ROPSTEN: 0x02C04D8B650F44092278A7CB1E1028C82025DFF622DB96C934B611B84CC8DE5A,
}


def collateral_asset_id(network: Network) -> int:
    """The USDC asset id StarkEx uses on `network`."""
    return COLLATERAL_ASSET_ID_BY_NETWORK[network]


def market_synthetic(market: str) -> tuple[int, int]:
    """(synthetic asset id, resolution) of a dYdX v3 market name such as "BTC-USD".

    Raises:
        ValueError: for a market that is not "<SYMBOL>-USD" with a configured symbol.
    """
    symbol, dash, quote = market.partition("-")
    if dash != "-" or quote != "USD" or symbol not in SYNTHETIC_RESOLUTIONS:
        raise ValueError(f"unknown market {market!r}")
    resolution = SYNTHETIC_RESOLUTIONS[symbol]
    return synthetic_asset_id(symbol, resolution), resolution


def synthetic_asset_id(symbol: str, resolution: int) -> int:
    """The 120-bit synthetic asset id for `symbol` at `resolution` quantums per unit (a power of ten).

    >>> hex(synthetic_asset_id("BTC", 10**10))
    '0x4254432d3130000000000000000000'
    """
    exponent = len(str(resolution)) - 1
    if resolution <= 0 or 10**exponent != resolution:
        raise ValueError(f"resolution must be a power of ten, got {resolution}")
    text = f"{symbol}-{exponent}".encode("ascii")
    if len(text) > SYNTHETIC_ASSET_ID_BYTES:
        raise ValueError(f"asset name {text!r} is longer than {SYNTHETIC_ASSET_ID_BYTES} bytes")
    return int.from_bytes(text.ljust(SYNTHETIC_ASSET_ID_BYTES, b"\0"), "big")
