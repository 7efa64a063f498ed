"""The bot of the "Your first bot" guide, independent of the web framework: what to do with each activity.

The web part (aiohttp in first_bot_aiohttp.py, Starlette in first_bot_starlette.py) only reads the request,
authenticates it, calls :meth:`Bot.on_activity` and writes the answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import botconnect_aio
from botconnect.models import (
    Activity,
    AdaptiveCardInvokeResponse,
    ConversationReference,
    InvokeResponse,
)


# --8<-- [start:clients]
class Bot:
    """One bot for the whole process: its credential lives as long as the process, a ConnectorClient per turn."""

    def __init__(self, app_id: str, app_password: str, cloud: botconnect_aio.CloudSettings) -> None:
        # kept for the process: it caches the bot's token, so only the first turn asks Entra ID for one
        self.credential = botconnect_aio.MicrosoftAppCredentials(app_id, app_password, cloud=cloud)
        #: where to write proactively later: one reference per conversation (store them somewhere durable)
        self.references: dict[str, ConversationReference] = {}

    def client_for(self, service_url: str) -> botconnect_aio.ConnectorClient:
        """A client for one turn. Without transport=, it borrows the running event loop's shared pool."""
        return botconnect_aio.ConnectorClient(service_url, self.credential)

    async def close(self) -> None:
        """At shutdown: the credential (the per-turn clients were closed as each turn ended)."""
        await self.credential.close()

    # --8<-- [end:clients]

    # --8<-- [start:on_activity]
    async def on_activity(self, activity: Activity, later: Callable[[Awaitable[None]], None]) -> InvokeResponse | None:
        """The answer for the HTTP response (None: a plain 200). ``later`` runs work after the 200 is sent."""
        if activity.type == "invoke":  # answered in this HTTP response, within the channel's timeout
            if activity.name == "adaptiveCard/action":
                return activity.create_invoke_response(AdaptiveCardInvokeResponse.message("Approved"))
            return activity.create_invoke_response(status=501)  # an invoke this bot does not implement
        if activity.type != "message":
            return None
        reference = activity.get_conversation_reference()
        if reference.conversation is not None and reference.conversation.id:
            self.references[reference.conversation.id] = reference
        if activity.delivery_mode == "expectReplies":  # the caller reads the replies from the response body
            return InvokeResponse.from_expected_replies([activity.create_reply(f"You said: {activity.text}")])
        if (activity.text or "").startswith("slow"):
            later(self.answer_slowly(activity))  # answer 200 now, reply when the work is done
            return None
        await self.reply(activity, f"You said: {activity.text}")  # quick: reply before answering 200
        return None

    # --8<-- [end:on_activity]

    # --8<-- [start:reply]
    async def reply(self, activity: Activity, text: str) -> None:
        """Reply in the activity's conversation (threaded under it where the channel supports that)."""
        # a channel's message always carries these; the model types every field Optional
        assert activity.service_url
        assert activity.conversation
        assert activity.conversation.id
        assert activity.id
        async with self.client_for(activity.service_url) as client:  # closing it leaves the shared pool open
            reply = activity.create_reply(text)
            await client.conversations.reply_to_activity(activity.conversation.id, activity.id, reply)

    async def answer_slowly(self, activity: Activity) -> None:
        """Show typing while working, then reply: the channel got its 200 long ago."""
        assert activity.service_url
        assert activity.conversation
        assert activity.conversation.id
        typing = activity.create_reply()
        typing.type = "typing"
        async with self.client_for(activity.service_url) as client:
            await client.conversations.send_to_conversation(activity.conversation.id, typing)
        await self.reply(activity, "Done thinking about: " + (activity.text or ""))

    # --8<-- [end:reply]

    # --8<-- [start:proactive]
    async def notify(self, conversation_id: str, text: str) -> str:
        """A proactive message: no incoming activity, only a reference saved from an earlier one."""
        reference = self.references[conversation_id]
        assert reference.service_url
        message = Activity(type="message", text=text).apply_conversation_reference(reference)
        message.reply_to_id = None  # a new message, not a reply to the one the reference was taken from
        async with self.client_for(reference.service_url) as client:
            sent = await client.conversations.send_to_conversation(conversation_id, message)
        assert sent.id is not None
        return sent.id

    # --8<-- [end:proactive]
