from __future__ import annotations

from .harness import Env, FakeService


def test_send_to_conversation_three_ways(env: Env, fake: FakeService) -> None:
    fake.reply(200, json_body={"id": "42"})
    client = env.construct("ConnectorClient", "https://slack.botframework.com", transport=fake.transport)
    with client:
        result = client.conversations.send_to_conversation("a:b", {"type": "message", "text": "hi"})
    assert result.id == "42"
    assert fake.last.method == "POST"
    assert fake.last.url.raw_path == b"/v3/conversations/a%3Ab/activities"
    assert fake.last_json() == {"type": "message", "text": "hi"}


def test_paging_three_ways(env: Env, fake: FakeService) -> None:
    fake.reply(200, json_body={"members": [{"id": "1"}, {"id": "2"}], "continuationToken": "t1"})
    fake.reply(200, json_body={"members": [{"id": "3"}]})
    client = env.construct("ConnectorClient", "https://slack.botframework.com", transport=fake.transport)
    with client:
        ids = [m.id for m in client.conversations.get_conversation_paged_members("c", page_size=2)]
    assert ids == ["1", "2", "3"]
    assert fake.requests[1].url.params["continuationToken"] == "t1"
