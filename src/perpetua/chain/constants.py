"""The L1 contracts' constants, mirrored for the operator client and tests.

Sources: StarkEx `scalable-dex/contracts/src/libraries/LibConstants.sol` and
`perpetual/PerpetualConstants.sol`; the values are asserted against the deployed contract in
`tests/chain/test_exchange.py`.
"""

from __future__ import annotations

DAY_S = 86_400
HOUR_S = 3_600

DEPOSIT_CANCEL_DELAY_S = 2 * DAY_S
"""A pending deposit can be reclaimed this long after its cancel request."""
FREEZE_GRACE_PERIOD_S = 7 * DAY_S
"""A forced request unserved for longer than this lets anyone freeze the exchange."""
MAX_FORCED_ACTIONS_REQS_PER_BLOCK = 10
MAX_TIME_IN_PAST_S = 7 * DAY_S
MAX_TIME_IN_FUTURE_S = 4 * HOUR_S
"""A batch's system time t must satisfy block.timestamp - 7 days < t < block.timestamp + 4 hours."""
GOVERNANCE_TIMELOCK_S = 8 * DAY_S
"""Longer than FREEZE_GRACE_PERIOD_S: objecting traders can force-withdraw, then freeze, first."""

DA_ROLLUP = 0
DA_VALIDIUM = 1

CHANGE_VERIFIER = 1
CHANGE_GLOBAL_CONFIG = 2

TAG_USER_REGISTRATION = 1
TAG_FORCED_WITHDRAWAL = 2
TAG_FORCED_TRADE = 3

TREE_HEIGHT = 64
MAX_MODIFICATIONS = 1024
MAX_FORCED_PER_BATCH = 256
MAX_ASSETS = 64
MAX_STATE_DIFF_BYTES = 131_072
COLLATERAL_DECIMALS = 6
FXP_32_ONE = 2**32

CONTRACT_NAMES = ("CollateralToken", "InterimFactRegistry", "PerpetualEscapeVerifier", "PerpetualExchange")
