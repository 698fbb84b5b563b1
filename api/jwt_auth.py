"""Bearer JWTs: HS256 with the configured secret, RS256 or ES256 with an identity provider's keys
(its JWKS URL), with ``sub``, ``exp`` and a ``permissions`` claim of ``namespace:role`` grants.

Each key source has its algorithms pinned: the secret verifies HS256 only, a provider's key only the
one algorithm its key type signs (RS256 for an RSA key, ES256 for a P-256 key). So ``none``, an HS256
token "signed" with a provider's public key, or a symmetric key a JWKS might list, verify nothing.
``iss`` and ``aud`` are checked on every JWT when an issuer or audience is configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from jwt import PyJWK

from jobstream.api.jwks import JwksKeys, UnknownKey
from jobstream.core.access import Role, parse_grants

SECRET_ALGORITHM = "HS256"
PROVIDER_ALGORITHMS = frozenset({"RS256", "ES256"})
LEEWAY_S = 30  # clock skew tolerated on exp, nbf and iat: an issuer's clock a little ahead is no 401


class TokenRefused(Exception):
    """The token does not stand for anyone: the API's 401, saying why."""


@dataclass
class JwtVerifier:
    secret: str | None = None
    jwks: JwksKeys | None = None
    issuer: str | None = None
    audience: str | None = None

    async def grants(self, token: str) -> tuple[str, dict[str, Role]]:
        """The actor (``jwt:<sub>``) and grants of a valid token; ``TokenRefused`` otherwise, and the
        provider's ``JwksUnavailable`` when its keys cannot be had to tell."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as error:
            raise TokenRefused(f"the token is not valid: {error}") from None
        algorithm = header.get("alg")
        if algorithm == SECRET_ALGORITHM and self.secret:
            claims = self._decode(token, self.secret, SECRET_ALGORITHM)
        elif algorithm in PROVIDER_ALGORITHMS and self.jwks is not None:
            key = await self._provider_key(header.get("kid"))
            claims = self._decode(token, key.key, key.algorithm_name)
        else:
            raise TokenRefused(f"tokens signed {algorithm} are not accepted here (accepted: {self._accepted()})")
        permissions = claims.get("permissions")
        grants = parse_grants(permissions) if isinstance(permissions, list) else None
        if not grants:
            raise TokenRefused("the token's permissions claim holds no namespace:role grant")
        return f"jwt:{claims['sub']}", grants

    async def _provider_key(self, kid: Any) -> PyJWK:
        assert self.jwks is not None
        if not isinstance(kid, str) or not kid:
            raise TokenRefused("the token names no key id (kid) of the identity provider")
        try:
            key = await self.jwks.key(kid)
        except UnknownKey:
            raise TokenRefused(f"the identity provider has no signing key {kid}") from None
        if key.algorithm_name not in PROVIDER_ALGORITHMS:
            raise TokenRefused(f"the identity provider's key {kid} is not an RS256 or ES256 key")
        return key

    def _decode(self, token: str, key: Any, algorithm: str) -> dict[str, Any]:
        required = ["sub", "exp"] + (["iss"] if self.issuer else []) + (["aud"] if self.audience else [])
        try:
            return jwt.decode(token, key, algorithms=[algorithm], issuer=self.issuer, audience=self.audience,
                              leeway=LEEWAY_S, options={"require": required})
        except jwt.ExpiredSignatureError:
            raise TokenRefused("the token has expired") from None
        except jwt.InvalidTokenError as error:
            raise TokenRefused(f"the token is not valid: {error}") from None

    def _accepted(self) -> str:
        sources = ([SECRET_ALGORITHM] if self.secret else []) + (sorted(PROVIDER_ALGORITHMS) if self.jwks else [])
        return ", ".join(sources) or "none"
