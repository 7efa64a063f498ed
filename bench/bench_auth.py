"""8. Inbound token validation per request, warm key cache, validations/s.

Floor: PyJWT alone, ``jwt.decode`` of the same RS256 channel token with the public key parsed once (signature,
``exp``/``nbf`` with the 5-minute leeway; no audience, issuer, serviceUrl or endorsement checks): the cost of the
cryptography every validator pays. Ours is ``BotAuthenticator.authenticate_request`` (sync, and the async façade
on asyncio) doing every rule of the channel path against keys cached from a loopback metadata server. Target: a
validation costs at most 1.2x the bare decode, i.e. a rate of at least 0.83x.

Two traffic shapes: the same token on every request (what a channel does: it reuses one token for its lifetime, so
ours verifies the signature once and then only the lifetime and the per-activity rules), and a new token on every
request (2,000 distinct tokens in turn, more than the verified-token cache holds: every request verifies the
signature, the worst case).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
from _measure import Context, Row, compare, measure, measure_async

GROUP = "auth"
TITLE = "Inbound token validation"
APP_ID = "6f1d5b5e-2d7a-4d4e-9d8b-3b2c1a0f9e8d"
SERVICE_URL = "https://smba.trafficmanager.net/teams/"


def _key_server(jwk: dict[str, Any]) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            body = {"issuer": "https://api.botframework.com", "jwks_uri": base + "/keys"}
            data = json.dumps(body if self.path == "/metadata" else {"keys": [jwk]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/metadata"


def run(ctx: Context) -> list[Row]:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    import botconnect
    import botconnect_aio

    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_key = private_key.public_key()
    jwk = json.loads(RSAAlgorithm.to_jwk(public_key))
    jwk.update(kid="bench-key", use="sig", endorsements=["msteams", "webchat", "directline", "emulator"])
    now = int(time.time())
    claims = {
        "iss": "https://api.botframework.com",
        "aud": APP_ID,
        "serviceurl": SERVICE_URL,
        "nbf": now - 60,
        "iat": now - 60,
        "exp": now + 3600,
    }
    token = jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": "bench-key"})
    header = "Bearer " + token
    fresh_tokens = [
        jwt.encode({**claims, "jti": str(i)}, private_key, algorithm="RS256", headers={"kid": "bench-key"})
        for i in range(2000)
    ]
    fresh_headers = ["Bearer " + t for t in fresh_tokens]
    activity = {"type": "message", "channelId": "msteams", "serviceUrl": SERVICE_URL, "id": "1"}

    server, metadata_url = _key_server(jwk)
    cloud = attrs.evolve(botconnect.PUBLIC_CLOUD, channel_openid_metadata_url=metadata_url)
    try:
        sync_auth = botconnect.BotAuthenticator(APP_ID, cloud=cloud)
        assert sync_auth.authenticate_request(activity, header).app_id == APP_ID  # warms the cache

        def ours_sync(n: int) -> None:
            authenticate = sync_auth.authenticate_request
            for _ in range(n):
                authenticate(activity, header)

        def pyjwt_decode(n: int) -> None:
            decode = jwt.decode
            options = {"verify_aud": False}
            for _ in range(n):
                decode(token, key=public_key, algorithms=["RS256"], options=options, leeway=300)

        def ours_fresh(n: int) -> None:
            authenticate = sync_auth.authenticate_request
            headers = fresh_headers
            for i in range(n):
                authenticate(activity, headers[i % 2000])

        def pyjwt_fresh(n: int) -> None:
            decode = jwt.decode
            options = {"verify_aud": False}
            tokens = fresh_tokens
            for i in range(n):
                decode(tokens[i % 2000], key=public_key, algorithms=["RS256"], options=options, leeway=300)

        sync_stats = measure({"ours": ours_sync, "pyjwt": pyjwt_decode}, ctx.settings)
        fresh_stats = measure({"ours": ours_fresh, "pyjwt": pyjwt_fresh}, ctx.settings)
        sync_auth.close()

        async def async_stats() -> Any:
            async with botconnect_aio.BotAuthenticator(APP_ID, cloud=cloud) as async_auth:
                await async_auth.authenticate_request(activity, header)

                async def ours_async(n: int) -> None:
                    authenticate = async_auth.authenticate_request
                    for _ in range(n):
                        await authenticate(activity, header)

                async def pyjwt_in_loop(n: int) -> None:
                    pyjwt_decode(n)

                return await measure_async({"ours": ours_async, "pyjwt": pyjwt_in_loop}, ctx.settings)

        aio_stats = asyncio.run(async_stats())
    finally:
        server.shutdown()
        server.server_close()

    floor = [("pyjwt", f"jwt.decode, pre-parsed key (PyJWT {jwt.__version__}, floor)", ">= 0.83x")]
    note = "RS256 channel token, every channel-path rule, warm key cache"
    rows = compare(GROUP, "authenticate_request, sync, same token", "validations/s", sync_stats, "ours", floor, note)
    rows += compare(
        GROUP, "authenticate_request, async (asyncio), same token", "validations/s", aio_stats, "ours", floor, note
    )
    rows += compare(
        GROUP, "authenticate_request, sync, new token each request", "validations/s", fresh_stats, "ours", floor, note
    )
    return rows
