"""The coverage map the test run keeps: which lines each test executed, per file version.

A pytest plugin: ``pytest --impact-map PATH`` (or ``PAYSWITCH_IMPACT_MAP=PATH``) runs the tests
under coverage.py with one dynamic context per test and writes what each test executed into
PATH, an SQLite file, replacing the rows of the tests that ran and keeping the others. Each
row names the file's content hash when it was measured, so `bench.regress.impact` knows which
version of a file a line number belongs to. Without the option nothing is measured.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["IMPORT_CONTEXT", "CoverageMap", "content_hash"]

IMPORT_CONTEXT = "(import)"  # lines run outside any test: imports at collection
_SCHEMA = """
CREATE TABLE IF NOT EXISTS tests (id INTEGER PRIMARY KEY, nodeid TEXT UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS runs (test INTEGER NOT NULL, file TEXT NOT NULL, sha TEXT NOT NULL,
                                 lines BLOB NOT NULL, PRIMARY KEY (test, file));
CREATE INDEX IF NOT EXISTS runs_file ON runs (file, sha);
"""


def content_hash(data: bytes) -> str:
    """The same hash git gives the file's blob, so a revision's version is found without
    reading it: ``git rev-parse REV:PATH``.

    >>> content_hash(b"")
    'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391'
    """
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _pack(lines: Iterable[int]) -> bytes:
    return ",".join(str(n) for n in sorted(lines)).encode()


def _unpack(blob: bytes) -> set[int]:
    return {int(n) for n in blob.decode().split(",") if n}


class CoverageMap:
    """The SQLite file: per test and file, the lines run and the file's hash at the time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path)
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def replace(self, executed: dict[str, dict[str, set[int]]], hashes: dict[str, str]) -> None:
        """``executed``: test -> file -> lines. Each test's old rows go, its new ones come."""
        with self.db:
            for nodeid, files in executed.items():
                self.db.execute("INSERT OR IGNORE INTO tests (nodeid) VALUES (?)", (nodeid,))
                (test,) = self.db.execute("SELECT id FROM tests WHERE nodeid = ?",
                                          (nodeid,)).fetchone()
                self.db.execute("DELETE FROM runs WHERE test = ?", (test,))
                self.db.executemany(
                    "INSERT INTO runs (test, file, sha, lines) VALUES (?, ?, ?, ?)",
                    [(test, f, hashes[f], _pack(lines)) for f, lines in files.items() if lines])

    def lines(self, file: str) -> Iterator[tuple[str, str, set[int]]]:
        """(test, sha, lines) of every row for ``file`` (a path relative to the root)."""
        for nodeid, sha, blob in self.db.execute(
                "SELECT t.nodeid, r.sha, r.lines FROM runs r JOIN tests t ON t.id = r.test "
                "WHERE r.file = ?", (file,)):
            yield nodeid, sha, _unpack(blob)


class _Recorder:
    """Coverage with a dynamic context per test, written to the map at the end."""

    def __init__(self, root: Path, map_path: Path) -> None:
        import coverage

        self.root = root
        self.map_path = map_path
        self.ran: set[str] = set()
        self.cov = coverage.Coverage(data_file=None, include=[f"{root}/*"],
                                     omit=[f"{root}/.venv/*", f"{root}/build/*"])
        self.cov.start()

    def switch(self, context: str) -> None:
        self.cov.switch_context(context)

    def finish(self) -> None:
        self.cov.stop()
        data = self.cov.get_data()
        executed: dict[str, dict[str, set[int]]] = {}
        hashes: dict[str, str] = {}
        for measured in data.measured_files():
            path = Path(measured)
            try:
                rel = path.resolve().relative_to(self.root).as_posix()
                hashes[rel] = content_hash(path.read_bytes())
            except (ValueError, OSError):
                continue
            for line, contexts in data.contexts_by_lineno(measured).items():
                for context in contexts:
                    test = context if context in self.ran else IMPORT_CONTEXT
                    executed.setdefault(test, {}).setdefault(rel, set()).add(line)
        cmap = CoverageMap(self.map_path)
        try:
            cmap.replace(executed, hashes)
        finally:
            cmap.close()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--impact-map", default=os.environ.get("PAYSWITCH_IMPACT_MAP"),
                     help="keep the per-test coverage map for `payswitch regress impact` in "
                          "this SQLite file (env PAYSWITCH_IMPACT_MAP)")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--impact-map")
    if path:
        config._impact_recorder = _Recorder(  # type: ignore[attr-defined]
            Path(config.rootpath).resolve(), Path(path).resolve())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Any) -> Iterator[None]:
    recorder: _Recorder | None = getattr(item.config, "_impact_recorder", None)
    if recorder is not None:
        recorder.ran.add(item.nodeid)
        recorder.switch(item.nodeid)
    yield
    if recorder is not None:
        recorder.switch("")


def pytest_unconfigure(config: pytest.Config) -> None:
    recorder: _Recorder | None = getattr(config, "_impact_recorder", None)
    if recorder is not None:
        recorder.finish()
