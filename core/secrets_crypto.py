"""Envelope encryption of secrets: AES-256-GCM (the ``cryptography`` package), pure of I/O.

A namespace's data key (DEK, 256 bits) seals each secret value; the DEK itself is kept only
wrapped by a key-encryption key (KEK), named by its id so that the KEK can be rotated (every DEK
rewrapped under a new one). Both use a fresh 96-bit nonce per encryption and bind what they seal
to where it belongs with associated data (namespace, name, version; namespace and DEK id), so a
ciphertext copied to another secret or namespace does not open. Deleting a namespace's DEKs makes
every value they sealed unreadable, wherever a copy of the ciphertext lives (crypto-shredding).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # GCM's 96-bit nonce, drawn at random for every encryption


class SecretUnreadable(Exception):
    """A ciphertext that does not open: its key is gone (shredded, another KEK), or it was moved or altered."""


@dataclass(frozen=True, slots=True)
class Kek:
    kek_id: str
    key: bytes = b""

    def __repr__(self) -> str:  # never the key itself, in a log or a traceback
        return f"Kek({self.kek_id})"


def kek_of(key: bytes) -> Kek:
    """A KEK and its id (a digest of the key: the same key has the same id everywhere)."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"a key-encryption key has {KEY_BYTES} bytes, this one {len(key)}")
    return Kek(hashlib.sha256(b"jobstream-kek\0" + key).hexdigest()[:16], key)


@dataclass(frozen=True, slots=True)
class KekRing:
    """The KEKs a process knows, the current one (that wraps new DEKs) first; older ones still unwrap."""

    keks: tuple[Kek, ...]

    @property
    def current(self) -> Kek:
        return self.keks[0]

    def find(self, kek_id: str) -> Kek | None:
        return next((k for k in self.keks if k.kek_id == kek_id), None)


def parse_keks(text: str) -> KekRing:
    """KEKs in base64, separated by commas or whitespace (a file's lines, or an env var), current first."""
    words = text.replace(",", " ").split()
    if not words:
        raise ValueError("no key-encryption key given")
    try:
        return KekRing(tuple(kek_of(base64.b64decode(w, validate=True)) for w in words))
    except binascii.Error as error:
        raise ValueError(f"a key-encryption key is not base64: {error}") from None


def format_keks(ring: KekRing) -> str:
    return "".join(base64.b64encode(k.key).decode() + "\n" for k in ring.keks)


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError) as error:
        raise SecretUnreadable("the ciphertext does not open with this key for this place") from error


def _dek_aad(namespace: str, dek_id: str) -> bytes:
    return f"jobstream-dek\0{namespace}\0{dek_id}".encode()


def _secret_aad(namespace: str, name: str, version: int) -> bytes:
    return f"jobstream-secret\0{namespace}\0{name}\0{version}".encode()


def wrap_dek(kek: Kek, namespace: str, dek_id: str, dek: bytes) -> bytes:
    return _seal(kek.key, dek, _dek_aad(namespace, dek_id))


def unwrap_dek(ring: KekRing, kek_id: str, namespace: str, dek_id: str, wrapped: bytes) -> bytes:
    kek = ring.find(kek_id)
    if kek is None:
        raise SecretUnreadable(f"data key {dek_id} is wrapped by KEK {kek_id}, which this process does not hold")
    return _open(kek.key, wrapped, _dek_aad(namespace, dek_id))


def seal_value(dek: bytes, namespace: str, name: str, version: int, value: str) -> bytes:
    return _seal(dek, value.encode(), _secret_aad(namespace, name, version))


def open_value(dek: bytes, namespace: str, name: str, version: int, sealed: bytes) -> str:
    return _open(dek, sealed, _secret_aad(namespace, name, version)).decode()
