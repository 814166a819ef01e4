"""Bounds and fixed-point formats of the rollup (stark-perpetual v1 `definitions/constants.cairo`).

Fixed-point formats are named by their integer.fraction bits: a 32.32 value v stands for v / 2^32.
"""

from __future__ import annotations

FXP_32_ONE = 2**32
"""1.0 in 32.32 fixed point (prices, funding indices, risk factors, max funding rate)."""

BALANCE_LOWER_BOUND = -(2**63)
BALANCE_UPPER_BOUND = 2**63
"""Collateral and synthetic balances: -2^63 < balance < 2^63."""
AMOUNT_UPPER_BOUND = 2**64
"""Amounts in orders and transactions: 0 <= amount < 2^64."""
POSITIVE_AMOUNT_LOWER_BOUND = 1
FUNDING_INDEX_LOWER_BOUND = -(2**63)
FUNDING_INDEX_UPPER_BOUND = 2**63
"""Funding indices (signed 32.32): -2^63 < index < 2^63."""
PRICE_LOWER_BOUND = 1
PRICE_UPPER_BOUND = 2**64
"""Internal oracle prices (32.32, collateral quantums per synthetic quantum): 1 <= price < 2^64."""
RISK_FACTOR_LOWER_BOUND = 1
RISK_FACTOR_UPPER_BOUND = 2**32
"""Risk factors (0.32 fixed point): 1 <= risk <= 2^32."""
TOTAL_VALUE_LOWER_BOUND = -(2**63)
TOTAL_VALUE_UPPER_BOUND = 2**63
TOTAL_RISK_UPPER_BOUND = 2**64
POSITION_ID_UPPER_BOUND = 2**64
ORDER_ID_UPPER_BOUND = 2**64
NONCE_UPPER_BOUND = 2**32
EXPIRATION_TIMESTAMP_UPPER_BOUND = 2**32
"""Expirations are signed in hours since the Unix epoch, 32 bits."""
ASSET_ID_UPPER_BOUND = 2**120
"""Synthetic asset ids (dYdX's 15-byte ASCII ids)."""
N_ASSETS_UPPER_BOUND = 2**16
MAX_ASSETS_IN_POSITION = 64
PUBLIC_KEY_UPPER_BOUND = 2**251
EXTERNAL_PRICE_ONE = 10**18
"""Signed oracle prices use 10^18 = 1.0."""
TREE_HEIGHT = 64
"""Height of the positions tree and of the orders tree (keys are 64-bit ids)."""
SECONDS_PER_HOUR = 3600
