"""``Emulator(state_file=PATH)`` (``--state PATH``): the emulator's state kept in a SQLite file, so restarting it
resumes every conversation instead of ending it.

What is kept: the store's conversations (members, the activity log -- a Direct Line watermark stays a position in
the same log, so a client resumes with its token and watermark --, deletions, uploaded transcripts, whether a client
started it, the id counter) and uploaded attachments; Direct Line tokens; the user token service's sign-ins,
magic codes and tokens; Teams' 1:1 conversations and reactions; ACS Chat threads (participants, messages, read
receipts, repeatability ids), the resource's id and token key, revocations and deleted users, the identity service's
users and access key (tokens and the connection string handed out before a restart keep working); and the signing
keys, so a bot that cached the JWKS keeps validating deliveries and a Connector token it cached stays valid. Not
kept: counters, faults, open WebSocket streams and the stream URLs handed out (they live a minute; clients reconnect
for a fresh one, as after any dropped stream), batch sends in progress, Event Grid deliveries. Token expiry is kept
in wall-clock time: the downtime counts.

How it is written (robust rather than clever):

* **A diff of snapshots, written through before every answer.** An ASGI wrapper flushes when a response starts
  (and when a call ends, for WebSockets and dropped connections); :meth:`Store.on_loop` calls (``bot_says``,
  ``expire_tokens``, ``issue_acs_token``, ``reset``...) flush after they ran. A flush compares the state with what
  was last written without encoding it -- each record by its object and a one-level copy of its fields (the
  services replace what they change inside a member list, a map or a log; they never edit those entries in place),
  the append-mostly logs (activities, ACS messages) by the identity of each entry and, for ACS messages, their
  ``version`` -- and encodes and writes only the difference. So whatever the emulator answered is on disk: a client
  never holds an id or watermark the file does not know. The cost grows with what is kept: a flush that finds
  nothing to write takes about 5 us per conversation (with its token and activities), unchanged entries are not
  copied (``bench/emulator_state.py``).
* **One transaction per flush** (SQLite, WAL journal, ``synchronous=NORMAL``): a killed emulator loses nothing it
  answered and never leaves a half-written change; a power cut may lose the last transactions, never consistency.
* **One emulator per file**: the connection holds SQLite's exclusive lock from opening until :meth:`close` (the
  emulator's ``stop()``); a second opener gets :class:`StateFileError`.
* A file that is not ours, damaged or written by a newer schema is refused with :class:`StateFileError` (nothing is
  overwritten). It holds tokens and private keys (of the emulator's throwaway identities): it is created ``0600``.

URLs inside stored activities (attachment ``contentUrl``) name the port they were made on: keep ``--port`` fixed.
The adapters below read the services' private state on purpose: this module is the one place knowing what is kept.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import json
import logging
import operator
import os
import sqlite3
import threading
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
    from .faults import Receive, Scope, Send

__all__ = ["FORMAT", "SCHEMA_VERSION", "StateFile", "StateFileError"]

#: ``meta.format`` of every state file
FORMAT = "botconnect-emulator-state"
#: the layout written; a file with a higher one is refused
SCHEMA_VERSION = 1
_BUSY_TIMEOUT = 1.0
_log = logging.getLogger("botconnect.emulator")

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE rows (kind TEXT NOT NULL, key TEXT NOT NULL, pos INTEGER NOT NULL, data TEXT NOT NULL, blob BLOB,"
    " PRIMARY KEY (kind, key, pos)) WITHOUT ROWID",
)

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
_LOG_KINDS = ("activity", "acs_message")
_STALE = object()  # the fingerprint of a row in the file that the state may no longer have


class StateFileError(Exception):
    """The state file cannot be used: not an emulator state file, damaged, from a newer botconnect, or in use."""


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


class _Codec:
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


# -- the file -------------------------------------------------------------------------------------------------------


@attrs.define
class _Changes:
    writes: list[tuple[str, str, int, str, bytes | None]] = attrs.field(factory=list)
    deletes: list[Row] = attrs.field(factory=list)
    dropped_logs: list[tuple[str, str]] = attrs.field(factory=list)
    records: dict[Row, Fingerprint] = attrs.field(factory=dict)
    logs: dict[tuple[str, str], LogMark] = attrs.field(factory=dict)

    def __bool__(self) -> bool:
        return bool(self.writes or self.deletes or self.dropped_logs)


def _same(old: Fingerprint | None, new: Fingerprint) -> bool:
    return old is not None and old[0] is new[0] and old[1] == new[1]


class StateFile:
    """The state of ``app`` kept in the SQLite file at ``path``: loaded when made, written on every change (see the
    module's docstring), released by :meth:`close`. Raises :class:`StateFileError` for a file it cannot use."""

    def __init__(self, path: str | os.PathLike[str], app: EmulatorApp) -> None:
        self.path = os.fspath(path)
        self._codec = _Codec(app)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._records: dict[Row, Fingerprint] = {}
        self._logs: dict[tuple[str, str], LogMark] = {}
        self._failing = False
        self._open(load=True)
        app.store.after_calls.append(self.flush)
        app.asgi = _WriteBeforeAnswer(app.asgi, self)

    def __repr__(self) -> str:
        return f"<StateFile {self.path!r} {'open' if self._conn is not None else 'closed'}>"

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    def open(self) -> None:
        """Take the file again after :meth:`close` and write the whole state to it (a no-op while open)."""
        with self._lock:
            if self._conn is None:
                self._open(load=False)

    def close(self) -> None:
        """Write what changed and release the file (another emulator may open it then). Safe to call twice."""
        with self._lock:
            if self._conn is None:
                return
            try:
                self.flush()
            finally:
                self._conn.close()
                self._conn = None

    def flush(self) -> None:
        """Write what changed since the last flush in one transaction (nothing when closed or unchanged).

        A failing write (disk full, file removed) is logged, and retried by the next flush: the emulator serves on.
        """
        with self._lock:
            if self._conn is None:
                return
            with self._codec.locked():
                changes = self._collect()
            if not changes:
                return
            try:
                self._write(self._conn, changes)
            except sqlite3.Error as exc:
                if not self._failing:
                    _log.error("the emulator could not write its state to %s: %s", self.path, exc)
                self._failing = True
                return
            if self._failing:
                _log.warning("the emulator writes its state to %s again", self.path)
            self._failing = False
            self._records, self._logs = changes.records, changes.logs

    # -- diffing ---------------------------------------------------------------------------------------------------

    def _collect(self) -> _Changes:
        changes = _Changes()
        for row, fingerprint, make in self._codec.records():
            old = self._records.get(row)
            if old is not None and _same(old, fingerprint):
                changes.records[row] = old  # the new copy is freed at once: no garbage for the collector to chase
            else:
                changes.records[row] = fingerprint
                changes.writes.append((*row, *make()))
        changes.deletes = [row for row in self._records if row not in changes.records]
        for kind, key, entries, version, encode in self._codec.logs():
            mark = self._logs.get((kind, key), ([], []))
            old_objects, old_versions = mark
            written = len(old_objects)
            if version is None and len(entries) == written and all(map(operator.is_, entries, old_objects)):
                changes.logs[(kind, key)] = mark  # unchanged (the common case): nothing copied
                continue
            objects = list(entries)
            versions = [version(entry) for entry in objects] if version is not None else []
            changes.logs[(kind, key)] = (objects, versions)
            if len(objects) >= written and all(map(operator.is_, objects, old_objects)):
                # the usual case: entries appended, and (ACS) a few edited or deleted in place: a new version
                dirty = [i for i, (new, old) in enumerate(zip(versions, old_versions, strict=False)) if new != old]
                dirty += range(written, len(objects))
            else:
                dirty = [
                    i
                    for i in range(len(objects))
                    if i >= written
                    or objects[i] is not old_objects[i]
                    or (version is not None and versions[i] != old_versions[i])
                ]
                changes.deletes += [(kind, key, i) for i in range(len(objects), written)]
            changes.writes += [(kind, key, i, encode(objects[i]), None) for i in dirty]
        changes.dropped_logs = [log for log in self._logs if log not in changes.logs]
        return changes

    @staticmethod
    def _write(conn: sqlite3.Connection, changes: _Changes) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("DELETE FROM rows WHERE kind = ? AND key = ?", changes.dropped_logs)
            conn.executemany("DELETE FROM rows WHERE kind = ? AND key = ? AND pos = ?", changes.deletes)
            conn.executemany("INSERT OR REPLACE INTO rows VALUES (?, ?, ?, ?, ?)", changes.writes)
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise

    # -- opening ---------------------------------------------------------------------------------------------------

    def _open(self, *, load: bool) -> None:
        conn = self._connect()
        try:
            rows = self._check(conn)
            if load:
                self._load(rows)
            else:  # the state in memory is the truth: rewrite it all (one transaction, like any flush)
                conn.execute("DELETE FROM rows")
                self._records, self._logs = {}, {}
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self.flush()

    def _connect(self) -> sqlite3.Connection:
        with contextlib.suppress(FileExistsError, OSError):
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))  # tokens and keys inside
        try:
            conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StateFileError(f"cannot open the emulator state file {self.path}: {exc}") from None
        return conn

    def _check(self, conn: sqlite3.Connection) -> list[tuple[str, str, int, str, bytes | None]]:
        """Lock the file, check it is ours (making the tables in an empty one) and read its rows."""
        try:
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = self._read(conn)
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('opened_at', ?)", (str(time.time()),))
                conn.execute("COMMIT")  # the first write takes the exclusive lock, held until close
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            # only once the file is known to be ours: switching the journal rewrites its header
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StateFileError(
                    f"the emulator state file {self.path} is in use by another emulator (one emulator per file)"
                ) from None
            raise StateFileError(f"cannot use the emulator state file {self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise StateFileError(f"{self.path} is not an emulator state file (not a SQLite database: {exc})") from None
        return rows

    def _read(self, conn: sqlite3.Connection) -> list[tuple[str, str, int, str, bytes | None]]:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.executemany("INSERT INTO meta VALUES (?, ?)", [("format", FORMAT), ("schema", str(SCHEMA_VERSION))])
            return []
        meta = dict(conn.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
        if meta.get("format") != FORMAT or "rows" not in tables:
            raise StateFileError(f"{self.path} is a SQLite database but not an emulator state file")
        schema = meta.get("schema", "")
        if not schema.isdigit() or int(schema) > SCHEMA_VERSION:
            raise StateFileError(
                f"{self.path} was written by a newer botconnect (state schema {schema}, this one reads up to "
                f"{SCHEMA_VERSION})"
            )
        problems = [problem for (problem,) in conn.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise StateFileError(f"the emulator state file {self.path} is damaged: {'; '.join(problems[:3])}")
        return list(conn.execute("SELECT kind, key, pos, data, blob FROM rows ORDER BY kind, key, pos"))

    def _load(self, rows: list[tuple[str, str, int, str, bytes | None]]) -> None:
        decoded: list[tuple[str, str, int, Any, bytes | None]] = []
        for kind, key, pos, data, blob in rows:
            try:
                decoded.append((kind, key, pos, json.loads(data), blob))
            except (ValueError, TypeError, RecursionError) as exc:
                raise StateFileError(f"the emulator state file {self.path} is damaged: {kind} {key!r}: {exc}") from None
        try:
            self._codec.load(decoded)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
            raise StateFileError(
                f"the emulator state file {self.path} is damaged or from another version: {type(exc).__name__}: {exc}"
            ) from None
        # what was just loaded is what the file holds: the first flush writes only what the state no longer has
        logs_in_file = {(kind, key) for kind, key, _, _, _ in rows if kind in _LOG_KINDS}
        records_in_file = {(kind, key, pos) for kind, key, pos, _, _ in rows if kind not in _LOG_KINDS}
        with self._codec.locked():
            self._records = {row: fp for row, fp, _ in self._codec.records() if row in records_in_file}
            self._records.update(dict.fromkeys(records_in_file - set(self._records), (None, _STALE)))
            self._logs = {}
            for kind, key, entries, version, _ in self._codec.logs():
                if (kind, key) in logs_in_file:
                    objects = list(entries)
                    self._logs[(kind, key)] = (objects, [version(e) for e in objects] if version else [])
            self._logs.update({log: ([], []) for log in logs_in_file - set(self._logs)})


class _WriteBeforeAnswer:
    """ASGI wrapper: the state is written before a response starts (so what a client was told is on disk), or
    when the call ends without one (a WebSocket, a dropped connection). The handlers change nothing once they
    answered (no background tasks)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Any], state: StateFile) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        answered = False

        async def send_written(message: Any) -> None:
            nonlocal answered
            if message["type"] in ("http.response.start", "websocket.accept"):
                self.state.flush()
                answered = message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_written)
        finally:
            if not answered:  # a WebSocket's end, or a call dropped before its answer
                self.state.flush()
