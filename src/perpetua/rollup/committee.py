"""The validium data-availability committee, as separate processes.

Each member is its own OS process (`start_member`) with its own secp256k1 key and its own store
(a directory: one file per batch, `<sequence>.payload`). It listens on a local socket
(`multiprocessing.connection`, AF_UNIX, authenticated with a shared `authkey`) and answers:

- `("store", sequence, payload)`: it checks the payload is a well-formed state diff
  (`batch.decode_diff`), writes it to its store, hashes it itself (keccak256) and returns its
  signature over that hash (`batch.sign_payload`: recoverable, r || s || v, as `eth_sign` over the
  raw 32 bytes) -- a member never signs a hash it was handed, only data it holds;
- `("get", sequence)`: the payload bytes it holds, or None;
- `("stop",)`: it exits.

The operator (`Committee`) sends a batch's payload to every member and collects signatures until
a quorum of distinct known members has signed keccak256(payload); a member that is down, refuses,
or answers with a signature that does not recover to its own address (forged) does not count.
Short of a quorum, `certify` raises `QuorumNotReached` and the batch must not go to L1.
`Committee.fetch` gets a payload back from any member that holds it (keccak-checked), which is
how a trader rebuilds the state (`rebuild.rebuild`) when the operator is gone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Client, Listener
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from coincurve import PrivateKey

from perpetua.crypto.keccak import keccak256
from perpetua.rollup.batch import (
    Batch,
    CommitteeSignature,
    Mode,
    decode_diff,
    eth_address,
    recover_signer,
    sign_payload,
)

CONNECT_TIMEOUT_S = 10.0


class QuorumNotReached(Exception):
    """Fewer than `quorum` distinct committee members signed the payload hash."""

    def __init__(self, signed: int, quorum: int, failures: dict[str, str]) -> None:
        super().__init__(f"{signed} of the {quorum} committee signatures needed: {failures}")
        self.signed = signed
        self.quorum = quorum
        self.failures = failures


# -- the member process ------------------------------------------------------------------------

def _handle(request: tuple[Any, ...], key: PrivateKey, store: Path, forge: bool) -> Any:
    kind = request[0]
    if kind == "store":
        _, sequence, payload = request
        if not isinstance(sequence, int) or sequence < 0 or not isinstance(payload, bytes):
            return ("error", "bad store request")
        try:
            decode_diff(payload)
        except Exception as error:
            return ("error", f"not a state diff: {type(error).__name__}")
        path = store / f"{sequence}.payload"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(payload)
        os.replace(tmp, path)
        digest = keccak256(payload)
        if forge:  # test hook: a faulty member signs something else under its own address
            digest = keccak256(b"forged" + digest)
        sig = sign_payload(key, digest)
        return ("signed", sig.address, sig.signature)
    if kind == "get":
        path = store / f"{request[1]}.payload"
        return ("payload", path.read_bytes() if path.exists() else None)
    return ("error", f"unknown request {kind!r}")


def serve(address: str, authkey: bytes, secret: bytes, store_dir: str, forge: bool = False) -> None:
    """A member's main loop (the target of its process): one request per connection."""
    key = PrivateKey(secret)
    store = Path(store_dir)
    store.mkdir(parents=True, exist_ok=True)
    with Listener(address, family="AF_UNIX", authkey=authkey) as listener:
        while True:
            try:
                conn = listener.accept()
            except (OSError, EOFError):
                continue
            with conn:
                try:
                    request = conn.recv()
                except (OSError, EOFError):
                    continue
                if request == ("stop",):
                    conn.send(("stopped",))
                    return
                conn.send(_handle(request, key, store, forge))


@dataclass
class Member:
    """The operator's handle on one member process."""

    address: str
    """The member's socket path."""
    eth_address: bytes
    """The member's 20-byte Ethereum address (its committee identity)."""
    authkey: bytes
    process: BaseProcess | None = None

    def request(self, *message: Any, timeout_s: float = CONNECT_TIMEOUT_S) -> Any:
        """Send one request and return the answer (raises OSError / EOFError when unreachable)."""
        with Client(self.address, family="AF_UNIX", authkey=self.authkey) as conn:
            conn.send(message)
            if not conn.poll(timeout_s):
                raise TimeoutError(f"member {self.eth_address.hex()} did not answer")
            return conn.recv()

    def stop(self) -> None:
        """Ask the process to exit (kill it if it does not) and wait for it."""
        with contextlib.suppress(OSError, EOFError, TimeoutError):
            self.request("stop", timeout_s=2.0)
        if self.process is not None:
            self.process.join(5.0)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(5.0)


def start_member(secret: bytes, store_dir: Path, socket_path: Path, authkey: bytes, *,
                 forge: bool = False) -> Member:
    """Start one member as a separate process (spawned: a fresh interpreter) and wait until it
    listens. `forge` makes a faulty member (tests only)."""
    ctx = multiprocessing.get_context("spawn")
    process = ctx.Process(target=serve, args=(str(socket_path), authkey, secret, str(store_dir), forge),
                          daemon=True, name=f"da-member-{socket_path.name}")
    process.start()
    member = Member(str(socket_path), eth_address(PrivateKey(secret).public_key), authkey, process)
    deadline = time.monotonic() + 60.0
    while True:
        try:
            if member.request("get", -1, timeout_s=5.0) == ("payload", None):
                return member
        except (OSError, EOFError, TimeoutError):
            pass
        if not process.is_alive() or time.monotonic() > deadline:
            member.stop()
            raise RuntimeError(f"committee member at {socket_path} did not start")
        time.sleep(0.05)


# -- the operator side --------------------------------------------------------------------------

@dataclass
class Committee:
    """The committee as the operator sees it: members (processes) and the quorum."""

    members: Sequence[Member]
    quorum: int

    @property
    def addresses(self) -> frozenset[bytes]:
        return frozenset(m.eth_address for m in self.members)

    def collect(self, sequence: int, payload: bytes) -> tuple[CommitteeSignature, ...]:
        """Send the payload to every member; return the valid signatures (one per member) once a
        quorum is reached, else raise QuorumNotReached naming why each member failed."""
        payload_hash = keccak256(payload)
        signatures: list[CommitteeSignature] = []
        failures: dict[str, str] = {}
        for member in self.members:
            name = member.eth_address.hex()
            try:
                answer = member.request("store", sequence, payload)
            except (OSError, EOFError, TimeoutError) as error:
                failures[name] = f"unreachable ({type(error).__name__})"
                continue
            if not (isinstance(answer, tuple) and len(answer) == 3 and answer[0] == "signed"):
                failures[name] = f"refused: {answer!r}"
                continue
            _, address, signature = answer
            if address != member.eth_address or recover_signer(payload_hash, signature) != member.eth_address:
                failures[name] = "signature does not recover to the member's address"
                continue
            signatures.append(CommitteeSignature(address, signature))
        if len(signatures) < self.quorum:
            raise QuorumNotReached(len(signatures), self.quorum, failures)
        return tuple(signatures)

    def certify(self, batch: Batch) -> Batch:
        """The validium batch with the committee's signatures (QuorumNotReached otherwise)."""
        if batch.mode is not Mode.VALIDIUM:
            raise ValueError("only validium batches are certified by the committee")
        return dataclasses.replace(batch, committee_signatures=self.collect(batch.sequence, batch.payload))

    def fetch(self, sequence: int, payload_hash: bytes) -> bytes:
        """The payload of batch `sequence` from the first member that holds it and whose copy
        hashes to `payload_hash` (the hash posted on L1)."""
        for member in self.members:
            try:
                answer = member.request("get", sequence)
            except (OSError, EOFError, TimeoutError):
                continue
            if isinstance(answer, tuple) and answer[0] == "payload" and isinstance(answer[1], bytes) \
                    and keccak256(answer[1]) == payload_hash:
                return answer[1]
        raise LookupError(f"no committee member serves batch {sequence} with hash {payload_hash.hex()}")

    def stop(self) -> None:
        for member in self.members:
            member.stop()
