"""Bot Framework app credentials (OAuth2 client credentials), sans-IO: build the token request, parse it, cache it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from urllib.parse import quote, urlencode

import attrs
import httpx

from ..errors import DeserializationError
from .operation import Operation
from .responses import parse_json

__all__ = [
    "CHINA_CLOUD",
    "GOVERNMENT_CLOUD",
    "PUBLIC_CLOUD",
    "AccessToken",
    "AppCredentialCore",
    "CloudSettings",
]

#: refresh this many seconds before a token expires
REFRESH_MARGIN = 300.0


@attrs.frozen(repr=False)
class AccessToken:
    """A bearer token and its expiry (Unix seconds), shaped like azure-core's ``AccessToken``."""

    token: str
    expires_on: int

    def __repr__(self) -> str:
        return f"AccessToken(token=<redacted>, expires_on={self.expires_on})"

    # azure-core's is a NamedTuple: code written for it unpacks ``token, expires_on = ...`` or indexes it
    def __iter__(self) -> Iterator[str | int]:
        return iter((self.token, self.expires_on))

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> str | int:
        return (self.token, self.expires_on)[index]


#: the Entra tenants whose tokens the Bot Framework Emulator and skills carry (bbpy/dotnet parameterized paths)
_BOTFRAMEWORK_TENANT = "d6d49420-f39b-4df7-a1dc-d59a935871db"  # botframework.com, "auth v3.1"
_SERVICES_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"  # "auth v3.2"
_GOVERNMENT_TENANT = "cab8a31a-1906-4287-a0d8-4eef66b95f6e"
_CHINA_TENANT = "a55a4d5b-9241-49b1-b4ff-befa8db00269"

_PUBLIC_ENTRA_ISSUERS = (
    f"https://sts.windows.net/{_BOTFRAMEWORK_TENANT}/",
    f"https://login.microsoftonline.com/{_BOTFRAMEWORK_TENANT}/v2.0",
    f"https://sts.windows.net/{_SERVICES_TENANT}/",
    f"https://login.microsoftonline.com/{_SERVICES_TENANT}/v2.0",
    f"https://sts.windows.net/{_GOVERNMENT_TENANT}/",
    f"https://login.microsoftonline.us/{_GOVERNMENT_TENANT}/v2.0",
)
_PUBLIC_TENANT_ISSUERS = (
    "https://sts.windows.net/{tenant}/",
    "https://login.microsoftonline.com/{tenant}/v2.0",
    "https://login.microsoftonline.us/{tenant}/",
    "https://login.microsoftonline.us/{tenant}/v2.0",
)


@attrs.frozen
class CloudSettings:
    """Everything that differs between the Bot Framework clouds: where app tokens come from and which audience they
    are for (outbound), and which tokens a bot accepts on its messaging endpoint (inbound).

    Build a custom one with ``attrs.evolve(PUBLIC_CLOUD, ...)`` (a test pointing at the local emulator, an
    enterprise deployment). Metadata URLs must be https; plain http is accepted for loopback hosts only.
    """

    oauth_endpoint: str
    tenant: str
    scope: str
    #: channel hosts a bot's token may be sent to in this cloud
    trusted_hosts: tuple[str, ...]
    #: OpenID metadata of the Bot Connector service: its ``jwks_uri`` holds the keys channel tokens are signed with
    channel_openid_metadata_url: str = "https://login.botframework.com/v1/.well-known/openidconfiguration"
    #: the ``iss`` of every token the Bot Connector service sends to a bot
    channel_token_issuer: str = "https://api.botframework.com"
    #: OpenID metadata of the Entra ID keys that sign Emulator and skill (bot-to-bot) tokens
    emulator_openid_metadata_url: str = "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
    #: the ``iss`` values accepted on Emulator and skill tokens
    emulator_token_issuers: tuple[str, ...] = _PUBLIC_ENTRA_ISSUERS
    #: issuers added for ``BotAuthenticator(tenant_id=...)``: single-tenant callers (``{tenant}`` is replaced)
    tenant_token_issuers: tuple[str, ...] = _PUBLIC_TENANT_ISSUERS
    #: the user token service (OAuth sign-in, SSO)
    token_service_url: str = "https://token.botframework.com"
    #: ``callerId`` of activities that came from this cloud's channels (None: the cloud defines none)
    caller_id: str | None = "urn:botframework:azure"

    @property
    def channel_audience(self) -> str:
        """The audience a bot's replies to a channel carry a token for (``scope`` without ``/.default``)."""
        return self.scope.removesuffix("/.default")


PUBLIC_CLOUD = CloudSettings(
    oauth_endpoint="https://login.microsoftonline.com",
    tenant="botframework.com",
    scope="https://api.botframework.com/.default",
    trusted_hosts=(
        "*.botframework.com",
        "smba.trafficmanager.net",
        "*.smba.trafficmanager.net",
        "*.teams.microsoft.com",
    ),
)

GOVERNMENT_CLOUD = CloudSettings(
    oauth_endpoint="https://login.microsoftonline.us",
    # every Microsoft SDK (bbpy, dotnet, js, teams.py) uses the .us tenant for US Government
    tenant="MicrosoftServices.onmicrosoft.us",
    scope="https://api.botframework.us/.default",
    trusted_hosts=(
        "*.botframework.us",
        "*.botframework.azure.us",
        "*.teams.microsoft.us",
        "*.infra.gov.teams.microsoft.us",
    ),
    channel_openid_metadata_url="https://login.botframework.azure.us/v1/.well-known/openidconfiguration",
    channel_token_issuer="https://api.botframework.us",
    emulator_openid_metadata_url=(
        f"https://login.microsoftonline.us/{_GOVERNMENT_TENANT}/v2.0/.well-known/openid-configuration"
    ),
    token_service_url="https://token.botframework.azure.us",
    caller_id="urn:botframework:azureusgov",
)

CHINA_CLOUD = CloudSettings(
    oauth_endpoint="https://login.partner.microsoftonline.cn",
    tenant="microsoftservices.partner.onmschina.cn",
    scope="https://api.botframework.azure.cn/.default",
    trusted_hosts=("*.botframework.azure.cn", "*.botframework.cn"),
    channel_openid_metadata_url="https://login.botframework.azure.cn/v1/.well-known/openidconfiguration",
    channel_token_issuer="https://api.botframework.azure.cn",
    emulator_openid_metadata_url=(
        f"https://login.partner.microsoftonline.cn/{_CHINA_TENANT}/v2.0/.well-known/openid-configuration"
    ),
    # no SDK lists the 21Vianet emulator issuers; these follow the Entra issuer shapes of that cloud
    emulator_token_issuers=(
        f"https://sts.chinacloudapi.cn/{_CHINA_TENANT}/",
        f"https://login.partner.microsoftonline.cn/{_CHINA_TENANT}/v2.0",
    ),
    tenant_token_issuers=(
        "https://sts.chinacloudapi.cn/{tenant}/",
        "https://login.partner.microsoftonline.cn/{tenant}/v2.0",
    ),
    token_service_url="https://token.botframework.azure.cn",
    # Microsoft's SDKs define caller ids for the public and US Government clouds only
    caller_id=None,
)


class AppCredentialCore:
    """State shared by the sync and async ``MicrosoftAppCredentials``: the cached tokens and how to get new ones."""

    def __init__(
        self,
        app_id: str,
        app_password: str,
        *,
        tenant: str | None,
        oauth_endpoint: str | None,
        scope: str | None,
        cloud: CloudSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(app_id, str) or not app_id:
            raise ValueError("app_id must be a non-empty str")
        if not isinstance(app_password, str) or not app_password:
            raise ValueError("app_password must be a non-empty str")
        self.app_id = app_id
        self._secret = app_password
        self.tenant = tenant or cloud.tenant
        self.oauth_endpoint = (oauth_endpoint or cloud.oauth_endpoint).rstrip("/")
        self.scope = scope or cloud.scope
        self.cloud = cloud
        self._clock = clock
        self._tokens: dict[tuple[str, ...], AccessToken] = {}
        token_url = httpx.URL(f"{self.oauth_endpoint}/{quote(self.tenant, safe='')}/oauth2/v2.0/token")
        if token_url.scheme != "https" and token_url.host not in ("localhost", "127.0.0.1", "::1"):
            raise ValueError("oauth_endpoint must be https (http is allowed for loopback only)")
        self.token_url = token_url

    def scopes_for(self, scopes: tuple[str, ...]) -> tuple[str, ...]:
        return scopes or (self.scope,)

    def cached(self, scopes: tuple[str, ...]) -> AccessToken | None:
        """A cached token that does not need refreshing yet."""
        token = self._tokens.get(scopes)
        if token is not None and token.expires_on - REFRESH_MARGIN > self._clock():
            return token
        return None

    def still_valid(self, scopes: tuple[str, ...]) -> AccessToken | None:
        """A cached token that has not expired (usable when a refresh ahead of expiry fails)."""
        token = self._tokens.get(scopes)
        if token is not None and token.expires_on > self._clock() + 5:
            return token
        return None

    def token_operation(self, scopes: tuple[str, ...]) -> Operation[AccessToken]:
        body = urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": self.app_id,
                "client_secret": self._secret,
                "scope": " ".join(scopes),
            }
        ).encode("ascii")
        request = httpx.Request(
            "POST",
            self.token_url,
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        )
        requested_at = self._clock()

        def parse(response: httpx.Response) -> AccessToken:
            data = parse_json(response)
            if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
                raise DeserializationError("token response has no access_token", response=response)
            expires_in = data.get("expires_in", 3600)
            try:
                lifetime = float(expires_in)
            except (TypeError, ValueError):
                lifetime = 3600.0
            token = AccessToken(data["access_token"], int(requested_at + lifetime))
            self._tokens[scopes] = token
            return token

        # fetching a token twice is harmless, so the call is retried like an idempotent one
        return Operation(request=request, parse=parse, success={200}, idempotent=True, authenticate=False)

    def __repr__(self) -> str:
        return f"MicrosoftAppCredentials(app_id={self.app_id!r}, tenant={self.tenant!r}, app_password=<redacted>)"


def redact_request(request: httpx.Request) -> httpx.Request:
    """A copy of ``request`` safe to keep in an exception: no body, no Authorization header."""
    headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
    return httpx.Request(request.method, request.url, headers=headers, content=b"<redacted>")


def redact_error(exc: BaseException) -> None:
    """Strip the token request (which carries the client secret) from an error raised while fetching a token."""
    response = getattr(exc, "response", None)
    if isinstance(response, httpx.Response):
        try:
            request = response.request
        except RuntimeError:
            return
        response.request = redact_request(request)
