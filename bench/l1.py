"""L1 settlement benchmark: gas of every user-facing call of the Vyper contracts on py-evm.

Gas is deterministic and is what an Ethereum transaction would be charged (21,000 + calldata +
execution - refund, cold accounts and storage per transaction). Measured: a deposit; a state update
by batch size (trades per batch, each trade changing two positions whose full leaves, and two
order records, go into the DA payload in the rollup's format) in rollup mode (state diff as calldata) and validium mode (2-of-3 committee
signatures); a withdrawal claim; an escape (a one-asset position, Poseidon2 Merkle path of height
64 verified on-chain). The per-trade L1 cost of a batch is compared with settling every trade on L1
(`TradeBaseline` below: two signed orders, two ecrecovers, two positions' collateral and balance
updated, two order-fill records: the least an on-chain order-book settlement does). Also: EVM calls
per second in-process (wall time, this machine).

    python bench/l1.py [--quick] [--json]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _report import bench_parser, print_json
from eth_utils import keccak

from perpetua.chain.backend import BoaChain
from perpetua.chain.batch import AssetState, Batch, Modification, encode_payload
from perpetua.chain.client import OperatorClient, Trader, account, deploy, sign_hash
from perpetua.chain.constants import DA_ROLLUP, DA_VALIDIUM
from perpetua.chain.merkle import Leaf, LeafAsset, PositionTree

BTC = 0x4254432D3130000000000000000000
PRICE = 40_000 * 2**32 // 10**4
ONE_USDC = 10**6

TRADE_BASELINE = '''
# pragma version 0.4.3
struct Order:
    position_id: uint64
    is_buy: bool
    amount_synthetic: uint256
    amount_collateral: uint256
    nonce: uint256
    expiration: uint256

struct Sig:
    v: uint8
    r: bytes32
    s: bytes32

owner: public(HashMap[uint64, address])
collateral: public(HashMap[uint64, int256])
synthetic: public(HashMap[uint64, int256])
filled: public(HashMap[bytes32, uint256])

@external
def open(position_id: uint64, collateral: int256):
    self.owner[position_id] = msg.sender
    self.collateral[position_id] = collateral

@internal
def _check(o: Order, sig: Sig, amount: uint256) -> bytes32:
    h: bytes32 = keccak256(abi_encode(o))
    assert ecrecover(h, sig.v, sig.r, sig.s) == self.owner[o.position_id], "bad signature"
    assert block.timestamp <= o.expiration, "expired"
    f: uint256 = self.filled[h] + amount
    assert f <= o.amount_synthetic, "overfilled"
    self.filled[h] = f
    return h

@external
def settle_trade(buy: Order, sell: Order, sig_buy: Sig, sig_sell: Sig, synthetic: uint256, collateral: uint256):
    assert buy.is_buy and not sell.is_buy
    self._check(buy, sig_buy, synthetic)
    self._check(sell, sig_sell, synthetic)
    s: int256 = convert(synthetic, int256)
    c: int256 = convert(collateral, int256)
    self.synthetic[buy.position_id] += s
    self.synthetic[sell.position_id] -= s
    self.collateral[buy.position_id] -= c
    self.collateral[sell.position_id] += c
'''


def _batch(tree: PositionTree, first_id: int, n_trades: int, now: int, seq: int) -> tuple[Batch, dict[int, Leaf]]:
    changed = {}
    for k in range(n_trades):
        for j, sign in ((0, 1), (1, -1)):
            pid = first_id + 2 * k + j
            changed[pid] = Leaf(0x5000 + pid, 10_000 * ONE_USDC - sign * seq * 4_000 * ONE_USDC // 10,
                                (LeafAsset(BTC, sign * seq * 10**9, 0),))
    new = PositionTree(tree.leaves)
    new.update(changed)
    # A real trade also fills two order records (ids: the order hash >> 187, ~64 bits), which the
    # rollup's payload carries; the L1 root is the positions root, the orders root is bound through
    # the rollup's commitment.
    orders = {int.from_bytes(keccak(b"%d:%d:%d" % (seq, k, j))[:8], "big"): 10**9
              for k in range(n_trades) for j in range(2)}
    states = (AssetState(BTC, PRICE, 0),)
    payload = encode_payload(changed, states, now - 60, orders)
    return Batch(tree.root, new.root, now - 60, (), (), states, payload, keccak(payload + b"c")), changed


def measure_updates(da_mode: int, sizes: list[int]) -> dict[int, int]:
    chain = BoaChain(start_timestamp=1_700_000_000)
    d = deploy(chain, da_mode=da_mode, label=f"bench{da_mode}")
    op = OperatorClient(d)
    tree = PositionTree()
    out = {}
    first = 1
    for seq, n in enumerate(sizes, start=1):
        batch, changed = _batch(tree, first, n, chain.now(), seq)
        out[n] = op.submit_batch(batch).gas_used
        tree.update(changed)
        first += 2 * n
        chain.advance_time(60)
    return out


def measure_user_calls(escape: bool) -> dict[str, float]:
    chain = BoaChain(start_timestamp=1_700_000_000)
    d = deploy(chain, da_mode=DA_ROLLUP, label="bench-users")
    op = OperatorClient(d)
    traders = []
    for i in range(2):
        eth = account(f"bench-trader:{i}")
        op.register_user(eth.address, 0x7000 + i)
        chain.transact(d.governor.address, d.token, "mint", eth.address, 10**12)
        chain.transact(eth.address, d.token, "approve", d.exchange, 2**256 - 1)
        traders.append(Trader(d, eth, 0x7000 + i))
    res: dict[str, float] = {}
    res["deposit_gas"] = traders[0].deposit(1, 1_000 * ONE_USDC).gas_used
    res["deposit_again_gas"] = traders[0].deposit(1, 1_000 * ONE_USDC).gas_used
    traders[1].deposit(2, 2_000 * ONE_USDC)
    tree = PositionTree()
    leaves = {1: Leaf(0x7000, 1_900 * ONE_USDC - 4_000 * ONE_USDC // 10, (LeafAsset(BTC, 10**9, 0),)),
              2: Leaf(0x7001, 2_000 * ONE_USDC + 4_000 * ONE_USDC // 10, (LeafAsset(BTC, -(10**9), 0),))}
    new = PositionTree(leaves)
    mods = (Modification(0x7000, 1, 2_000 * ONE_USDC), Modification(0x7001, 2, 2_000 * ONE_USDC),
            Modification(0x7000, 1, -100 * ONE_USDC))
    states = (AssetState(BTC, PRICE, 0),)
    op.submit_batch(Batch(tree.root, new.root, chain.now() - 60, mods, (), states,
                          encode_payload(leaves, states, chain.now() - 60)))
    res["withdrawal_claim_gas"] = traders[0].withdraw().gas_used
    res["forced_withdrawal_request_gas"] = traders[0].forced_withdrawal(1, 5).gas_used
    if escape:
        request = traders[1].forced_withdrawal(2, 5).return_value
        chain.advance_time(7 * 86_400 + 1)
        res["freeze_gas"] = traders[1].freeze(request).gas_used
        t0 = time.perf_counter()
        r = traders[0].escape(1, new.leaves[1], new.path(1), (AssetState(BTC, PRICE, 0),))
        res["escape_wall_s"] = round(time.perf_counter() - t0, 2)
        res["escape_gas"] = r.gas_used
    # EVM calls per second in-process.
    n = 300
    t0 = time.perf_counter()
    for _ in range(n):
        chain.call(d.exchange, "state_root")
    res["calls_per_s"] = round(n / (time.perf_counter() - t0))
    t0 = time.perf_counter()
    for _ in range(n // 3):
        chain.transact(traders[1].eth.address, d.token, "transfer", traders[0].eth.address, 1)
    res["transactions_per_s"] = round((n // 3) / (time.perf_counter() - t0))
    return res


def measure_baseline() -> int:
    chain = BoaChain(start_timestamp=1_700_000_000)
    a, b = account("baseline-a"), account("baseline-b")
    addr = chain.deploy_source(TRADE_BASELINE, "TradeBaseline", sender=a.address)
    chain.transact(a.address, addr, "open", 1, 10**10)
    chain.transact(b.address, addr, "open", 2, 10**10)
    from eth_abi import encode

    exp = chain.now() + 3600
    buy = (1, True, 10**9, 4_000 * ONE_USDC, 11, exp)
    sell = (2, False, 10**9, 4_000 * ONE_USDC, 12, exp)
    t = "(uint64,bool,uint256,uint256,uint256,uint256)"
    sig_buy = sign_hash(a, keccak(encode([t], [buy])))
    sig_sell = sign_hash(b, keccak(encode([t], [sell])))
    # second fill of the same orders: the cheaper, steady-state case (fill records already exist)
    chain.transact(a.address, addr, "settle_trade", buy, sell, sig_buy, sig_sell, 10**8, 400 * ONE_USDC)
    return chain.transact(a.address, addr, "settle_trade", buy, sell, sig_buy, sig_sell, 10**8,
                          400 * ONE_USDC).gas_used


def main() -> None:
    args = bench_parser(__doc__.splitlines()[0], "smaller run (well under 30 s)").parse_args()
    sizes = [1, 10, 100] if args.quick else [1, 10, 100, 500]
    t0 = time.perf_counter()
    rollup = measure_updates(DA_ROLLUP, sizes)
    validium = measure_updates(DA_VALIDIUM, sizes)
    users = measure_user_calls(escape=True)
    baseline = measure_baseline()
    big = sizes[-1]
    res: dict[str, object] = dict(users)
    res.update({
        "state_update_rollup_gas": {str(n): g for n, g in rollup.items()},
        "state_update_validium_gas": {str(n): g for n, g in validium.items()},
        "per_trade_rollup_gas": round(rollup[big] / big),
        "per_trade_validium_gas": round(validium[big] / big),
        "per_trade_on_l1_gas": baseline,
        "rollup_saving_x": round(baseline / (rollup[big] / big), 1),
        "validium_saving_x": round(baseline / (validium[big] / big), 1),
        "batch_size_trades": big,
        "wall_s": round(time.perf_counter() - t0, 1),
    })
    print(f"{'figure':<36}{'value':>14}  unit")
    for key in ("deposit_gas", "deposit_again_gas", "withdrawal_claim_gas", "forced_withdrawal_request_gas",
                "freeze_gas", "escape_gas"):
        print(f"{key:<36}{res[key]:>14,}  gas")
    for n in sizes:
        print(f"{'state update, ' + str(n) + ' trades, rollup':<36}{rollup[n]:>14,}  gas"
              f"   ({rollup[n] / n:,.0f} per trade)")
        print(f"{'state update, ' + str(n) + ' trades, validium':<36}{validium[n]:>14,}  gas"
              f"   ({validium[n] / n:,.0f} per trade)")
    print(f"{'one trade settled on L1 (baseline)':<36}{baseline:>14,}  gas")
    print(f"{'rollup saving at ' + str(big) + ' trades/batch':<36}{res['rollup_saving_x']:>14}  x")
    print(f"{'validium saving at ' + str(big) + ' trades/batch':<36}{res['validium_saving_x']:>14}  x")
    print(f"{'escape wall time (py-evm)':<36}{res['escape_wall_s']:>14}  s")
    print(f"{'view calls in-process':<36}{res['calls_per_s']:>14,}  calls/s")
    print(f"{'transactions in-process':<36}{res['transactions_per_s']:>14,}  tx/s")
    print_json(args, res)


if __name__ == "__main__":
    main()
