"""The SQLite connection under the library: pragmas, transactions, one-line errors.

Every write goes through :func:`write`, a ``BEGIN IMMEDIATE`` transaction:
taking the write lock up front makes concurrent writers (two ``moodplayer``
processes, a scan and a ``playlist add``) queue on the busy timeout instead
of failing mid-transaction when a deferred read lock cannot be upgraded.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from moodplayer.errors import LibraryError

#: How long a statement waits for another process's write lock before giving up.
BUSY_TIMEOUT_S = 5.0
#: The largest library checked whole each time it is opened (see :func:`check_whole`).
QUICK_CHECK_BYTES = 64 << 20

F = TypeVar("F", bound=Callable)


def connect(path: Path, timeout: float = BUSY_TIMEOUT_S):
    """Open ``path`` as a sqlite-utils Database with WAL, foreign keys and a busy timeout.

    The driver is put in autocommit mode (``isolation_level=None``) so that
    transactions are exactly the ones :func:`write` and sqlite-utils open,
    never an implicit one left hanging by a read.
    """
    import sqlite_utils

    path.parent.mkdir(parents=True, exist_ok=True)
    with translated(path, timeout):
        conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            # journal_mode needs to read the header: a damaged file fails here, not later.
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL loses nothing on a process crash, only on power loss.
            conn.execute("PRAGMA synchronous = NORMAL")
            check_whole(conn, path)
        except BaseException:
            conn.close()
            raise
        return sqlite_utils.Database(conn)


def check_whole(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a library with damaged pages anywhere, before any command reads or writes it.

    A damaged page is otherwise met only by the statements that touch it: the
    history would still print and a playlist still be created in a database
    whose other tables are lost. ``PRAGMA quick_check`` reads every page; a
    library larger than :data:`QUICK_CHECK_BYTES` (far beyond a large music
    collection) is left to SQLite's own checks as each page is read.
    """
    if not path.is_file() or path.stat().st_size > QUICK_CHECK_BYTES:
        return
    problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
    if problems != ["ok"]:
        raise sqlite3.DatabaseError(f"{'; '.join(problems)}")


@contextlib.contextmanager
def write(db) -> Iterator[None]:
    """One immediate write transaction; nested calls join the outer one."""
    conn = db.conn
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextlib.contextmanager
def translated(path: Path, timeout: float = BUSY_TIMEOUT_S) -> Iterator[None]:
    """Turn SQLite's lock and corruption errors into one-line :class:`LibraryError`\\ s."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        text = str(exc)
        if "locked" in text or "busy" in text:
            raise LibraryError(
                f"the library {path} is locked by another process (waited {timeout:g} s); "
                "try again when it has finished"
            ) from None
        if "unable to open" in text or "readonly" in text or "disk I/O" in text:
            raise LibraryError(f"cannot use the library {path}: {text}") from None
        if "is full" in text:  # SQLITE_FULL: the transaction was rolled back, nothing half-written
            raise LibraryError(f"cannot write the library {path}: the disk is full; free some space") from None
        if "no such table" in text or "no such column" in text:  # its tables don't match its version
            raise LibraryError(f"the library {path} is damaged ({text}); it was left untouched") from None
        raise
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.IntegrityError):
            raise
        raise LibraryError(
            f"the library {path} is damaged or not a moodplayer database ({exc}); "
            "it was left untouched: move it aside to start a new one"
        ) from None


def guarded(method: F) -> F:
    """Run a Library method under :func:`translated` with the library's own path."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with translated(self.path, self.timeout):
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
