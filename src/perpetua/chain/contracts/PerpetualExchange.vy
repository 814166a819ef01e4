# pragma version 0.4.3
"""
@title PerpetualExchange
@notice The L1 side of the Perpetua rollup (after StarkEx perpetual, `scalable-dex/contracts/src/
        perpetual/`): it holds the collateral and the last accepted positions-tree root. Deposits
        wait as pending until a batch includes them; a state update is accepted in sequence, with a
        verifier fact and data availability; withdrawals are credited when their batch is accepted
        and claimed by the owner; forced requests not served within FREEZE_GRACE_PERIOD let anyone
        freeze the exchange; frozen, every position escapes once against the last root, paid its
        value at the last oracle prices. Governance changes (verifier, global config) go through a
        timelock. Rules and constants: docs/l1.md.
"""

from ethereum.ercs import IERC20

interface FactRegistry:
    def is_valid(fact: bytes32) -> bool: view

struct PositionAsset:
    asset_id: uint256
    balance: int256
    cached_funding_index: int256

interface EscapeVerifier:
    def position_root(position_id: uint64, public_key: uint256, collateral: int256, assets: DynArray[PositionAsset, 64], path: bytes32[64]) -> bytes32: pure

# --- constants (StarkEx `LibConstants.sol`, `PerpetualConstants.sol`) ---------------------------
DEPOSIT_CANCEL_DELAY: public(constant(uint256)) = 2 * 86400
FREEZE_GRACE_PERIOD: public(constant(uint256)) = 7 * 86400
MAX_FORCED_ACTIONS_REQS_PER_BLOCK: public(constant(uint256)) = 10
MAX_TIME_IN_PAST: public(constant(uint256)) = 7 * 86400
MAX_TIME_IN_FUTURE: public(constant(uint256)) = 4 * 3600
# Longer than FREEZE_GRACE_PERIOD: a trader who objects to a proposed change can force a
# withdrawal, and if censored, freeze the exchange before the change takes effect.
GOVERNANCE_TIMELOCK: public(constant(uint256)) = 8 * 86400
STARK_KEY_UPPER_BOUND: constant(uint256) = 2**251
FXP_32_ONE: constant(int256) = 2**32

DA_ROLLUP: public(constant(uint8)) = 0
DA_VALIDIUM: public(constant(uint8)) = 1

MAX_MODIFICATIONS: constant(uint256) = 1024
MAX_FORCED_PER_BATCH: constant(uint256) = 256
MAX_ASSETS: constant(uint256) = 64
MAX_COMMITTEE: constant(uint256) = 16
MAX_STATE_DIFF_BYTES: constant(uint256) = 131072

TAG_USER_REGISTRATION: constant(uint256) = 1
TAG_FORCED_WITHDRAWAL: constant(uint256) = 2
TAG_FORCED_TRADE: constant(uint256) = 3

CHANGE_VERIFIER: public(constant(uint8)) = 1
CHANGE_GLOBAL_CONFIG: public(constant(uint8)) = 2

struct Modification:
    stark_key: uint256
    position_id: uint64
    delta: int256  # > 0: a pending deposit the batch credits; < 0: a withdrawal it debits

struct AssetState:
    asset_id: uint256
    price: uint256  # oracle price, 32.32 fixed point, collateral quantums per synthetic quantum
    funding_index: int256  # global funding index, signed 32.32

struct Signature:
    v: uint8
    r: bytes32
    s: bytes32

# --- events -------------------------------------------------------------------------------------
event UserRegistered:
    stark_key: indexed(uint256)
    eth_key: indexed(address)

event Deposit:
    stark_key: indexed(uint256)
    position_id: indexed(uint64)
    amount: uint256
    depositor: address

event DepositCancelRequested:
    stark_key: indexed(uint256)
    position_id: indexed(uint64)
    reclaimable_at: uint256

event DepositReclaimed:
    stark_key: indexed(uint256)
    position_id: indexed(uint64)
    amount: uint256

event DepositIncluded:
    stark_key: indexed(uint256)
    position_id: indexed(uint64)
    amount: uint256
    sequence_number: uint256

event WithdrawalCredited:
    stark_key: indexed(uint256)
    position_id: indexed(uint64)
    amount: uint256
    sequence_number: uint256

event Withdrawn:
    stark_key: indexed(uint256)
    recipient: indexed(address)
    amount: uint256

event ForcedWithdrawalRequested:
    request: indexed(bytes32)
    stark_key: indexed(uint256)
    position_id: uint64
    amount: uint256
    deadline: uint256

event ForcedTradeRequested:
    request: indexed(bytes32)
    stark_key_a: indexed(uint256)
    stark_key_b: indexed(uint256)
    deadline: uint256

event ForcedRequestServed:
    request: indexed(bytes32)
    sequence_number: uint256

event StateUpdated:
    sequence_number: indexed(uint256)
    old_root: bytes32
    new_root: bytes32
    da_mode: uint8
    da_hash: bytes32
    batch_commitment: bytes32
    system_time: uint256
    prices_hash: bytes32

event Frozen:
    request: indexed(bytes32)
    caller: address

event Escaped:
    stark_key: indexed(uint256)
    position_id: indexed(uint64)
    amount: uint256

event ChangeProposed:
    change_id: indexed(bytes32)
    kind: uint8
    value: bytes32
    eta: uint256

event ChangeExecuted:
    change_id: indexed(bytes32)
    kind: uint8
    value: bytes32

event ChangeCancelled:
    change_id: indexed(bytes32)

# --- state --------------------------------------------------------------------------------------
TOKEN: public(immutable(address))
ESCAPE_VERIFIER: public(immutable(address))
DA_MODE: public(immutable(uint8))
USER_ADMIN: public(immutable(address))

verifier: public(address)
global_config_hash: public(bytes32)
governor: public(address)

state_root: public(bytes32)
sequence_number: public(uint256)
system_time: public(uint256)
prices_hash: public(bytes32)  # keccak256(abi_encode(asset_states)) of the last accepted batch
last_update_at: public(uint256)

committee_quorum: public(uint256)
is_committee_member: public(HashMap[address, bool])

eth_key: public(HashMap[uint256, address])
pending_deposits: public(HashMap[uint256, HashMap[uint64, uint256]])
deposit_cancel_requested_at: public(HashMap[uint256, HashMap[uint64, uint256]])
pending_withdrawals: public(HashMap[uint256, uint256])

forced_request_time: public(HashMap[bytes32, uint256])
forced_requests_in_block: public(HashMap[uint256, uint256])

frozen: public(bool)
escaped: public(HashMap[uint64, bool])

change_eta: public(HashMap[bytes32, uint256])


@deploy
def __init__(
    token: address,
    verifier: address,
    escape_verifier: address,
    da_mode: uint8,
    committee: DynArray[address, MAX_COMMITTEE],
    committee_quorum: uint256,
    user_admin: address,
    initial_root: bytes32,
    global_config_hash: bytes32,
):
    assert da_mode == DA_ROLLUP or da_mode == DA_VALIDIUM, "bad DA mode"
    TOKEN = token
    ESCAPE_VERIFIER = escape_verifier
    DA_MODE = da_mode
    USER_ADMIN = user_admin
    self.verifier = verifier
    self.global_config_hash = global_config_hash
    self.governor = msg.sender
    self.state_root = initial_root
    if da_mode == DA_VALIDIUM:
        assert committee_quorum > 0 and committee_quorum <= len(committee), "bad quorum"
    for member: address in committee:
        assert member != empty(address) and not self.is_committee_member[member], "bad member"
        self.is_committee_member[member] = True
    self.committee_quorum = committee_quorum


# --- users --------------------------------------------------------------------------------------
@external
def register_user(eth_key: address, stark_key: uint256, sig: Signature):
    """Binds a STARK key to an Ethereum address, authorised by the user admin's signature over
    keccak256(abi_encode(1, this contract, eth_key, stark_key)) (dYdX v3's registration)."""
    assert stark_key != 0 and stark_key < STARK_KEY_UPPER_BOUND, "bad stark key"
    assert eth_key != empty(address), "bad eth key"
    assert self.eth_key[stark_key] == empty(address), "stark key registered"
    digest: bytes32 = keccak256(abi_encode(TAG_USER_REGISTRATION, self, eth_key, stark_key))
    assert ecrecover(digest, sig.v, sig.r, sig.s) == USER_ADMIN, "bad registration signature"
    self.eth_key[stark_key] = eth_key
    log UserRegistered(stark_key=stark_key, eth_key=eth_key)


@internal
@view
def _only_owner(stark_key: uint256):
    assert self.eth_key[stark_key] != empty(address), "stark key not registered"
    assert msg.sender == self.eth_key[stark_key], "not the owner of the stark key"


# --- deposits -----------------------------------------------------------------------------------
@external
def deposit(stark_key: uint256, position_id: uint64, amount: uint256):
    """Moves `amount` collateral quantums into the exchange, pending until a batch includes it."""
    assert not self.frozen, "frozen"
    self._only_owner(stark_key)
    assert amount > 0, "zero amount"
    self.pending_deposits[stark_key][position_id] += amount
    assert extcall IERC20(TOKEN).transferFrom(msg.sender, self, amount), "transfer failed"
    log Deposit(stark_key=stark_key, position_id=position_id, amount=amount, depositor=msg.sender)


@external
def deposit_cancel(stark_key: uint256, position_id: uint64):
    """Starts the DEPOSIT_CANCEL_DELAY clock; a batch may still include the deposit meanwhile."""
    self._only_owner(stark_key)
    assert self.pending_deposits[stark_key][position_id] > 0, "no pending deposit"
    self.deposit_cancel_requested_at[stark_key][position_id] = block.timestamp
    log DepositCancelRequested(stark_key=stark_key, position_id=position_id,
                               reclaimable_at=block.timestamp + DEPOSIT_CANCEL_DELAY)


@external
def deposit_reclaim(stark_key: uint256, position_id: uint64):
    """After DEPOSIT_CANCEL_DELAY, returns what is still pending to the owner."""
    self._only_owner(stark_key)
    requested: uint256 = self.deposit_cancel_requested_at[stark_key][position_id]
    assert requested != 0, "no cancel request"
    assert block.timestamp >= requested + DEPOSIT_CANCEL_DELAY, "cancel delay not over"
    amount: uint256 = self.pending_deposits[stark_key][position_id]
    self.pending_deposits[stark_key][position_id] = 0
    self.deposit_cancel_requested_at[stark_key][position_id] = 0
    if amount > 0:
        assert extcall IERC20(TOKEN).transfer(msg.sender, amount), "transfer failed"
    log DepositReclaimed(stark_key=stark_key, position_id=position_id, amount=amount)


# --- withdrawals --------------------------------------------------------------------------------
@external
def withdraw(stark_key: uint256):
    """Pays the owner everything credited to `stark_key` (by batches or by escapes)."""
    self._only_owner(stark_key)
    amount: uint256 = self.pending_withdrawals[stark_key]
    assert amount > 0, "nothing to withdraw"
    self.pending_withdrawals[stark_key] = 0
    assert extcall IERC20(TOKEN).transfer(msg.sender, amount), "transfer failed"
    log Withdrawn(stark_key=stark_key, recipient=msg.sender, amount=amount)


# --- forced actions -----------------------------------------------------------------------------
@internal
def _register_forced_request(request: bytes32):
    assert not self.frozen, "frozen"
    assert self.forced_request_time[request] == 0, "request already pending"
    count: uint256 = self.forced_requests_in_block[block.number]
    assert count < MAX_FORCED_ACTIONS_REQS_PER_BLOCK, "too many forced requests in this block"
    self.forced_requests_in_block[block.number] = count + 1
    self.forced_request_time[request] = block.timestamp


@external
def forced_withdrawal_request(stark_key: uint256, position_id: uint64, amount: uint256) -> bytes32:
    """The owner asks the operator to withdraw `amount` from the position; a batch must serve it
    (execute it or include it as failed) within FREEZE_GRACE_PERIOD."""
    self._only_owner(stark_key)
    request: bytes32 = keccak256(abi_encode(TAG_FORCED_WITHDRAWAL, stark_key, position_id, amount))
    self._register_forced_request(request)
    log ForcedWithdrawalRequested(request=request, stark_key=stark_key, position_id=position_id,
                                  amount=amount, deadline=block.timestamp + FREEZE_GRACE_PERIOD)
    return request


@external
def forced_trade_request(
    stark_key_a: uint256,
    stark_key_b: uint256,
    position_a: uint64,
    position_b: uint64,
    synthetic_asset_id: uint256,
    amount_collateral: uint256,
    amount_synthetic: uint256,
    a_is_buying_synthetic: bool,
    submission_expiration: uint256,
    nonce: uint256,
    signature_b: Signature,
) -> bytes32:
    """A trade both parties agreed to, submitted by A (its owner) with B's owner's signature
    over the request hash; served like a forced withdrawal."""
    self._only_owner(stark_key_a)
    assert stark_key_a != stark_key_b and position_a != position_b, "same party"
    assert block.timestamp <= submission_expiration, "submission expired"
    request: bytes32 = keccak256(abi_encode(
        TAG_FORCED_TRADE, stark_key_a, stark_key_b, position_a, position_b, synthetic_asset_id,
        amount_collateral, amount_synthetic, a_is_buying_synthetic, submission_expiration, nonce))
    owner_b: address = self.eth_key[stark_key_b]
    assert owner_b != empty(address), "counterparty not registered"
    assert ecrecover(request, signature_b.v, signature_b.r, signature_b.s) == owner_b, "bad counterparty signature"
    self._register_forced_request(request)
    log ForcedTradeRequested(request=request, stark_key_a=stark_key_a, stark_key_b=stark_key_b,
                             deadline=block.timestamp + FREEZE_GRACE_PERIOD)
    return request


@external
def freeze_request(request: bytes32):
    """Anyone: freezes the exchange once a forced request has waited past FREEZE_GRACE_PERIOD."""
    assert not self.frozen, "already frozen"
    requested: uint256 = self.forced_request_time[request]
    assert requested != 0, "no such pending request"
    assert block.timestamp > requested + FREEZE_GRACE_PERIOD, "grace period not over"
    self.frozen = True
    log Frozen(request=request, caller=msg.sender)


# --- state updates ------------------------------------------------------------------------------
@internal
@view
def _fact(old_root: bytes32, new_root: bytes32, sequence_number: uint256, system_time: uint256,
          modifications: DynArray[Modification, MAX_MODIFICATIONS],
          forced_served: DynArray[bytes32, MAX_FORCED_PER_BATCH], prices_hash: bytes32,
          batch_commitment: bytes32, da_hash: bytes32) -> bytes32:
    commitment: bytes32 = keccak256(abi_encode(
        sequence_number, system_time, modifications, forced_served, prices_hash,
        self.global_config_hash, batch_commitment, da_hash))
    return keccak256(abi_encode(old_root, new_root, commitment))


@internal
def _update_state(old_root: bytes32, new_root: bytes32, system_time: uint256,
                  modifications: DynArray[Modification, MAX_MODIFICATIONS],
                  forced_served: DynArray[bytes32, MAX_FORCED_PER_BATCH],
                  asset_states: DynArray[AssetState, MAX_ASSETS], batch_commitment: bytes32,
                  da_hash: bytes32):
    assert not self.frozen, "frozen"
    assert old_root == self.state_root, "old root is not the current root"
    assert system_time + MAX_TIME_IN_PAST > block.timestamp, "system time too far in the past"
    assert system_time < block.timestamp + MAX_TIME_IN_FUTURE, "system time too far in the future"
    sequence_number: uint256 = self.sequence_number + 1
    prices_hash: bytes32 = keccak256(abi_encode(asset_states))
    fact: bytes32 = self._fact(old_root, new_root, sequence_number, system_time, modifications,
                               forced_served, prices_hash, batch_commitment, da_hash)
    assert staticcall FactRegistry(self.verifier).is_valid(fact), "no valid verifier fact"

    for m: Modification in modifications:
        if m.delta > 0:
            amount: uint256 = convert(m.delta, uint256)
            pending: uint256 = self.pending_deposits[m.stark_key][m.position_id]
            assert pending >= amount, "deposit not pending"
            self.pending_deposits[m.stark_key][m.position_id] = pending - amount
            log DepositIncluded(stark_key=m.stark_key, position_id=m.position_id, amount=amount,
                                sequence_number=sequence_number)
        elif m.delta < 0:
            amount: uint256 = convert(-m.delta, uint256)
            self.pending_withdrawals[m.stark_key] += amount
            log WithdrawalCredited(stark_key=m.stark_key, position_id=m.position_id, amount=amount,
                                   sequence_number=sequence_number)
    for request: bytes32 in forced_served:
        assert self.forced_request_time[request] != 0, "forced request not pending"
        self.forced_request_time[request] = 0
        log ForcedRequestServed(request=request, sequence_number=sequence_number)

    self.state_root = new_root
    self.sequence_number = sequence_number
    self.system_time = system_time
    self.prices_hash = prices_hash
    self.last_update_at = block.timestamp
    log StateUpdated(sequence_number=sequence_number, old_root=old_root, new_root=new_root,
                     da_mode=DA_MODE, da_hash=da_hash, batch_commitment=batch_commitment,
                     system_time=system_time, prices_hash=prices_hash)


@external
def update_state_rollup(old_root: bytes32, new_root: bytes32, system_time: uint256,
                        modifications: DynArray[Modification, MAX_MODIFICATIONS],
                        forced_served: DynArray[bytes32, MAX_FORCED_PER_BATCH],
                        asset_states: DynArray[AssetState, MAX_ASSETS], batch_commitment: bytes32,
                        state_diff: Bytes[MAX_STATE_DIFF_BYTES]):
    """Rollup mode: the state diff (the rollup's DA payload) is this call's calldata; its keccak
    is bound into the fact, as is the rollup's own batch commitment."""
    assert DA_MODE == DA_ROLLUP, "not a rollup deployment"
    self._update_state(old_root, new_root, system_time, modifications, forced_served, asset_states,
                       batch_commitment, keccak256(state_diff))


@external
def update_state_validium(old_root: bytes32, new_root: bytes32, system_time: uint256,
                          modifications: DynArray[Modification, MAX_MODIFICATIONS],
                          forced_served: DynArray[bytes32, MAX_FORCED_PER_BATCH],
                          asset_states: DynArray[AssetState, MAX_ASSETS], batch_commitment: bytes32,
                          da_hash: bytes32, signatures: DynArray[Signature, MAX_COMMITTEE]):
    """Validium mode: a quorum of the data-availability committee signed da_hash =
    keccak256(payload), exactly what the rollup's committee members sign (`perpetua.rollup.
    committee`: "I hold the data with this hash"); da_hash is bound into the fact with the new
    root. Signers are listed in strictly increasing address order (so each counts once)."""
    assert DA_MODE == DA_VALIDIUM, "not a validium deployment"
    last: uint160 = 0
    for sig: Signature in signatures:
        signer: address = ecrecover(da_hash, sig.v, sig.r, sig.s)
        assert convert(signer, uint160) > last, "signers not strictly increasing"
        assert self.is_committee_member[signer], "not a committee member"
        last = convert(signer, uint160)
    assert len(signatures) >= self.committee_quorum, "no data-availability quorum"
    self._update_state(old_root, new_root, system_time, modifications, forced_served, asset_states,
                       batch_commitment, da_hash)


# --- escape hatch -------------------------------------------------------------------------------
@external
def escape(stark_key: uint256, position_id: uint64, collateral: int256,
           assets: DynArray[PositionAsset, MAX_ASSETS], path: bytes32[64],
           asset_states: DynArray[AssetState, MAX_ASSETS]):
    """Frozen only, once per position: proves the position leaf against the last root and credits
    its value at the last prices, floor((collateral * 2^32 + sum(balance * price)
    - sum((index - cached_index) * balance)) / 2^32), or 0 if that is not positive."""
    assert self.frozen, "not frozen"
    assert not self.escaped[position_id], "position already escaped"
    assert stark_key != 0, "empty position"
    assert keccak256(abi_encode(asset_states)) == self.prices_hash, "prices are not the last state's"
    root: bytes32 = staticcall EscapeVerifier(ESCAPE_VERIFIER).position_root(
        position_id, stark_key, collateral, assets, path)
    assert root == self.state_root, "position not in the last state"
    self.escaped[position_id] = True

    total: int256 = collateral * FXP_32_ONE
    for a: PositionAsset in assets:
        found: bool = False
        for s: AssetState in asset_states:
            if s.asset_id == a.asset_id:
                total += a.balance * convert(s.price, int256)
                total -= (s.funding_index - a.cached_funding_index) * a.balance
                found = True
                break
        assert found, "no price for asset"
    amount: uint256 = 0
    if total > 0:
        amount = convert(total // FXP_32_ONE, uint256)
    self.pending_withdrawals[stark_key] += amount
    log Escaped(stark_key=stark_key, position_id=position_id, amount=amount)


# --- governance (timelocked) --------------------------------------------------------------------
@external
def propose_change(kind: uint8, new_value: bytes32) -> bytes32:
    """Governor: proposes a new verifier (kind 1, the address in the low 20 bytes) or a new
    global configuration hash (kind 2: risk factors, funding caps, ... bound into every batch);
    executable after GOVERNANCE_TIMELOCK."""
    assert msg.sender == self.governor, "only governor"
    assert kind == CHANGE_VERIFIER or kind == CHANGE_GLOBAL_CONFIG, "bad change kind"
    change_id: bytes32 = keccak256(abi_encode(kind, new_value))
    assert self.change_eta[change_id] == 0, "already proposed"
    eta: uint256 = block.timestamp + GOVERNANCE_TIMELOCK
    self.change_eta[change_id] = eta
    log ChangeProposed(change_id=change_id, kind=kind, value=new_value, eta=eta)
    return change_id


@external
def execute_change(kind: uint8, new_value: bytes32):
    assert msg.sender == self.governor, "only governor"
    change_id: bytes32 = keccak256(abi_encode(kind, new_value))
    eta: uint256 = self.change_eta[change_id]
    assert eta != 0, "not proposed"
    assert block.timestamp >= eta, "timelock not over"
    self.change_eta[change_id] = 0
    if kind == CHANGE_VERIFIER:
        self.verifier = convert(convert(new_value, uint256), address)
    else:
        self.global_config_hash = new_value
    log ChangeExecuted(change_id=change_id, kind=kind, value=new_value)


@external
def cancel_change(kind: uint8, new_value: bytes32):
    assert msg.sender == self.governor, "only governor"
    change_id: bytes32 = keccak256(abi_encode(kind, new_value))
    assert self.change_eta[change_id] != 0, "not proposed"
    self.change_eta[change_id] = 0
    log ChangeCancelled(change_id=change_id)
