"""Where finished trials go: an SQLite file, so that a killed search resumes without running them again."""
import numbers
import pickle
import sqlite3
from contextlib import contextmanager
from pathlib import Path

import joblib
import numpy as np

#: Version of the file's layout; a file of another version is refused.
SCHEMA_VERSION = 1


def search_fingerprint(estimator, *data, exempt=("n_jobs", "verbose", "storage")):
    """What makes two fits of ``estimator`` the same search: its parameters but ``exempt``, and a hash of ``data``."""
    params = {k: v for k, v in estimator.get_params(deep=False).items() if k not in exempt}
    data = [None if part is None else (part if hasattr(part, "columns") else np.asarray(part)) for part in data]
    return f"{type(estimator).__name__}:{joblib.hash([params, *data])}"


def check_resumable_seed(storage, random_state):
    """A search resumes only if it draws the same seeds again: with a ``storage``, ``random_state`` must be an int."""
    if storage is not None and not isinstance(random_state, numbers.Integral):
        raise ValueError(
            f"storage={storage!r} resumes a search only if it draws the same seeds again: set random_state to an "
            f"int (got {random_state!r})."
        )


class SQLiteStorage:
    """Finished trials of one search in an SQLite file (the standard library's ``sqlite3``).

    The file holds the search's fingerprint (what it was started with), the
    size of its rounds, and one row per finished trial, committed as soon as
    the trial is recorded, as Optuna's storages commit a trial when it
    finishes. A search killed at any moment leaves only whole trials
    behind. :func:`~skautoml.search.run_search` replays them into the
    strategy when it starts again: the same seeded strategy proposes the
    same candidates, each stored result is told instead of training again,
    and the search goes on from the first trial that is not stored.

    Parameters
    ----------
    path : str or Path
        The file; created with its folder when missing.

    Examples
    --------
    >>> import tempfile, os
    >>> from skautoml.search import SQLiteStorage, TrialResult
    >>> path = os.path.join(tempfile.mkdtemp(), "search.sqlite")
    >>> storage = SQLiteStorage(path).open("search of x", round_size=1)
    >>> storage.add(0, TrialResult("a", 0.9, "ok"))
    >>> [r.score for r in SQLiteStorage(path).open("search of x", round_size=2).load()]
    [0.9]
    >>> SQLiteStorage(path).round_size
    1
    """

    def __init__(self, path):
        self.path = Path(path)

    @contextmanager
    def _connect(self):
        """A connection whose changes are committed (or rolled back on an error) and which is closed after."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=60)
        try:
            with connection:
                connection.execute("CREATE TABLE IF NOT EXISTS search (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                connection.execute("CREATE TABLE IF NOT EXISTS trials (number INTEGER PRIMARY KEY, result BLOB NOT NULL)")
                yield connection
        finally:
            connection.close()

    def _settings(self):
        with self._connect() as connection:
            return dict(connection.execute("SELECT key, value FROM search").fetchall())

    @property
    def round_size(self):
        """Trials per round of the search that started the file (None before it did)."""
        value = self._settings().get("round_size")
        return None if value is None else int(value)

    def open(self, fingerprint, round_size):
        """Start the file for a search, or check that it belongs to this one; returns ``self``.

        Parameters
        ----------
        fingerprint : str
            What makes two searches the same search (their parameters and a
            hash of their data); a file started by another raises ValueError.
        round_size : int
            Trials per round; kept from the first search, which a resumed
            one repeats so that its strategy proposes what it proposed.
        """
        with self._connect() as connection:
            settings = dict(connection.execute("SELECT key, value FROM search").fetchall())
            if not settings:
                connection.executemany(
                    "INSERT INTO search (key, value) VALUES (?, ?)",
                    [("schema", str(SCHEMA_VERSION)), ("fingerprint", fingerprint), ("round_size", str(round_size))],
                )
                return self
        if settings.get("schema") != str(SCHEMA_VERSION):
            raise ValueError(
                f"{self.path} was written by another version of skautoml's storage (schema "
                f"{settings.get('schema')}, this one reads {SCHEMA_VERSION}); give the search a new file."
            )
        if settings["fingerprint"] != fingerprint:
            raise ValueError(
                f"{self.path} holds the trials of another search: other parameters or other data (only settings that "
                "do not change the search, such as n_jobs and verbose, may differ when a search resumes). Give this "
                "search a new file, or delete that one to start again."
            )
        return self

    def load(self):
        """The stored trials' results, in trial order."""
        with self._connect() as connection:
            rows = connection.execute("SELECT number, result FROM trials ORDER BY number").fetchall()
        numbers = [number for number, _ in rows]
        if numbers != list(range(len(numbers))):
            missing = sorted(set(range(max(numbers, default=-1) + 1)) - set(numbers))
            raise ValueError(f"{self.path} lacks trials {missing[:5]} before later ones; it is not a search's file.")
        return [pickle.loads(blob) for _, blob in rows]

    def add(self, number, result):
        """Commit trial ``number``'s result (without its model) at once.

        A trial is stored once: a second ``add`` of its number means that two fits write to this
        file at the same time, and it raises rather than let one overwrite the other's trials.
        """
        blob = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            with self._connect() as connection:
                connection.execute("INSERT INTO trials (number, result) VALUES (?, ?)", (number, blob))
        except sqlite3.IntegrityError:
            raise RuntimeError(
                f"Trial {number} is already stored in {self.path}: another fit is writing to this file at the same "
                "time. Give each fit that runs at once its own storage file."
            ) from None
