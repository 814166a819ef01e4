# pragma version 0.4.3
"""
@title PerpetualEscapeVerifier
@notice Recomputes a positions-tree root from one position leaf and its Merkle path, with the
        rollup's hash: Poseidon2 over BabyBear, width 16 (Plonky3's default instance), the
        30-bit limb leaf encoding and the overwrite sponge of `perpetua.rollup.hashing`.
        The exchange compares the result with its last accepted root before paying an escape
        (StarkEx `PerpetualEscapeVerifier.sol`, with Poseidon2 in place of Pedersen).
"""

P: constant(uint256) = 2013265921  # BabyBear: 15 * 2^27 + 1
TREE_HEIGHT: constant(uint256) = 64
MAX_ASSETS: constant(uint256) = 64
LIMB_BITS: constant(uint256) = 30
LIMB_MASK: constant(uint256) = 2**30 - 1
SIGNED_BIAS: constant(int256) = 2**63
# limbs of a leaf: n_assets(1) + public_key(9) + collateral(3) + n * (asset_id(4) + balance(3) + index(3))
MAX_LEAF_LIMBS: constant(uint256) = 656  # 13 + 10 * 64 = 653, padded to a multiple of 8

struct PositionAsset:
    asset_id: uint256
    balance: int256
    cached_funding_index: int256

RC_EXT_INIT: constant(uint256[16][4]) = [[1774958255, 1185780729, 1621102414, 1796380621, 588815102, 1932426223, 1925334750, 747903232, 89648862, 360728943, 977184635, 1425273457, 256487465, 1200041953, 572403254, 448208942],
    [1215789478, 944884184, 953948096, 547326025, 646827752, 889997530, 1536873262, 86189867, 1065944411, 32019634, 333311454, 456061748, 1963448500, 1827584334, 1391160226, 1348741381],
    [88424255, 104111868, 1763866748, 79691676, 1988915530, 1050669594, 359890076, 573163527, 222820492, 159256268, 669703072, 763177444, 889367200, 256335831, 704371273, 25886717],
    [51754520, 1833211857, 454499742, 1384520381, 777848065, 1053320300, 1851729162, 344647910, 401996362, 1046925956, 5351995, 1212119315, 754867989, 36972490, 751272725, 506915399]]
RC_EXT_FINAL: constant(uint256[16][4]) = [[1922082829, 1870549801, 1502529704, 1990744480, 1700391016, 1702593455, 321330495, 528965731, 183414327, 1886297254, 1178602734, 1923111974, 744004766, 549271463, 1781349648, 542259047],
    [1536158148, 715456982, 503426110, 340311124, 1558555932, 1226350925, 742828095, 1338992758, 1641600456, 1843351545, 301835475, 43203215, 386838401, 1520185679, 1235297680, 904680097],
    [1491801617, 1581784677, 913384905, 247083962, 532844013, 107190701, 213827818, 1979521776, 1358282574, 1681743681, 1867507480, 1530706910, 507181886, 695185447, 1172395131, 1250800299],
    [1503161625, 817684387, 498481458, 494676004, 1404253825, 108246855, 59414691, 744214112, 890862029, 1342765939, 1417398904, 1897591937, 1066647396, 1682806907, 1015795079, 1619482808]]
RC_INT: constant(uint256[13]) = [1518359488, 1765533241, 945325693, 422793067, 311365592, 1311448267, 1629555936, 1009879353, 190525218, 786108885, 557776863, 212616710, 605745517]
DIAG: constant(uint256[16]) = [2013265919, 1, 2, 1006632961, 3, 4, 1006632960, 2013265918, 2013265917, 2005401601, 1509949441, 1761607681, 2013265906, 7864320, 125829120, 15]


@internal
@pure
def _external_linear(x: uint256[16]) -> uint256[16]:
    # M_E: M4 on each block of 4 lanes, then add the column sums of the four blocks.
    y: uint256[16] = empty(uint256[16])
    for b: uint256 in range(4):
        i: uint256 = 4 * b
        a: uint256 = x[i]
        c1: uint256 = x[i + 1]
        c2: uint256 = x[i + 2]
        c3: uint256 = x[i + 3]
        y[i] = unsafe_add(unsafe_add(unsafe_mul(2, a), unsafe_mul(3, c1)), unsafe_add(c2, c3))
        y[i + 1] = unsafe_add(unsafe_add(a, unsafe_mul(2, c1)), unsafe_add(unsafe_mul(3, c2), c3))
        y[i + 2] = unsafe_add(unsafe_add(a, c1), unsafe_add(unsafe_mul(2, c2), unsafe_mul(3, c3)))
        y[i + 3] = unsafe_add(unsafe_add(unsafe_mul(3, a), c1), unsafe_add(c2, unsafe_mul(2, c3)))
    for j: uint256 in range(4):
        s: uint256 = unsafe_add(unsafe_add(y[j], y[j + 4]), unsafe_add(y[j + 8], y[j + 12]))
        y[j] = unsafe_add(y[j], s) % P
        y[j + 4] = unsafe_add(y[j + 4], s) % P
        y[j + 8] = unsafe_add(y[j + 8], s) % P
        y[j + 12] = unsafe_add(y[j + 12], s) % P
    return y


@internal
@pure
def _sbox(v: uint256) -> uint256:
    x2: uint256 = uint256_mulmod(v, v, P)
    x3: uint256 = uint256_mulmod(x2, v, P)
    return uint256_mulmod(uint256_mulmod(x3, x3, P), v, P)


@internal
@pure
def _full_round(x: uint256[16], rc: uint256[16]) -> uint256[16]:
    y: uint256[16] = empty(uint256[16])
    for i: uint256 in range(16):
        v: uint256 = unsafe_add(x[i], rc[i])
        x2: uint256 = uint256_mulmod(v, v, P)
        x3: uint256 = uint256_mulmod(x2, v, P)
        y[i] = uint256_mulmod(uint256_mulmod(x3, x3, P), v, P)
    return self._external_linear(y)


@internal
@pure
def _permute(state: uint256[16]) -> uint256[16]:
    """Poseidon2 (BabyBear, width 16): M_E; 4 full rounds; 13 partial rounds; 4 full rounds."""
    x: uint256[16] = self._external_linear(state)
    for r: uint256 in range(4):
        x = self._full_round(x, RC_EXT_INIT[r])
    diag: uint256[16] = DIAG
    for r: uint256 in range(13):
        x[0] = self._sbox(unsafe_add(x[0], RC_INT[r]))
        s: uint256 = 0
        for i: uint256 in range(16):
            s = unsafe_add(s, x[i])
        for i: uint256 in range(16):
            x[i] = uint256_addmod(uint256_mulmod(diag[i], x[i], P), s, P)
    for r: uint256 in range(4):
        x = self._full_round(x, RC_EXT_FINAL[r])
    return x


@internal
@pure
def _bswap32(w: uint256) -> uint256:
    return (
        ((w & 255) << 24) | (((w >> 8) & 255) << 16) | (((w >> 16) & 255) << 8) | ((w >> 24) & 255)
    )


@internal
@pure
def _digest_to_elements(d: bytes32) -> uint256[8]:
    """A 32-byte digest (8 little-endian uint32) as its 8 field elements."""
    v: uint256 = convert(d, uint256)
    out: uint256[8] = empty(uint256[8])
    for i: uint256 in range(8):
        out[i] = self._bswap32((v >> (224 - 32 * i)) & 4294967295)
    return out


@internal
@pure
def _elements_to_digest(e: uint256[8]) -> bytes32:
    v: uint256 = 0
    for i: uint256 in range(8):
        v = v | (self._bswap32(e[i]) << (224 - 32 * i))
    return convert(v, bytes32)


@internal
@pure
def _push_limbs(out: DynArray[uint256, MAX_LEAF_LIMBS], x: uint256, count: uint256) -> DynArray[uint256, MAX_LEAF_LIMBS]:
    res: DynArray[uint256, MAX_LEAF_LIMBS] = out
    v: uint256 = x
    for i: uint256 in range(count, bound=9):
        res.append(v & LIMB_MASK)
        v = v >> LIMB_BITS
    assert v == 0, "limb overflow"
    return res


@internal
@pure
def _biased(v: int256) -> uint256:
    assert v >= -SIGNED_BIAS and v < SIGNED_BIAS, "out of range"
    return convert(v + SIGNED_BIAS, uint256)


@external
@pure
def leaf_limbs(public_key: uint256, collateral: int256, assets: DynArray[PositionAsset, MAX_ASSETS]) -> DynArray[uint256, MAX_LEAF_LIMBS]:
    """The limb list of a position leaf (`perpetua.rollup.hashing.position_limbs`)."""
    return self._leaf_limbs(public_key, collateral, assets)


@internal
@pure
def _leaf_limbs(public_key: uint256, collateral: int256, assets: DynArray[PositionAsset, MAX_ASSETS]) -> DynArray[uint256, MAX_LEAF_LIMBS]:
    out: DynArray[uint256, MAX_LEAF_LIMBS] = [len(assets)]
    out = self._push_limbs(out, public_key, 9)
    out = self._push_limbs(out, self._biased(collateral), 3)
    last_id: uint256 = 0
    for k: uint256 in range(len(assets), bound=MAX_ASSETS):
        a: PositionAsset = assets[k]
        assert k == 0 or a.asset_id > last_id, "assets not sorted"
        last_id = a.asset_id
        out = self._push_limbs(out, a.asset_id, 4)
        out = self._push_limbs(out, self._biased(a.balance), 3)
        out = self._push_limbs(out, self._biased(a.cached_funding_index), 3)
    return out


@internal
@pure
def _leaf_hash(public_key: uint256, collateral: int256, assets: DynArray[PositionAsset, MAX_ASSETS]) -> uint256[8]:
    """Overwrite sponge, rate 8: state[0:8] = chunk; state = P(state); digest = state[0:8]."""
    limbs: DynArray[uint256, MAX_LEAF_LIMBS] = self._leaf_limbs(public_key, collateral, assets)
    n: uint256 = len(limbs)
    state: uint256[16] = empty(uint256[16])
    for chunk: uint256 in range(MAX_LEAF_LIMBS // 8):
        c: uint256 = 8 * chunk
        if c >= n:
            break
        for j: uint256 in range(8):
            if c + j < n:
                state[j] = limbs[c + j]
            else:
                state[j] = 0
        state = self._permute(state)
    return [state[0], state[1], state[2], state[3], state[4], state[5], state[6], state[7]]


@external
@pure
def permute(state: uint256[16]) -> uint256[16]:
    return self._permute(state)


@external
@pure
def hash_two(left: bytes32, right: bytes32) -> bytes32:
    """Node hash: P(left || right)[0:8]."""
    return self._elements_to_digest(self._compress(self._digest_to_elements(left), self._digest_to_elements(right)))


@internal
@pure
def _compress(left: uint256[8], right: uint256[8]) -> uint256[8]:
    s: uint256[16] = empty(uint256[16])
    for i: uint256 in range(8):
        s[i] = left[i]
        s[i + 8] = right[i]
    s = self._permute(s)
    return [s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]


@external
@pure
def leaf_hash(public_key: uint256, collateral: int256, assets: DynArray[PositionAsset, MAX_ASSETS]) -> bytes32:
    return self._elements_to_digest(self._leaf_hash(public_key, collateral, assets))


@external
@pure
def position_root(position_id: uint64, public_key: uint256, collateral: int256, assets: DynArray[PositionAsset, MAX_ASSETS], path: bytes32[TREE_HEIGHT]) -> bytes32:
    """The root implied by a position leaf at `position_id` and its siblings, leaf level first."""
    node: uint256[8] = self._leaf_hash(public_key, collateral, assets)
    index: uint256 = convert(position_id, uint256)
    for level: uint256 in range(TREE_HEIGHT):
        sibling: uint256[8] = self._digest_to_elements(path[level])
        if (index >> level) & 1 == 0:
            node = self._compress(node, sibling)
        else:
            node = self._compress(sibling, node)
    return self._elements_to_digest(node)
