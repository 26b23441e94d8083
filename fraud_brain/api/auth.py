"""API keys with roles: keys are stored only as sha256 hashes; each endpoint names the roles it admits.

A keys file is TOML, one ``[[key]]`` table per key::

    [[key]]
    name = "alice"          # who holds it (shown in the audit log)
    role = "agent"          # feed, bank, agent, analyst or admin
    sha256 = "5e88...c0"    # hash_key(the key); the key itself is never written down

The environment variable (``FRAUD_BRAIN_API_KEYS``) holds the same as ``name:role:sha256``
entries separated by commas.

>>> ring = KeyRing.parse_env(f"alice:agent:{hash_key('s3cret')}")
>>> ring.lookup("s3cret")
Principal(name='alice', role='agent')
>>> ring.lookup("wrong") is None
True
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path

from fraud_brain.errors import ConfigError, MissingInputError

ROLES = ("feed", "bank", "agent", "analyst", "admin")
"""Every role a key can have: telecom feeds, banks, call-centre agents, analysts, administrators."""


class KeyFileError(ConfigError):
    """A keys file or variable that cannot be used (names the file and the entry)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key holder's name and role.

    >>> Principal("alice", "agent").role
    'agent'
    """

    name: str
    role: str


def hash_key(key: str) -> str:
    """The sha256 hex digest stored for an API key.

    >>> hash_key("s3cret")[:12]
    '1ec1c26b50d5'
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh random API key (32 url-safe bytes).

    >>> len(new_key()) >= 40
    True
    """
    return secrets.token_urlsafe(32)


class KeyRing:
    """The known key hashes and whom they belong to.

    >>> ring = KeyRing({hash_key("k"): Principal("feed-1", "feed")})
    >>> ring.lookup("k").name, len(ring)
    ('feed-1', 1)
    """

    def __init__(self, entries: dict[str, Principal] | None = None):
        self._by_hash = dict(entries or {})

    def __len__(self) -> int:
        return len(self._by_hash)

    def add(self, digest: str, principal: Principal, where: str) -> None:
        """Add one hashed key, checking the role and the digest's shape."""
        if principal.role not in ROLES:
            raise KeyFileError(f"{where}: role {principal.role!r} must be one of {list(ROLES)}")
        digest = digest.strip().lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise KeyFileError(f"{where}: sha256 must be 64 hex digits (a hash of the key, not the key itself)")
        if not principal.name:
            raise KeyFileError(f"{where}: name must not be empty")
        self._by_hash[digest] = principal

    def lookup(self, key: str) -> Principal | None:
        """The principal holding ``key``, or None for an unknown key."""
        digest = hash_key(key)
        for known, principal in self._by_hash.items():
            # Constant-time comparison so response timing does not leak how much of a hash matched.
            if hmac.compare_digest(known, digest):
                return principal
        return None

    @classmethod
    def parse_env(cls, value: str, where: str = "FRAUD_BRAIN_API_KEYS") -> KeyRing:
        """Keys from ``name:role:sha256`` entries separated by commas.

        >>> try:
        ...     KeyRing.parse_env("bob:boss:" + "0" * 64)
        ... except KeyFileError as error:
        ...     print(error)
        FRAUD_BRAIN_API_KEYS entry 1: role 'boss' must be one of ['feed', 'bank', 'agent', 'analyst', 'admin']
        """
        ring = cls()
        for i, entry in enumerate((e.strip() for e in value.split(",")), start=1):
            if not entry:
                continue
            parts = entry.split(":")
            if len(parts) != 3:
                raise KeyFileError(f"{where} entry {i}: expected name:role:sha256, got {len(parts)} part(s)")
            name, role, digest = parts
            ring.add(digest, Principal(name.strip(), role.strip()), f"{where} entry {i}")
        return ring

    @classmethod
    def load_file(cls, path: Path) -> KeyRing:
        """Keys from a TOML keys file (see the module docstring)."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MissingInputError(f"keys file {path} does not exist") from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise KeyFileError(f"keys file {path}: {error}") from None
        ring = cls()
        entries = data.get("key", [])
        if not isinstance(entries, list):
            raise KeyFileError(f"keys file {path}: 'key' must be an array of tables ([[key]])")
        for i, entry in enumerate(entries, start=1):
            where = f"keys file {path}, key {i}"
            missing = [f for f in ("name", "role", "sha256") if not isinstance(entry.get(f), str)]
            if missing:
                raise KeyFileError(f"{where}: missing text field(s) {missing}")
            ring.add(entry["sha256"], Principal(entry["name"], entry["role"]), where)
        return ring

    @classmethod
    def from_sources(cls, keys_file: Path | None, env_var: str) -> KeyRing:
        """Keys from the file (if any) and the environment variable (if set), merged."""
        ring = cls.load_file(keys_file) if keys_file is not None else cls()
        value = os.environ.get(env_var)
        if value:
            ring._by_hash.update(cls.parse_env(value, env_var)._by_hash)
        return ring


def key_from_headers(authorization: str | None, x_api_key: str | None) -> str | None:
    """The presented key: ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``.

    >>> key_from_headers("Bearer abc", None), key_from_headers(None, "xyz"), key_from_headers("Basic a", None)
    ('abc', 'xyz', None)
    """
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    if x_api_key and x_api_key.strip():
        return x_api_key.strip()
    return None
