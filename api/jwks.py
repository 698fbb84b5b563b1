"""An identity provider's signing keys, from its JWKS URL (PyJWT's PyJWKClient).

The key set is cached (``lifespan_s``) and fetched again when a token names a key id it does not
hold (at most once per ``cooldown_s``, so tokens with made-up key ids cannot hammer the provider).
A fetch runs on a thread of its own, never on the event loop, bounded by ``timeout_s``. When the
provider cannot be reached, the keys of the last set it served still verify tokens; a key id
outside it is ``JwksUnavailable`` (the API's 503), and for ``RETRY_AFTER_S`` after a failed fetch
callers are told so at once rather than each waiting for a fetch of their own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from ssl import SSLContext

from jwt import PyJWK, PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError, PyJWKSetError

log = logging.getLogger(__name__)
FETCH_TIMEOUT_S = 5.0
RETRY_AFTER_S = 5  # after a failed fetch: callers get 503 with this Retry-After, without a fetch each


class JwksUnavailable(Exception):
    """The provider's key set cannot be had now: nothing is wrong with the caller's token."""

    retry_after_s = RETRY_AFTER_S


class UnknownKey(Exception):
    """The provider's key set holds no signing key of the token's key id."""


class JwksKeys:
    def __init__(self, url: str, *, lifespan_s: float = 300.0, cooldown_s: float = 30.0,
                 timeout_s: float = FETCH_TIMEOUT_S, ssl_context: SSLContext | None = None) -> None:
        self.url = url
        self.client = PyJWKClient(url, lifespan=lifespan_s, cooldown_duration=cooldown_s, timeout=timeout_s,
                                  ssl_context=ssl_context)
        self._last_set: dict[str, PyJWK] = {}  # the last set served: used while the provider is unreachable
        self._failed_at: float | None = None
        self._fetcher = ThreadPoolExecutor(1, thread_name_prefix="jobstream-jwks")  # one fetch at a time

    async def key(self, kid: str) -> PyJWK:
        """The signing key ``kid`` names: from the cached set, else fetched on the fetcher's thread."""
        cached = self._cached(kid)
        if cached is not None:
            return cached
        return await asyncio.get_running_loop().run_in_executor(self._fetcher, self._fetch, kid)

    def close(self) -> None:
        self._fetcher.shutdown(wait=False, cancel_futures=True)

    def _cached(self, kid: str) -> PyJWK | None:
        cache = self.client.jwk_set_cache
        current = cache.get() if cache is not None else None
        if current is not None:
            return next((key for key in current.keys if key.key_id == kid), None)
        if self._failing():
            return self._stale(kid)
        return None

    def _failing(self) -> bool:
        return self._failed_at is not None and time.monotonic() - self._failed_at < RETRY_AFTER_S

    def _stale(self, kid: str) -> PyJWK:
        key = self._last_set.get(kid)
        if key is None:
            raise JwksUnavailable(f"the identity provider's keys ({self.url}) cannot be fetched now")
        return key

    def _fetch(self, kid: str) -> PyJWK:
        if self._failing():  # queued behind the fetch that just failed
            return self._stale(kid)
        try:
            key = self.client.get_signing_key(kid)
        except (PyJWKClientConnectionError, PyJWKSetError, ValueError) as error:  # ValueError: not JSON
            self._failed_at = time.monotonic()
            log.warning("JWKS %s: cannot fetch the signing keys: %s", self.url, error)
            return self._stale(kid)
        except PyJWKClientError as error:
            raise UnknownKey(str(error)) from None
        self._failed_at = None
        cache = self.client.jwk_set_cache
        current = cache.get() if cache is not None else None
        self._last_set = {k.key_id: k for k in current.keys if k.key_id} if current is not None else {kid: key}
        return key
