"""STARK-curve keys, signatures, Pedersen hash and StarkEx / dYdX v3 message hashes.

The bottom layer of Perpetua: it imports nothing of the exchange. Modules:

- `keys`: curve constants, private-key generation, public keys and their validation.
- `pedersen`: the Pedersen hash.
- `signatures`: ECDSA sign / verify and the r || s serialisation.
- `messages`: StarkEx perpetual messages (order, withdrawal, transfer, conditional transfer), their
  hashes and order ids.
- `dydx_v3`: dYdX v3's API-field-to-message rules (amount conversions, nonce, expirations).
- `replay`: fill records, single-use messages and nonces, expirations (state passed in).
- `verifier`: a process pool that verifies batches off the sequencer's thread.
- `api_auth`: the v3 API-key HMAC scheme.
- `keccak`: Ethereum keccak256 and the values built on it (conditions, default credentials).
- `assets`: asset ids, resolutions and networks.
- `errors`: the typed errors, each with a stable `code`.
"""

from perpetua.crypto.errors import CryptoError, Rule
from perpetua.crypto.keys import generate_private_key, private_key_from_seed, public_key
from perpetua.crypto.messages import (
    LimitOrder,
    Transfer,
    Withdrawal,
    hash_limit_order,
    hash_transfer,
    hash_withdrawal,
    order_id,
)
from perpetua.crypto.pedersen import pedersen_hash
from perpetua.crypto.signatures import Signature, check_signature, sign, verify

__all__ = [
    "CryptoError",
    "LimitOrder",
    "Rule",
    "Signature",
    "Transfer",
    "Withdrawal",
    "check_signature",
    "generate_private_key",
    "hash_limit_order",
    "hash_transfer",
    "hash_withdrawal",
    "order_id",
    "pedersen_hash",
    "private_key_from_seed",
    "public_key",
    "sign",
    "verify",
]
