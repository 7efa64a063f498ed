"""What ``Emulator(state_file=...)`` keeps, as rows, and back: the adapters between the emulator's services and the
state file of :mod:`botconnect.emulator.persistence` (which decides when and how rows are written).

Each record comes with a cheap fingerprint (its object and a one-level copy of its fields) and a function that
encodes it only when the fingerprint changed; the append-mostly logs (activities, ACS messages) are handed over as
lists. This module reads the services' private state on purpose: it is the one place knowing what is kept.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import operator
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import attrs

from ._acs_state import Message, Participant, Receipt, Thread
from .connector import Conversation, StoredAttachment
from .directline import _Token
from .signing import KeyPair, KeySet
from .token_service import _SignIn

if TYPE_CHECKING:
    from .app import EmulatorApp

__all__ = ["LOG_KINDS", "Fingerprint", "Log", "LogMark", "Record", "Row", "StateCodec"]

#: (kind, key, position): one row
Row = tuple[str, str, int]
#: what a row was written from: an object compared by identity (or None) and a value compared by ``==``
Fingerprint = tuple[object, Any]
Make = Callable[[], tuple[str, bytes | None]]
Record = tuple[Row, Fingerprint, Make]
#: (kind, key, entries, version of an entry or None, entry -> JSON)
Log = tuple[str, str, list[Any], Callable[[Any], str] | None, Callable[[Any], str]]
#: the entries last written of a log, and their versions
LogMark = tuple[list[Any], list[str]]
#: the kinds of rows that are log entries (the rest are records)
LOG_KINDS = ("activity", "acs_message")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _json(value: Callable[[], Any]) -> Make:
    return lambda: (_dumps(value()), None)


def _as_is(value: Any) -> Any:
    return value


def _encode(value: Any, convert: Callable[[Any], Any] = _as_is) -> Make:
    return lambda: (_dumps(convert(value)), None)


def _items(value: dict[Any, Any]) -> tuple[Any, ...]:
    return tuple(value.items())


#: how :func:`_shallow` copies a container (by its exact type: the services use plain ones)
_COPIES: dict[type, Callable[[Any], Any]] = {list: tuple, set: frozenset, dict: _items}


def _shallow(value: Any) -> Any:
    """A copy of ``value`` one level deep, equal to a later one unless something in it was added, removed or
    replaced (the services replace what they change inside a container; they edit only these containers)."""
    return _COPIES.get(type(value), _as_is)(value)


def _fields(instance: Any, fields: Callable[[Any], tuple[Any, ...]]) -> Fingerprint:
    """``instance`` and a shallow copy of its ``fields`` (an ``attrgetter``): it changed when either differs."""
    return instance, tuple([_COPIES.get(type(value), _as_is)(value) for value in fields(instance)])


def _blob(text: str, blob: bytes) -> Make:
    return lambda: (text, blob)


# -- what is kept: the adapters -----------------------------------------------------------------------------------


_CONVERSATION_FIELDS = tuple(f.name for f in attrs.fields(Conversation) if f.name != "activities")
_THREAD_FIELDS = tuple(f.name for f in dataclasses.fields(Thread) if f.name not in ("messages", "message_index"))
_conversation_fields = operator.attrgetter(*_CONVERSATION_FIELDS)
_sign_in_fields = operator.attrgetter(*(f.name for f in attrs.fields(_SignIn)))
_thread_fields = operator.attrgetter(*_THREAD_FIELDS)


def _conversation_json(conversation: Conversation) -> Make:
    def data() -> dict[str, Any]:
        fields = {name: getattr(conversation, name) for name in _CONVERSATION_FIELDS}
        return {**fields, "deleted": sorted(conversation.deleted)}

    return _json(data)


def _token_json(token: _Token, offset: float) -> Make:
    return _json(lambda: {**attrs.asdict(token, recurse=False), "expires_at": token.expires_at + offset})


def _thread_header(thread: Thread) -> dict[str, Any]:
    data = {name: getattr(thread, name) for name in _THREAD_FIELDS}
    data["participants"] = {k: dataclasses.asdict(p) for k, p in thread.participants.items()}
    data["receipts"] = {k: dataclasses.asdict(r) for k, r in thread.receipts.items()}
    return data


def _message_text(message: Message) -> str:
    return _dumps(dataclasses.asdict(message))


def _message_version(message: Message) -> str:
    return message.version


def _message(data: dict[str, Any]) -> Message:
    participants = data.get("participants")
    if participants is not None:
        data["participants"] = [Participant(**p) for p in participants]
    return Message(**data)


def _key_record(row: Row, key: KeyPair) -> Record:
    def make() -> tuple[str, bytes | None]:
        endorsements = None if key.endorsements is None else list(key.endorsements)
        return _dumps({"kid": key.kid, "endorsements": endorsements}), key.private_pem()

    return row, (key, None), make


def _key(data: dict[str, Any], pem: bytes | None) -> KeyPair:
    endorsements = data["endorsements"]
    if pem is None:
        raise ValueError("the private key is missing")
    return KeyPair.restore(pem, data["kid"], None if endorsements is None else tuple(endorsements))


class StateCodec:
    """The app's state as rows (:meth:`records`, :meth:`logs`) and back (:meth:`load`)."""

    def __init__(self, app: EmulatorApp) -> None:
        self.app = app

    def locked(self) -> contextlib.AbstractContextManager[Any]:
        acs = self.app.acs
        return acs._state.lock if acs is not None else contextlib.nullcontext()

    def records(self) -> Iterator[Record]:
        app = self.app
        for cid, conversation in app.store.conversations.items():
            yield (
                ("conversation", cid, 0),
                _fields(conversation, _conversation_fields),
                _conversation_json(conversation),
            )
        for attachment in app.store.attachments.values():
            yield from self._attachment(attachment)
        directline = app.directline
        offset = time.time() - directline.clock()  # expiry kept in wall-clock time
        for value, dl_token in directline._tokens.items():  # only its expiry ever changes (expire_tokens)
            yield ("dl_token", value, 0), (dl_token, dl_token.expires_at), _token_json(dl_token, offset)
        service = app.token_service
        for sign_in_id, sign_in in service._sign_ins.items():
            yield ("signin", sign_in_id, 0), _fields(sign_in, _sign_in_fields), _encode(sign_in, attrs.asdict)
        for code, sign_in_id in service._codes.items():
            yield ("magic_code", code, 0), (None, sign_in_id), _encode(sign_in_id)
        for (user_id, connection), token in service._tokens.items():  # replaced, never edited
            yield ("user_token", _dumps([user_id, connection]), 0), (token, None), _encode(token)
        for user_id, cid in app.teams._personal.items():
            yield ("teams_personal", user_id, 0), (None, cid), _encode(cid)
        for (cid, aid), reactions in app.teams.reactions.items():
            key = _dumps([cid, aid])
            yield ("teams_reactions", key, 0), (None, tuple(reactions)), _encode(reactions, list)
        for name, keyset in (("channel", app.signing.channel), ("entra", app.signing.entra)):
            keys, unendorsed = keyset.made()
            for pos, key_pair in enumerate(keys):
                yield _key_record(("signing_key", name, pos), key_pair)
            if unendorsed is not None:
                yield _key_record(("signing_key", name + ".unendorsed", 0), unendorsed)
        if app.acs is not None:
            yield from self._acs()

    def _attachment(self, attachment: StoredAttachment) -> Iterator[Record]:
        for pos, (view, content) in enumerate(attachment.views.items()):  # never changed once stored
            text = _dumps({"name": attachment.name, "type": attachment.type, "view": view})
            yield ("attachment", attachment.id, pos), (content, None), _blob(text, content)

    def _acs(self) -> Iterator[Record]:
        acs, identity = self.app.acs, self.app.identity
        state = acs._state
        values = (
            acs._resource_id,
            acs._signing_key,
            acs._serial,
            acs._revoked,
            acs._deleted,
            state._last_message_id,
            state._created,
            identity.access_key if identity is not None else None,
            identity._users if identity is not None else (),
        )

        def resource() -> dict[str, Any]:
            return {
                "resource_id": acs._resource_id,
                "signing_key": base64.b64encode(acs._signing_key).decode("ascii"),
                "serial": acs._serial,
                "revoked": acs._revoked,
                "deleted": sorted(acs._deleted),
                "last_message_id": state._last_message_id,
                "created": [[c, r, t, invalid] for (c, r), (t, invalid) in state._created.items()],
                "access_key": identity.access_key if identity is not None else None,
                "users": sorted(identity._users) if identity is not None else [],
            }

        yield ("acs", "resource", 0), (None, tuple(map(_shallow, values))), _json(resource)
        for thread_id, thread in state.threads.items():
            fingerprint = _fields(thread, _thread_fields)
            yield ("acs_thread", thread_id, 0), fingerprint, _encode(thread, _thread_header)

    def logs(self) -> Iterator[Log]:
        for cid, conversation in self.app.store.conversations.items():
            yield "activity", cid, conversation.activities, None, _dumps
        if self.app.acs is not None:
            for thread_id, thread in self.app.acs._state.threads.items():
                yield "acs_message", thread_id, thread.messages, _message_version, _message_text

    # -- back from rows ------------------------------------------------------------------------------------------

    def load(self, rows: list[tuple[str, str, int, Any, bytes | None]]) -> None:
        """Rebuild the state from ``rows`` (decoded JSON in the fourth place), then put it in place all at once."""
        app = self.app
        conversations: dict[str, Conversation] = {}
        activities: dict[str, list[dict[str, Any]]] = {}
        attachments: dict[str, StoredAttachment] = {}
        tokens: dict[str, _Token] = {}
        sign_ins: dict[str, _SignIn] = {}
        codes: dict[str, str] = {}
        user_tokens: dict[tuple[str, str], dict[str, Any]] = {}
        personal: dict[str, str] = {}
        reactions: dict[tuple[str, str], list[str]] = {}
        keys: dict[str, list[KeyPair]] = {}
        resource: dict[str, Any] | None = None
        threads: dict[str, Thread] = {}
        messages: dict[str, list[Message]] = {}
        clock_offset = app.directline.clock() - time.time()
        for kind, key, _pos, data, blob in rows:
            if kind == "conversation":
                data["deleted"] = set(data["deleted"])
                names = {f.name for f in attrs.fields(Conversation)}
                conversations[key] = Conversation(**{k: v for k, v in data.items() if k in names})
            elif kind == "activity":
                activities.setdefault(key, []).append(data)
            elif kind == "attachment":
                if blob is None:
                    raise ValueError("the attachment's bytes are missing")
                found = attachments.setdefault(key, StoredAttachment(key, data["name"], data["type"], {}))
                found.views[data["view"]] = bytes(blob)
            elif kind == "dl_token":
                tokens[key] = _Token(**{**data, "expires_at": data["expires_at"] + clock_offset})
            elif kind == "signin":
                sign_ins[key] = _SignIn(**data)
            elif kind == "magic_code":
                codes[key] = str(data)
            elif kind == "user_token":
                user_id, connection = json.loads(key)
                user_tokens[(user_id, connection)] = data
            elif kind == "teams_personal":
                personal[key] = str(data)
            elif kind == "teams_reactions":
                cid, aid = json.loads(key)
                reactions[(cid, aid)] = list(data)
            elif kind == "signing_key":
                keys.setdefault(key, []).append(_key(data, blob))
            elif kind == "acs":
                resource = data
            elif kind == "acs_thread":
                data["participants"] = {k: Participant(**p) for k, p in data["participants"].items()}
                data["receipts"] = {k: Receipt(**r) for k, r in data["receipts"].items()}
                threads[key] = Thread(**data)
            elif kind == "acs_message":
                messages.setdefault(key, []).append(_message(data))
            else:
                raise ValueError(f"unknown kind of row {kind!r}")
        for cid, logged in activities.items():
            conversations[cid].activities = logged
        for thread_id, posted in messages.items():
            threads[thread_id].messages = posted
            threads[thread_id].message_index = {m.id: m for m in posted}
        if (threads or messages) and (app.acs is None or resource is None):
            raise ValueError("ACS threads without the ACS resource")
        # everything decoded: now put it in place
        app.store.conversations, app.store.attachments = conversations, attachments
        app.directline._tokens = tokens
        service = app.token_service
        service._sign_ins, service._codes, service._tokens = sign_ins, codes, user_tokens
        app.teams._personal, app.teams.reactions = personal, reactions
        for name, keyset in (("channel", app.signing.channel), ("entra", app.signing.entra)):
            _restore_keys(keyset, keys.get(name, []), keys.get(name + ".unendorsed", []))
        if app.acs is not None and resource is not None:
            self._load_acs(resource, threads)

    def _load_acs(self, resource: dict[str, Any], threads: dict[str, Thread]) -> None:
        acs, identity = self.app.acs, self.app.identity
        with acs._state.lock:
            acs._resource_id = str(resource["resource_id"])
            acs._signing_key = base64.b64decode(resource["signing_key"], validate=True)
            acs._serial = int(resource["serial"])
            acs._revoked = {str(k): int(v) for k, v in resource["revoked"].items()}
            acs._deleted = set(resource["deleted"])
            acs._state.threads = threads
            acs._state._last_message_id = int(resource["last_message_id"])
            acs._state._created = {(c, r): (t, invalid) for c, r, t, invalid in resource["created"]}
        if identity is not None and resource["access_key"] is not None:
            identity.access_key = str(resource["access_key"])
            identity._key = base64.b64decode(identity.access_key, validate=True)
            identity._users = set(resource["users"])


def _restore_keys(keyset: KeySet, keys: list[KeyPair], unendorsed: list[KeyPair]) -> None:
    if keys:
        keyset.restore(keys, unendorsed[0] if unendorsed else None)
