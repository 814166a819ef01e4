"""EIP-712 signatures of dYdX v3's off-chain actions (onboarding), recovered with secp256k1.

digest = keccak(0x1901 || domainSeparator || structHash), domain {name "dYdX", version "1.0",
chainId}, type ``EIP712Domain(string name,string version,uint256 chainId)`` (no verifying contract);
the onboarding struct is ``dYdX(string action)`` on testnets and ``dYdX(string action,string
onlySignOn)`` with onlySignOn "https://trade.dydx.exchange" on mainnet (DY `eth_signing/*`).

A typed signature is 0x || r || s || v || t: v is 1b/1c (or 00/01), t the hash prefix kind
(00 none, 01 "\\x19Ethereum Signed Message:\\n32", 02 "...\\n\\x20").
"""

from __future__ import annotations

from coincurve import PublicKey

from perpetua.crypto.keccak import keccak256

DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId)"
ONBOARDING_ACTION = "dYdX Onboarding"
ONLY_SIGN_ON_MAINNET = "https://trade.dydx.exchange"
MAINNET_CHAIN_ID = 1
_PREFIXES = {0: b"", 1: b"\x19Ethereum Signed Message:\n32", 2: b"\x19Ethereum Signed Message:\n\x20"}


class SignatureRecoveryError(ValueError):
    """The signature is malformed or recovers no key. ``field`` names the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _h(text: str) -> bytes:
    return keccak256(text.encode())


def domain_separator(chain_id: int) -> bytes:
    return keccak256(_h(DOMAIN_TYPE) + _h("dYdX") + _h("1.0") + chain_id.to_bytes(32, "big"))


def onboarding_digest(chain_id: int) -> bytes:
    """The EIP-712 digest a client signs to onboard on ``chain_id``."""
    if chain_id == MAINNET_CHAIN_ID:
        struct = keccak256(
            _h("dYdX(string action,string onlySignOn)") + _h(ONBOARDING_ACTION) + _h(ONLY_SIGN_ON_MAINNET)
        )
    else:
        struct = keccak256(_h("dYdX(string action)") + _h(ONBOARDING_ACTION))
    return keccak256(b"\x19\x01" + domain_separator(chain_id) + struct)


def address_of(public_key: PublicKey) -> str:
    """The checksum-free, lowercase 0x address of a secp256k1 key."""
    return "0x" + keccak256(public_key.format(compressed=False)[1:])[-20:].hex()


def recover_address(digest: bytes, typed_signature: str) -> str:
    """The lowercase Ethereum address that signed ``digest`` with this typed signature.

    Raises:
        SignatureRecoveryError: signature (malformed, bad v or type, or no key recovers).
    """
    text = typed_signature[2:] if typed_signature[:2] in ("0x", "0X") else typed_signature
    if len(text) != 132:
        raise SignatureRecoveryError("signature", "expected 0x + 66 bytes of hex (r, s, v, type)")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise SignatureRecoveryError("signature", "not hex") from None
    v, kind = raw[64], raw[65]
    if kind not in _PREFIXES:
        raise SignatureRecoveryError("signature", f"unknown signature type {kind}")
    recid = v - 27 if v >= 27 else v
    if recid not in (0, 1):
        raise SignatureRecoveryError("signature", f"bad recovery byte v={v}")
    prefix = _PREFIXES[kind]
    signed = keccak256(prefix + digest) if prefix else digest
    try:
        key = PublicKey.from_signature_and_message(raw[:64] + bytes([recid]), signed, hasher=None)
    except Exception:
        raise SignatureRecoveryError("signature", "no public key recovers from it") from None
    return address_of(key)


ETH_PRIVATE_TYPE = "dYdX(string method,string requestPath,string body,string timestamp)"


def eth_private_digest(chain_id: int, method: str, request_path: str, body: str, timestamp: str) -> bytes:
    """The EIP-712 digest of an Ethereum-key request (POST/DELETE /v3/api-keys, GET /v3/recovery):
    dydx3 ``SignEthPrivateAction``; ``request_path`` includes the query, ``body`` is "{}" when empty."""
    struct = keccak256(_h(ETH_PRIVATE_TYPE) + _h(method) + _h(request_path) + _h(body) + _h(timestamp))
    return keccak256(b"\x19\x01" + domain_separator(chain_id) + struct)
