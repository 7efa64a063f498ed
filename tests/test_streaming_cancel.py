"""StreamingReply under anyio cancellation (asyncio and trio), and the sans-IO core's own guarantees: a call
abandoned mid-way cancels the stream, calls do not overlap, and the channel decides whether to stream."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

import botconnect_aio
from botconnect._core.streaming import Post, StreamCore, Wait, channel_streams
from botconnect.models import Activity, ResourceResponse

from .harness import Env
from .test_streaming import FakeClock, incoming

Handler = Callable[[httpx.Request, int], Awaitable[httpx.Response]]


class Service:
    """An async MockTransport handler: records requests and hands each to ``behave(request, number)``."""

    def __init__(self, behave: Handler | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.behave = behave
        self.scope: anyio.CancelScope | None = None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.behave is not None:
            return await self.behave(request, len(self.requests))
        return httpx.Response(200, json={"id": f"id-{len(self.requests)}"})

    def client(self) -> botconnect_aio.ConnectorClient:
        return botconnect_aio.ConnectorClient(incoming().service_url or "", transport=httpx.MockTransport(self))

    def cancel_and_hang(self) -> Handler:
        async def behave(request: httpx.Request, number: int) -> httpx.Response:
            if number == 2:
                assert self.scope is not None
                self.scope.cancel()  # the caller is cancelled while this request is in flight
                await anyio.sleep_forever()
            return httpx.Response(200, json={"id": f"id-{number}"})

        return behave

    def types(self) -> list[str]:
        return [json.loads(request.content)["type"] for request in self.requests]


def test_cancelled_while_an_update_is_in_flight(async_env: Env) -> None:
    service = Service()
    service.behave = service.cancel_and_hang()

    async def scenario() -> None:
        clock = FakeClock()
        async with service.client() as client:
            stream = botconnect_aio.StreamingReply(client, incoming(), clock=clock, sleep=clock.async_sleep)
            await stream.update("Searching...")
            clock.now += 1.0
            with anyio.CancelScope() as scope:
                service.scope = scope
                await stream.append("Hello")
            assert scope.cancelled_caught
            assert stream.state == "cancelled"
            clock.now += 1.0
            with pytest.raises(RuntimeError, match="cancelled"):
                await stream.append(" world")
            with pytest.raises(RuntimeError, match="cancelled"):
                await stream.end()

    async_env.run(scenario)
    assert service.types() == ["typing", "typing"]  # nothing after the interrupted update


def test_a_cancelled_block_sends_no_final_message(async_env: Env) -> None:
    service = Service()

    async def scenario() -> str:
        clock = FakeClock()
        async with service.client() as client:
            with anyio.CancelScope() as scope:
                async with botconnect_aio.StreamingReply(
                    client, incoming(), clock=clock, sleep=clock.async_sleep
                ) as stream:
                    await stream.append("partial")
                    scope.cancel()
                    await anyio.lowlevel.checkpoint()  # a checkpoint: the cancellation lands in the block
            assert scope.cancelled_caught
            return stream.state

    assert async_env.run(scenario) == "cancelled"
    assert service.types() == ["typing"]


def test_cancelled_while_the_final_message_waits(async_env: Env) -> None:
    service = Service()

    async def scenario() -> str:
        clock = FakeClock()
        holder: dict[str, anyio.CancelScope] = {}

        async def sleep(seconds: float) -> None:
            holder["scope"].cancel()
            await anyio.sleep_forever()

        async with service.client() as client:
            stream = botconnect_aio.StreamingReply(client, incoming(), clock=clock, sleep=sleep)
            await stream.append("partial")  # the final must now wait a second
            with anyio.CancelScope() as holder["scope"]:
                await stream.end()
            return stream.state

    assert async_env.run(scenario) == "cancelled"
    assert service.types() == ["typing"]


def test_an_explicit_cancel_is_awaited_and_final(async_env: Env) -> None:
    service = Service()

    async def scenario() -> None:
        clock = FakeClock()
        async with service.client() as client:
            async with botconnect_aio.StreamingReply(client, incoming(), clock=clock) as stream:
                await stream.append("partial")
                await stream.cancel()
            assert stream.state == "cancelled"

    async_env.run(scenario)
    assert service.types() == ["typing"]


# -- the core alone -------------------------------------------------------------------------------------------


def drive(flow: Any, answers: list[Any]) -> list[Any]:
    """Run a core flow, answering each Post from ``answers``; returns the steps it yielded."""
    steps: list[Any] = []
    try:
        step = next(flow)
        while True:
            steps.append(step)
            step = flow.send(answers.pop(0) if isinstance(step, Post) else None)
    except StopIteration:
        return steps


def test_a_flow_abandoned_at_a_post_cancels_the_stream() -> None:
    clock = FakeClock()
    core = StreamCore(incoming(), clock=clock)
    flow = core.append("Hello")
    step = next(flow)
    assert isinstance(step, Post)
    assert step.activity.type == "typing"
    with pytest.raises(RuntimeError, match="one call at a time"):
        core.append(" again")  # the first call has not finished
    flow.close()
    assert core.state == "cancelled"
    with pytest.raises(RuntimeError, match="cancelled"):
        core.append(" world")


def test_a_flow_run_to_the_end_leaves_the_stream_open() -> None:
    clock = FakeClock()
    core = StreamCore(incoming(), clock=clock)
    steps = drive(core.append("Hello"), [ResourceResponse(id="s1")])
    assert [type(step) for step in steps] == [Post]
    assert core.state == "open"
    assert core.stream_id == "s1"
    steps = drive(core.update("Checking..."), [ResourceResponse(id="s2")])
    assert [type(step) for step in steps] == [Wait, Post]
    assert steps[0].seconds == 1.0
    assert core.stream_id == "s1"  # later ids do not replace the first


def test_cancel_during_the_wait_of_an_update_posts_nothing() -> None:
    clock = FakeClock()
    core = StreamCore(incoming(), clock=clock)
    drive(core.append("Hello"), [ResourceResponse(id="s1")])
    flow = core.update("Checking...")
    assert isinstance(next(flow), Wait)
    core.cancel()
    with pytest.raises(StopIteration):
        flow.send(None)
    assert core.state == "cancelled"


def test_the_final_message_without_a_stream_has_no_streaminfo() -> None:
    core = StreamCore(incoming(), clock=FakeClock())
    core.final_activity.text = "set by the caller"
    drive(core.append("ignored for the final"), [ResourceResponse(id=None)])  # the channel gave no id
    assert core.streaming is False
    assert core.stream_id is None
    final = core.final_message()
    assert final.text == "set by the caller"
    assert final.entities is None


@pytest.mark.parametrize(
    ("fields", "streams"),
    [
        ({"channelId": "msteams"}, True),
        ({"channelId": "MSTeams", "conversation": {"id": "c", "conversationType": "personal"}}, True),
        ({"channelId": "msteams", "conversation": {"id": "c", "conversationType": "groupChat"}}, False),
        ({"channelId": "msteams", "conversation": {"id": "c", "isGroup": True}}, False),
        ({"channelId": "directline", "conversation": {"id": "c", "isGroup": True}}, True),
        ({"channelId": "webchat"}, True),
        ({"channelId": "slack"}, False),
        ({"channelId": None}, False),
    ],
)
def test_which_channels_stream(fields: dict[str, Any], streams: bool) -> None:
    data = {"type": "message", "conversation": {"id": "c"}, **fields}
    assert channel_streams(Activity.from_dict({k: v for k, v in data.items() if v is not None})) is streams
