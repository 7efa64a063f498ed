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
What becomes which row is :mod:`botconnect.emulator._state_rows`'s business.
"""

from __future__ import annotations

import binascii
import contextlib
import json
import logging
import operator
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from ._state_rows import LOG_KINDS, Fingerprint, LogMark, Row, StateCodec

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

_STALE = object()  # the fingerprint of a row in the file that the state may no longer have


class StateFileError(Exception):
    """The state file cannot be used: not an emulator state file, damaged, from a newer botconnect, or in use."""


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
        self._codec = StateCodec(app)
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
        logs_in_file = {(kind, key) for kind, key, _, _, _ in rows if kind in LOG_KINDS}
        records_in_file = {(kind, key, pos) for kind, key, pos, _, _ in rows if kind not in LOG_KINDS}
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
