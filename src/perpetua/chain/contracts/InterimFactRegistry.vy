# pragma version 0.4.3
"""
@title InterimFactRegistry
@notice INTERIM stand-in for the STARK verifier until the batch circuit lands. A fact (the hash of
        old root, new root and batch commitment) is valid once `threshold` distinct keys of the
        configured verifier set have registered it. It trusts those keys: it checks no proof.
        It implements the one interface the exchange uses, `is_valid(fact) -> bool`, so the STARK
        verifier (which registers a fact after verifying a proof, as StarkEx's GpsFactRegistry)
        replaces it through the exchange's timelocked verifier change, without touching the
        exchange contract.
"""

MAX_KEYS: constant(uint256) = 16

event FactRegistered:
    fact: indexed(bytes32)
    verifier_key: indexed(address)
    approvals: uint256

is_verifier_key: public(HashMap[address, bool])
threshold: public(uint256)
approvals: public(HashMap[bytes32, uint256])
approved_by: public(HashMap[bytes32, HashMap[address, bool]])


@deploy
def __init__(verifier_keys: DynArray[address, MAX_KEYS], threshold: uint256):
    assert threshold > 0 and threshold <= len(verifier_keys), "bad threshold"
    for key: address in verifier_keys:
        assert key != empty(address) and not self.is_verifier_key[key], "bad key"
        self.is_verifier_key[key] = True
    self.threshold = threshold


@external
def register_fact(fact: bytes32):
    """A configured verifier key vouches for `fact` (once per key)."""
    assert self.is_verifier_key[msg.sender], "not a verifier key"
    assert not self.approved_by[fact][msg.sender], "already registered"
    self.approved_by[fact][msg.sender] = True
    self.approvals[fact] += 1
    log FactRegistered(fact=fact, verifier_key=msg.sender, approvals=self.approvals[fact])


@view
@external
def is_valid(fact: bytes32) -> bool:
    return self.approvals[fact] >= self.threshold
