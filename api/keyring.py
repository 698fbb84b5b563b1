"""The API's table of keys (and namespaces' quotas): a fold of the keys topic, kept
current by a thread, so a key created or revoked anywhere takes effect here within a poll (well
under a second).

A token's secret is checked against its argon2id hash once per process; later requests with the
same token cost a dictionary look-up (the key's revocation and expiry are still checked each time).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from jobstream.api.topic_follower import TopicFollower
from jobstream.config import Settings
from jobstream.core.keys import Key, fold_key, parse_token, refusal
from jobstream.core.quotas import fold_cap, fold_shell
from jobstream.core.ratelimit import RateLimits
from jobstream.infra.topics import Topics
from jobstream.schemas import KeyCreated, KeyRevoked, QuotaSet, Record

log = logging.getLogger(__name__)


class Keyring:
    def __init__(self, settings: Settings, limits: RateLimits | None = None) -> None:
        self.settings, self.limits = settings, limits
        self.topic = Topics(settings.topic_prefix).keys
        self.keys: dict[str, Key] = {}
        self.caps: dict[str, int] = {}  # namespace -> max in flight, for waiting reasons (the dispatcher enforces)
        self.shell_namespaces: set[str] = set()  # where shell: true is allowed (the state processor enforces too)
        self._verified: dict[bytes, str] = {}  # sha256 of a token whose secret matched -> its key id
        self._hasher = PasswordHasher()
        self._follower = TopicFollower(settings, self.topic, "jobstream-api-keyring", self._fold)

    def start(self) -> None:
        self._follower.start()

    def stop(self) -> None:
        self._follower.stop()

    def authenticate(self, token: str, now: datetime) -> Key | str:
        """The key a token belongs to, or why it is refused."""
        parsed = parse_token(token)
        if parsed is None:
            return "not an API key"
        key = self.keys.get(parsed.key_id)
        reason = refusal(key, now)
        if reason is not None or key is None:
            return reason or "unknown API key"
        digest = hashlib.sha256(token.encode()).digest()
        if self._verified.get(digest) != key.key_id:
            try:
                self._hasher.verify(key.secret_hash, parsed.secret)
            except (VerificationError, InvalidHashError):
                return "unknown API key"
            self._verified[digest] = key.key_id
        return key

    def _fold(self, record: Record) -> None:
        if isinstance(record, KeyCreated | KeyRevoked):
            fold_key(self.keys, record)
        elif isinstance(record, QuotaSet):
            if self.limits is not None:
                self.limits.set_namespace_rate(record.namespace, record.submit_rate)
            fold_cap(self.caps, record)
            fold_shell(self.shell_namespaces, record)
        else:
            log.warning("keys topic: skipped a %s, not a key record", type(record).__name__)
