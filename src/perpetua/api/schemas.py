"""Request bodies of the v3 API: strict (unknown fields refused), bounded (no huge numbers or strings)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

DecimalText = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}(\.[0-9]{1,18})?$", max_length=37)]
"""A non-negative decimal string, at most 18 digits each side of the point."""
SignedDecimalText = Annotated[str, StringConstraints(pattern=r"^-?[0-9]{1,18}(\.[0-9]{1,18})?$", max_length=38)]
IsoTime = Annotated[str, StringConstraints(min_length=10, max_length=40)]
IdText = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,19}$")]
HexKey = Annotated[str, StringConstraints(pattern=r"^(0x)?[0-9a-fA-F]{1,64}$")]
StarkSignature = Annotated[str, StringConstraints(pattern=r"^(0x)?[0-9a-fA-F]{128}$")]
ClientId = Annotated[str, StringConstraints(min_length=1, max_length=64)]

ORDER_TYPES = ("MARKET", "LIMIT", "STOP_LIMIT", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrderRequest(Strict):
    """POST /v3/orders, as dydx-v3-python sends it (None fields omitted)."""

    market: Annotated[str, StringConstraints(max_length=20)]
    side: Literal["BUY", "SELL"]
    type: Literal["MARKET", "LIMIT", "STOP_LIMIT", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP"]
    timeInForce: Literal["GTT", "FOK", "IOC"] = "GTT"
    size: DecimalText
    price: DecimalText
    limitFee: DecimalText
    expiration: IsoTime
    postOnly: StrictBool = False
    clientId: ClientId
    signature: StarkSignature
    cancelId: IdText | None = None
    triggerPrice: DecimalText | None = None
    trailingPercent: SignedDecimalText | None = None
    reduceOnly: StrictBool | None = None


class OnboardingRequest(Strict):
    starkKey: HexKey
    starkKeyYCoordinate: HexKey
    referredByAffiliateLink: Annotated[str, StringConstraints(max_length=200)] | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None


class WithdrawalRequest(Strict):
    """POST /v3/withdrawals: a signed StarkEx withdrawal of collateral to the user's L1 address."""

    amount: DecimalText
    asset: Literal["USDC"] = "USDC"
    expiration: IsoTime
    clientId: ClientId
    signature: StarkSignature


class EmptyRequest(Strict):
    """A body with no fields (the client sends {})."""


Limit = Annotated[int, Field(ge=1, le=100)]
