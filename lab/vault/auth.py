"""The service principal's Microsoft Entra ID side: OpenID discovery, the client-credentials token endpoint,
and the ARM front door's bearer-token check.

What MSAL (through azure-identity's ClientSecretCredential with `disable_instance_discovery=True`) asks for:
GET <authority>/<tenant>/v2.0/.well-known/openid-configuration, then POST the `token_endpoint` it names with
grant_type=client_credentials, client_id, client_secret and scope https://management.azure.com/.default
(msal/authority.py tenant discovery; asr-api.md §1: ARM token, scope .default).

Error answers follow Entra's shape {"error", "error_description": "AADSTS<code>: ...\\r\\nTrace ID: ...",
"error_codes", "timestamp", "trace_id", "correlation_id", "error_uri"}; wrong secret is 401 invalid_client
AADSTS7000215 (transcript in Azure/sap-automation issue #418 and OfficeDev/microsoft-365-agents-toolkit #8621).
Tokens are HS256 JWTs signed with a per-run key; they expire after 3599 s of wall-clock time, as Entra's
`expires_in` for app tokens. ARM's 401 codes (AuthenticationFailed, InvalidAuthenticationToken,
ExpiredAuthenticationToken, InvalidAuthenticationTokenTenant, InvalidAuthenticationTokenAudience) are the
front door's documented error codes; their wording is INFERRED from public transcripts.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import secrets
import time
import uuid

from lab.vault.errors import ArmError

TOKEN_LIFETIME_S = 3599
# ARM accepts tokens for either of its two resource identifiers (with or without the trailing slash).
ARM_AUDIENCES = ("https://management.azure.com/", "https://management.azure.com", "https://management.core.windows.net/",
                 "https://management.core.windows.net")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Directory:
    """One tenant with one service principal (client id + a secret made per lab run)."""

    def __init__(self, tenant: str, client_id: str, secret: str) -> None:
        self.tenant = tenant.lower()
        self.client_id = client_id.lower()
        self._secret = secret
        self._key = secrets.token_bytes(32)

    # ---- Entra ID endpoints ------------------------------------------------------------------------------
    def openid_configuration(self, base_url: str, tenant: str) -> tuple[int, dict]:
        if tenant.lower() != self.tenant:
            text = "Tenant '{0}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.".format(tenant)
            return 400, self.aad_error("invalid_tenant", 90002, text)
        root = "{0}/{1}".format(base_url, self.tenant)
        return 200, {
            "token_endpoint": root + "/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": root + "/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": root + "/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": base_url + "/oidc/userinfo",
            "authorization_endpoint": root + "/oauth2/v2.0/authorize",
            "device_authorization_endpoint": root + "/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": root + "/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "ver"],
            "tenant_region_scope": "EU",
        }

    def token(self, tenant: str, form: dict) -> tuple[int, dict]:
        """Client-credentials grant (the only grant a service principal with a secret uses)."""
        if tenant.lower() != self.tenant:
            text = "Tenant '{0}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.".format(tenant)
            return 400, self.aad_error("invalid_request", 90002, text)
        if form.get("grant_type") != "client_credentials":
            return 400, self.aad_error("unsupported_grant_type", 70003, "The app requested an unsupported grant type '{0}'.".format(
                form.get("grant_type")))
        client_id = (form.get("client_id") or "").lower()
        if client_id != self.client_id:
            text = ("Application with identifier '{0}' was not found in the directory '{1}'. This can happen if the application has not been "
                    "installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your "
                    "authentication request to the wrong tenant.").format(form.get("client_id"), self.tenant)
            return 400, self.aad_error("unauthorized_client", 700016, text)
        if not hmac.compare_digest((form.get("client_secret") or "").encode(), self._secret.encode()):
            text = ("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the "
                    "client secret ID, for a secret added to app '{0}'.").format(self.client_id)
            return 401, self.aad_error("invalid_client", 7000215, text)
        audience, problem = _audience(form.get("scope") or "")
        if problem:
            return 400, problem(self)
        now = int(time.time())
        claims = {"aud": audience, "iss": "https://sts.windows.net/{0}/".format(self.tenant), "iat": now, "nbf": now,
                  "exp": now + TOKEN_LIFETIME_S, "appid": self.client_id, "appidacr": "1", "idtyp": "app",
                  "oid": str(uuid.uuid5(uuid.UUID(self.tenant), self.client_id)), "tid": self.tenant, "ver": "1.0"}
        claims["sub"] = claims["oid"]
        return 200, {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME_S, "ext_expires_in": TOKEN_LIFETIME_S,
                     "access_token": self._sign(claims)}

    def aad_error(self, error: str, code: int, text: str) -> dict:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        return {"error": error,
                "error_description": "AADSTS{0}: {1}\r\nTrace ID: {2}\r\nCorrelation ID: {3}\r\nTimestamp: {4}".format(
                    code, text, trace, correlation, stamp),
                "error_codes": [code], "timestamp": stamp, "trace_id": trace, "correlation_id": correlation,
                "error_uri": "https://login.microsoftonline.com/error?code={0}".format(code)}

    # ---- tokens -------------------------------------------------------------------------------------------
    def _sign(self, claims: dict) -> str:
        head = _b64(json.dumps({"typ": "JWT", "alg": "HS256", "kid": "lab"}, separators=(",", ":")).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        mac = hmac.new(self._key, (head + "." + body).encode("ascii"), hashlib.sha256).digest()
        return head + "." + body + "." + _b64(mac)

    def verify(self, authorization: str | None, authority: str) -> dict:
        """The ARM front door's check of `Authorization: Bearer <token>`; raises the 401 ARM answers."""
        challenge = {"WWW-Authenticate": 'Bearer authorization_uri="{0}/{1}", error="invalid_token", error_description="{{0}}"'.format(
            authority, self.tenant)}
        if not authorization:
            raise _unauthorized("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.", challenge,
                                "The authentication failed because of missing 'Authorization' header.")
        scheme, dummy, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("AuthenticationFailed", "Authentication failed. The 'Authorization' header is provided in an invalid format.",
                                challenge, "The authentication failed because of an invalid 'Authorization' header.")
        claims = self._claims(token.strip())
        if claims is None:
            raise _unauthorized("InvalidAuthenticationToken", "The access token is invalid.", challenge, "The access token is invalid.")
        now = time.time()
        if claims.get("exp", 0) <= now:
            raise _unauthorized("ExpiredAuthenticationToken", "The access token expiry UTC time '{0}' is earlier than current UTC time '{1}'."
                                .format(_utc(claims.get("exp", 0)), _utc(now)), challenge, "The access token has expired.")
        if claims.get("aud") not in ARM_AUDIENCES:
            raise _unauthorized("InvalidAuthenticationTokenAudience", "The access token has been obtained for wrong audience or resource '{0}'. "
                                "It should exactly match with one of the allowed audiences '{1}'.".format(claims.get("aud"), "','".join(ARM_AUDIENCES)),
                                challenge, "The access token audience is invalid.")
        if claims.get("tid") != self.tenant:
            raise _unauthorized("InvalidAuthenticationTokenTenant", "The access token is from the wrong issuer '{0}'. It must match the tenant "
                                "'https://sts.windows.net/{1}/' associated with this subscription.".format(claims.get("iss"), self.tenant),
                                challenge, "The access token is from the wrong issuer.")
        return claims

    def _claims(self, token: str) -> dict | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            mac = _unb64(parts[2])
            expected = hmac.new(self._key, (parts[0] + "." + parts[1]).encode("ascii"), hashlib.sha256).digest()
            if not hmac.compare_digest(mac, expected):
                return None
            claims = json.loads(_unb64(parts[1]))
        except (ValueError, UnicodeError):
            return None
        return claims if isinstance(claims, dict) else None


def _audience(scope: str):
    """(audience, None) for an ARM `.default` scope, else (None, error builder): client credentials take only `<resource>/.default`."""
    scopes = scope.split()
    resources = [s[:-len(".default")] for s in scopes if s.endswith("/.default")]
    if len(scopes) != 1 or len(resources) != 1:
        text = ("The provided value for scope {0} is not valid. Client credential flows must have a scope value with /.default suffixed to "
                "the resource identifier (application ID URI).").format(scope or "(none)")
        return None, lambda d: d.aad_error("invalid_scope", 1002012, text)
    resource = resources[0]
    # management.core.windows.net//.default (double slash) is the classic ARM resource with its trailing slash.
    if resource.rstrip("/") + "/" not in ARM_AUDIENCES:
        text = ("The resource principal named {0} was not found in the tenant named {{0}}. This can happen if the application has not been "
                "installed by the administrator of the tenant or consented to by any user in the tenant.").format(resource)
        return None, lambda d: d.aad_error("invalid_resource", 500011, text.format(d.tenant))
    return resource.rstrip("/") + "/", None


def _unauthorized(code: str, message: str, challenge: dict, description: str) -> ArmError:
    headers = {name: value.replace("{0}", description) for name, value in challenge.items()}
    return ArmError(401, code, message, headers=headers)


def _utc(stamp: float) -> str:
    return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).strftime("%m/%d/%Y %H:%M:%S")
