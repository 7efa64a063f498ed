"""A Teams bot signing its user in with OAuth and single sign-on, through the user token service.

The bot (``SsoBot``) is what a real one does: a message from a user without a token gets an OAuthCard (sign-in link
plus the token exchange resource Teams needs to try SSO first); the ``signin/verifyState`` and
``signin/tokenExchange`` invokes Teams sends afterwards are answered by ``SignInHandler`` (200, 404, 412, and
Teams' redelivered exchanges answered without a second exchange); "logout" signs the user out.

Offline, always: the local emulator, started with an app id and an OAuth connection, is the token service (every
call below goes to it over loopback, with a bearer token from its own token endpoint), and this script plays
Teams and the user: it sends the activities Teams would send, and opens the sign-in page as the user's browser
would. Needs the emulator extra. In a real bot, route your messaging endpoint's activities to ``SsoBot`` and use
``UserTokenClient(MicrosoftAppCredentials(app_id, password))``.
"""

from __future__ import annotations

import re
from typing import Any

import anyio
import httpx

import botconnect_aio
from botconnect.models import (
    Activity,
    Attachment,
    ChannelAccount,
    ConversationAccount,
    InvokeResponse,
    OAuthCard,
    TokenExchangeState,
)

APP_ID = "00000000-0000-0000-0000-0000000550b0"
APP_PASSWORD = "offline-sample-password"
CONNECTION = "graph"


class SsoBot:
    """Signs users in on the OAuth connection ``connection_name``; one instance for the bot's lifetime."""

    def __init__(self, tokens: botconnect_aio.UserTokenClient, app_id: str, connection_name: str) -> None:
        self.tokens = tokens
        self.app_id = app_id
        self.connection_name = connection_name
        self.sign_in = botconnect_aio.SignInHandler(tokens, connection_name)

    async def on_message(self, activity: Activity) -> Attachment | str:
        """The bot's answer to a message: what it would send back through the Connector."""
        assert activity.from_property is not None
        assert activity.from_property.id
        user_id = activity.from_property.id
        if (activity.text or "").strip().lower() == "logout":
            await self.tokens.user_token.sign_out(
                user_id, connection_name=self.connection_name, channel_id=activity.channel_id
            )
            return "You are signed out."
        token = await self.tokens.user_token.get_token(user_id, self.connection_name, channel_id=activity.channel_id)
        if token is not None:
            return "You are signed in."  # call the API the connection is for with token.token
        state = TokenExchangeState.from_activity(activity, self.connection_name, app_id=self.app_id)
        resource = await self.tokens.bot_sign_in.get_sign_in_resource(state)
        return botconnect_aio.oauth_card_attachment(
            self.connection_name, resource, text="Please sign in", channel_id=activity.channel_id
        )

    async def on_invoke(self, activity: Activity) -> InvokeResponse:
        """The synchronous answer to an invoke (status and JSON body for the HTTP response)."""
        if activity.name == "signin/verifyState":
            return await self.sign_in.handle_verify_state(activity)
        if activity.name == "signin/tokenExchange":
            # the answer's token_response is the user's token when this exchange signed them in; a duplicate has none
            return await self.sign_in.handle_token_exchange(activity)
        return activity.create_invoke_response(status=501)


def teams_activity(user: ChannelAccount, **fields: Any) -> Activity:
    """An activity as Teams delivers it to the bot (the fields a sign-in needs)."""
    return Activity(
        channel_id="msteams",
        service_url="https://smba.trafficmanager.net/emea/",
        from_property=user,
        recipient=ChannelAccount(id=f"28:{APP_ID}", name="SSO bot"),
        conversation=ConversationAccount(id="a:personal-chat-1", conversation_type="personal", tenant_id="t-1"),
        **fields,
    )


async def main() -> None:
    from botconnect.emulator import Emulator

    emulator = Emulator(app_id=APP_ID, app_password=APP_PASSWORD, oauth_connections=[CONNECTION])
    await anyio.to_thread.run_sync(emulator.start)
    credential = botconnect_aio.MicrosoftAppCredentials(APP_ID, APP_PASSWORD, cloud=emulator.cloud)
    try:
        async with botconnect_aio.UserTokenClient(credential) as tokens, httpx.AsyncClient() as browser:
            print(f"token service at {tokens.endpoint} (the emulator), OAuth connection {CONNECTION!r}")
            bot = SsoBot(tokens, APP_ID, CONNECTION)
            user = ChannelAccount(id="29:user-ada", name="Ada", aad_object_id="aad-ada")

            answer = await bot.on_message(teams_activity(user, type="message", id="m-1", text="hi"))
            assert isinstance(answer, Attachment)
            card = answer.content_as(OAuthCard)
            assert card.buttons
            assert card.token_exchange_resource
            link = str(card.buttons[0].value)
            print(f"not signed in: the bot sent an OAuthCard for {card.connection_name!r}")
            print(f"  sign-in link {link}")
            print(f"  SSO resource {card.token_exchange_resource.uri}")

            # the user opens the link and signs in; the page shows the magic code Teams hands back to the bot
            page = await browser.get(httpx.URL(link).copy_merge_params({"complete": "1"}))
            found = re.search(r'id="magic-code">(\d{6})<', page.text)
            assert found, page.text
            print("the user signed in on the sign-in page and got a 6-digit magic code")

            verify = teams_activity(user, type="invoke", name="signin/verifyState", value={"state": found[1]})
            answer = await bot.on_invoke(verify)
            assert isinstance(answer, botconnect_aio.SignInInvokeResponse)
            print(f"signin/verifyState answered {answer.status}; signed in: {answer.token_response is not None}")
            again = await bot.on_message(teams_activity(user, type="message", id="m-2", text="hi again"))
            print(f"user said 'hi again': {again}")

            exchange = {"id": "sso-exchange-1", "connectionName": CONNECTION, "token": "sso.eyJ-teams-sso-token"}
            invoke = teams_activity(user, type="invoke", name="signin/tokenExchange", value=exchange)
            answer = await bot.on_invoke(invoke)
            print(f"signin/tokenExchange answered {answer.status}: {answer.json_body().decode()}")

            answer = await bot.on_invoke(invoke)  # Teams delivered the same exchange again
            assert isinstance(answer, botconnect_aio.SignInInvokeResponse)
            exchanges = emulator.token_service.hits["exchange"]
            print(
                f"the same signin/tokenExchange again answered {answer.status} (duplicate: {answer.duplicate}); "
                f"exchanges sent to the token service: {exchanges}"
            )

            failing = {"id": "sso-exchange-2", "connectionName": CONNECTION, "token": "not-an-sso-token"}
            answer = await bot.on_invoke(
                teams_activity(user, type="invoke", name="signin/tokenExchange", value=failing)
            )
            assert isinstance(answer, botconnect_aio.SignInInvokeResponse)
            detail = answer.body.failure_detail if answer.body is not None else None
            print(f"signin/tokenExchange with a token it cannot exchange answered {answer.status}: {detail}")

            print(f"user said 'logout': {await bot.on_message(teams_activity(user, type='message', text='logout'))}")
            statuses = await tokens.user_token.get_token_status(user.id or "", channel_id="msteams")
            print(f"token status after sign-out: {[(s.connection_name, s.has_token) for s in statuses]}")
    finally:
        await credential.close()
        await anyio.to_thread.run_sync(emulator.stop)


if __name__ == "__main__":
    anyio.run(main)
