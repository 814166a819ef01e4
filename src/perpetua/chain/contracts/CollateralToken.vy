# pragma version 0.4.3
"""
@title CollateralToken
@notice The exchange's collateral: a plain ERC-20 with 6 decimals (USDC-like quantums).
        Mintable only when deployed as a test-network token (`test_network = True`), and then only
        by its minter; on a real network the constructor mints the whole supply once and `mint`
        always reverts.
"""

from ethereum.ercs import IERC20

implements: IERC20

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256

name: public(String[32])
symbol: public(String[8])
decimals: public(constant(uint8)) = 6
TEST_NETWORK: public(immutable(bool))
minter: public(address)

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
totalSupply: public(uint256)


@deploy
def __init__(name_: String[32], symbol_: String[8], test_network: bool, initial_supply: uint256):
    self.name = name_
    self.symbol = symbol_
    TEST_NETWORK = test_network
    self.minter = msg.sender
    if initial_supply > 0:
        self._mint(msg.sender, initial_supply)


@internal
def _mint(to: address, amount: uint256):
    assert to != empty(address), "mint to zero"
    self.totalSupply += amount
    self.balanceOf[to] += amount
    log Transfer(sender=empty(address), receiver=to, value=amount)


@external
def mint(to: address, amount: uint256):
    """Test networks only: the minter creates tokens."""
    assert TEST_NETWORK, "not a test network token"
    assert msg.sender == self.minter, "only minter"
    self._mint(to, amount)


@internal
def _transfer(sender: address, receiver: address, amount: uint256):
    assert receiver != empty(address), "transfer to zero"
    self.balanceOf[sender] -= amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=sender, receiver=receiver, value=amount)


@external
def transfer(receiver: address, amount: uint256) -> bool:
    self._transfer(msg.sender, receiver, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    allowed: uint256 = self.allowance[sender][msg.sender]
    if allowed != max_value(uint256):
        self.allowance[sender][msg.sender] = allowed - amount
    self._transfer(sender, receiver, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, value=amount)
    return True
