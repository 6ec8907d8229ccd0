"""TrialScope's exceptions: one tree, so callers catch what they mean.

    TrialScopeError                  anything TrialScope raises on purpose
    ├── ParseError                   a source record that cannot become a Trial
    │   └── NotAStudyError           a well-formed object that is not a study at all
    ├── SourceError                  a file or archive that cannot be read (truncated zip, bad JSON)
    ├── StoreError                   the store cannot be opened or used
    │   └── SchemaVersionError       the store was written by another schema version
    ├── TrialNotFoundError           no trial with that NCT id in the store
    ├── QueryError                   a search or filter a user gave that cannot run
    ├── SyncError                    ClinicalTrials.gov (or a stand-in) could not be used
    └── WatchError                   a saved search that cannot be saved, found or its alert sent

Every message is one sentence a user can act on.
"""

from __future__ import annotations

from collections.abc import Callable


class TrialScopeError(Exception):
    """Base of every error TrialScope raises on purpose."""


class ParseError(TrialScopeError):
    """A record that cannot be turned into a Trial."""


class NotAStudyError(ParseError):
    """A well-formed object that is not a study record."""


class SourceError(TrialScopeError):
    """A file or archive that cannot be read."""


class StoreError(TrialScopeError):
    """The store cannot be opened or used."""


class SchemaVersionError(StoreError):
    """The store on disk has another schema version than this TrialScope."""


class TrialNotFoundError(TrialScopeError):
    """No trial with that NCT id."""

    def __init__(self, nct_id: str) -> None:
        super().__init__(f"No trial {nct_id} in the store; check the id or ingest its record first.")
        self.nct_id = nct_id


class QueryError(TrialScopeError):
    """A search a user gave that cannot run.

    A message may name search parameters as ``{name}``; each surface says them its own way
    (``--within`` on the command line, "Within" on the web form):

    >>> error = QueryError("A distance ({within}) needs a place ({near}).", names=("within", "near"))
    >>> str(error), error.render(lambda name: "--" + name)
    ('A distance (within) needs a place (near).', 'A distance (--within) needs a place (--near).')
    """

    def __init__(self, message: str, *, names: tuple[str, ...] = ()) -> None:
        self.template = message
        self.names = names
        super().__init__(self.render(lambda name: name))

    def render(self, name_of: Callable[[str], str]) -> str:
        """The message with each parameter it names said by ``name_of``."""
        if not self.names:
            return self.template
        return self.template.format(**{name: name_of(name) for name in self.names})


class SyncError(TrialScopeError):
    """ClinicalTrials.gov (or a stand-in) could not be used: a request failed for good, or a bad answer.

    Carries what the sync needs to report or decide: the URL, the last HTTP status (None when no answer
    came) and how many attempts were made.
    """

    def __init__(
        self, message: str, *, url: str | None = None, status: int | None = None, attempts: int = 0
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.attempts = attempts


class WatchError(TrialScopeError):
    """A saved search (a watch) that cannot be saved or found, or whose alert e-mail cannot be sent."""
