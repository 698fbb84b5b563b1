"""The API's secrets: a fold of the secrets topic kept current by a thread (as the keyring folds
the keys topic), and the KEKs, read when first needed and again when a data key names one this
process does not hold yet (after ``jobstream secrets rotate-kek``).

Values are opened only to answer a worker's reveal (routes_secrets.py) and never kept in clear;
the routes publish what they seal with the API's producer.
"""

from __future__ import annotations

import threading
from datetime import datetime

from jobstream.api.topic_follower import TopicFollower
from jobstream.config import Settings
from jobstream.core.secret_book import SecretBook, set_records
from jobstream.core.secrets_crypto import KekRing, SecretUnreadable
from jobstream.infra.topics import Topics
from jobstream.schemas import (
    DataKeyCreated,
    DataKeyDeleted,
    Record,
    SecretDeleted,
    SecretRecord,
    SecretSet,
)
from jobstream.secrets_admin import load_keks

CATCH_UP_S = 5.0  # a reveal's longest wait for the secrets topic before it says a secret is missing or unreadable


class SecretVault:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = Topics(settings.topic_prefix).secrets
        self.book = SecretBook()
        self._lock = threading.Lock()  # the fold's thread and the routes' threads share the book
        self._ring: KekRing | None = None
        self._follower = TopicFollower(settings, self.topic, "jobstream-api-secrets", self._fold)

    def start(self) -> None:
        self._follower.start()

    def stop(self) -> None:
        self._follower.stop()

    def keks(self, reload: bool = False) -> KekRing:
        """NoKek when none is configured (the routes answer 503)."""
        if self._ring is None or reload:
            self._ring = load_keks(self.settings)
        return self._ring

    def reveal(self, namespace: str, name: str) -> str:
        """KeyError: no such secret; SecretUnreadable: its data key is gone."""
        try:
            with self._lock:
                return self.book.reveal(self.keks(), namespace, name)
        except (KeyError, SecretUnreadable):
            # Perhaps written by another process a moment ago: a secret set at the broker, or a
            # rotation's rewrapped data keys (it drops the old KEK from the file right after them).
            # Fold what the topic holds now and read the KEKs again before saying so.
            self._follower.wait_caught_up(CATCH_UP_S)
            with self._lock:
                return self.book.reveal(self.keks(reload=True), namespace, name)

    def sealed(self, namespace: str, name: str, value: str, now: datetime, actor: str) -> list[SecretRecord]:
        """What setting a secret writes (a data key first, if the namespace has none yet)."""
        with self._lock:
            return list(set_records(self.book, self.keks(), namespace, name, value, now, actor))

    def deletion(self, namespace: str, name: str, now: datetime, actor: str) -> SecretDeleted | None:
        with self._lock:
            if (namespace, name) not in self.book.values:
                return None
        return SecretDeleted(namespace=namespace, name=name, deleted_at=now, actor=actor)

    def applied(self, records: list[SecretRecord]) -> None:
        """Records the broker acknowledged, applied at once (read your writes; the fold applies them
        again, to the same effect)."""
        with self._lock:
            for record in records:
                self.book.apply(record)

    def _fold(self, record: Record) -> None:
        if isinstance(record, DataKeyCreated | DataKeyDeleted | SecretSet | SecretDeleted):
            with self._lock:
                self.book.apply(record)
