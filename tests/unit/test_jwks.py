"""JWTs of an identity provider (RS256, ES256 through its JWKS), verified against a JWKS served
locally: grants read from valid tokens; expired, foreign, unknown-key and algorithm-confused ones
refused; a provider that cannot be reached is a 503 to retry, never a 500 nor a stalled event loop."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient

from jobstream.api import create_app
from jobstream.api.jwks import JwksKeys, JwksUnavailable
from jobstream.api.jwt_auth import JwtVerifier, TokenRefused
from jobstream.config import Settings
from jobstream.core.access import Role
from jobstream.infra.process import free_port
from tests.credentials import JWT_SECRET, jwt_for
from tests.identity_provider import AUDIENCE, ISSUER, Provider, SigningKey, jwks_provider

RSA = SigningKey.make("rsa-1", "RS256")
EC = SigningKey.make("ec-1", "ES256")
PREVIEW = "/v1/schedules:preview?every=1h&count=1"  # a viewer's read that needs neither broker nor database


def verifier(url: str, secret: str | None = None, **keys: Any) -> JwtVerifier:
    return JwtVerifier(secret, JwksKeys(url, **{"cooldown_s": 0.0, **keys}), issuer=ISSUER, audience=AUDIENCE)


def grants(checker: JwtVerifier, token: str) -> tuple[str, dict[str, Role]]:
    return asyncio.run(checker.grants(token))


def forged(header: dict[str, Any], secret: bytes) -> str:
    """A token HMAC-signed with ``secret`` whatever its header says (PyJWT refuses to make one
    with a public key as the secret, as an attacker's code would not)."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    claims = {"sub": "mallory", "permissions": ["default:admin"], "iss": ISSUER, "aud": AUDIENCE,
              "exp": int(time.time()) + 300}
    signed = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signed}.{b64(hmac.digest(secret, signed.encode(), hashlib.sha256))}"


def test_rs256_and_es256_tokens_are_accepted_with_their_namespace_role_grants() -> None:
    with jwks_provider(RSA, EC) as provider:
        checker = verifier(provider.url)
        for key in (RSA, EC):
            assert grants(checker, key.token("acme:operator", "default:viewer")) == (
                "jwt:alice", {"acme": Role.OPERATOR, "default": Role.VIEWER})
        assert provider.fetches == 1  # the second key came from the cached set


# Tokens are made when the test runs (a lambda each): made at collection, they would expire
# before a long session reaches the test, and be refused for that instead.
@pytest.mark.parametrize(("make_token", "why"), [
    (lambda: RSA.token("acme:operator", ttl=-timedelta(minutes=1)), "expired"),
    (lambda: EC.token("acme:operator", issuer="https://elsewhere.test"), "issuer"),
    (lambda: EC.token("acme:operator", issuer=None), "iss"),
    (lambda: RSA.token("acme:operator", audience="another-service"), "(?i)audience"),
    (lambda: RSA.token("acme:operator", audience=None), "aud"),
    (lambda: RSA.token(), "no namespace:role grant"),
], ids=["expired", "foreign-issuer", "no-issuer", "foreign-audience", "no-audience", "no-grant"])
def test_expired_or_foreign_tokens_are_refused(make_token: Callable[[], str], why: str) -> None:
    with jwks_provider(RSA, EC) as provider, pytest.raises(TokenRefused, match=why):
        grants(verifier(provider.url), make_token())


def test_an_unknown_key_id_is_refused_and_a_rotated_key_is_fetched_when_first_seen() -> None:
    rotated = SigningKey.make("rsa-2", "RS256")
    with jwks_provider(RSA) as provider:
        checker = verifier(provider.url)
        assert grants(checker, RSA.token("acme:viewer"))[0] == "jwt:alice"
        with pytest.raises(TokenRefused, match="no signing key rsa-2"):
            grants(checker, rotated.token("acme:viewer"))
        assert provider.fetches == 2  # refetched once for the unknown kid
        provider.publish(RSA, rotated)
        assert grants(checker, rotated.token("acme:viewer"))[1] == {"acme": Role.VIEWER}


def test_made_up_key_ids_do_not_make_the_api_hammer_the_provider() -> None:
    with jwks_provider(RSA) as provider:
        checker = verifier(provider.url, cooldown_s=30.0)
        for n in range(5):
            with pytest.raises(TokenRefused, match="no signing key"):
                grants(checker, RSA.token("acme:viewer", kid=f"made-up-{n}"))
        assert provider.fetches == 1


def test_algorithm_confusion_is_refused() -> None:
    pem = RSA.private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    shared = b"a-symmetric-key-a-jwks-should-never-list"
    oct_key = {"kty": "oct", "kid": "shared", "use": "sig", "k": base64.urlsafe_b64encode(shared).rstrip(b"=").decode()}
    with jwks_provider(RSA, EC) as provider:
        provider.keys.append(oct_key)
        for checker in (verifier(provider.url), verifier(provider.url, secret=JWT_SECRET)):
            unsigned = jwt.encode({"sub": "mallory", "permissions": ["default:admin"], "iss": ISSUER, "aud": AUDIENCE,
                                   "exp": datetime.now(UTC) + timedelta(minutes=5)}, "", algorithm="none")
            with pytest.raises(TokenRefused, match="signed none"):
                grants(checker, unsigned)
            with pytest.raises(TokenRefused):  # HS256 "signed" with the provider's public key
                grants(checker, forged({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, pem))
            with pytest.raises(TokenRefused, match="not an RS256 or ES256 key"):  # a JWKS's symmetric key
                grants(checker, forged({"alg": "RS256", "typ": "JWT", "kid": "shared"}, shared))
            with pytest.raises(TokenRefused, match="not valid"):  # an ES256 token naming the RSA key
                grants(checker, EC.token("default:admin", kid="rsa-1"))


def test_a_provider_that_cannot_be_reached_is_unavailable_not_a_refusal() -> None:
    checker = verifier(f"http://127.0.0.1:{free_port()}/jwks.json", timeout_s=2.0)
    with pytest.raises(JwksUnavailable) as raised:
        grants(checker, RSA.token("acme:viewer"))
    assert raised.value.retry_after_s > 0


def test_known_keys_still_verify_while_the_provider_is_down() -> None:
    with jwks_provider(RSA) as provider:
        checker = verifier(provider.url, lifespan_s=0.05)
        assert grants(checker, RSA.token("acme:viewer"))[0] == "jwt:alice"
        provider.down = True
        cache = checker.jwks.client.jwk_set_cache if checker.jwks else None
        deadline = time.monotonic() + 5
        while cache is not None and not cache.is_expired() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert grants(checker, RSA.token("acme:viewer"))[0] == "jwt:alice"  # from the last set served
        with pytest.raises(JwksUnavailable):  # a key it never served: cannot tell now
            grants(checker, EC.token("acme:viewer"))
        assert provider.fetches == 2  # the failed fetch, then none while its Retry-After runs


def test_a_slow_provider_does_not_stall_the_event_loop() -> None:
    async def scenario(provider: Provider) -> tuple[str, dict[str, Role]]:
        provider.gate.clear()
        pending = asyncio.create_task(verifier(provider.url).grants(RSA.token("acme:viewer")))
        deadline = time.monotonic() + 5
        while not provider.asked.is_set():  # the loop keeps running while the fetch waits
            assert time.monotonic() < deadline and not pending.done()
            await asyncio.sleep(0.01)
        assert not pending.done()
        provider.gate.set()
        return await pending

    with jwks_provider(RSA) as provider:
        assert asyncio.run(scenario(provider))[0] == "jwt:alice"


def test_the_api_answers_401_or_503_problems_and_applies_the_token_role() -> None:
    with jwks_provider(RSA, EC) as provider:
        settings = Settings(jwt_secret=JWT_SECRET, jwt_jwks_url=provider.url, jwt_issuer=ISSUER,
                            jwt_audience=AUDIENCE)
        client = TestClient(create_app(settings))  # no lifespan: these routes need no broker nor database
        viewer = {"Authorization": f"Bearer {EC.token('default:viewer')}"}
        assert client.get(PREVIEW, headers=viewer).status_code == 200
        submit = client.post("/v1/jobs", headers=viewer, json={"task": {"type": "shell", "argv": ["true"]}})
        assert submit.status_code == 403, submit.text
        stale = RSA.token("default:viewer", ttl=-timedelta(minutes=1))
        expired = client.get(PREVIEW, headers={"Authorization": f"Bearer {stale}"})
        assert expired.status_code == 401 and expired.headers["content-type"] == "application/problem+json"
        assert "expired" in expired.json()["detail"] and expired.headers["www-authenticate"].startswith("Bearer")
        hs256 = {"Authorization": f"Bearer {jwt_for('default:viewer')}"}  # the secret still verifies HS256
        assert client.get(PREVIEW, headers=hs256).status_code == 401  # ...which must name the issuer too
    unreachable = Settings(jwt_jwks_url=f"http://127.0.0.1:{free_port()}/jwks.json")
    down = TestClient(create_app(unreachable)).get(PREVIEW, headers=viewer)
    assert down.status_code == 503 and down.headers["content-type"] == "application/problem+json"
    assert int(down.headers["retry-after"]) > 0


def test_a_jwks_url_must_be_http_or_https(monkeypatch: pytest.MonkeyPatch) -> None:
    from jobstream.config import SettingsError

    monkeypatch.setenv("JOBSTREAM_JWT_JWKS_URL", "file:///etc/jwks.json")
    with pytest.raises(SettingsError, match="JOBSTREAM_JWT_JWKS_URL: .*http"):
        Settings.from_env()
