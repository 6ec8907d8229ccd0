"""Polite, retrying HTTP to ClinicalTrials.gov: pacing, retries, counts, and one sentence when it fails.

:class:`HttpSession` is what :class:`~trialscope.ctgov.client.CtgovClient` and the bulk download send
their requests through:

- every try first waits its turn in a token bucket (on average ``rate`` requests a second);
- stamina retries with exponential backoff and jitter on 5xx, 429, 408, timeouts, refused connections and
  bodies cut short; when a 429 or 503 carries ``Retry-After`` (seconds or an HTTP date) the next try
  waits exactly that long, and a wait longer than ``max_retry_after`` ends the request instead;
- when it gives up it raises :class:`~trialscope.errors.SyncError` with one sentence: the URL, what went
  wrong (HTTP status, timeout, network) and what to do;
- ``stats`` counts requests, retries, body bytes and statuses.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Self

import httpx
import orjson
import stamina

from trialscope import __version__
from trialscope.errors import SyncError

DEFAULT_API_URL = "https://clinicaltrials.gov"
#: About 50 requests a minute per address is the widely cited limit of the live API.
DEFAULT_RATE = 50 / 60


@dataclass
class ClientStats:
    """What a session has done so far: requests sent, retries made, body bytes received, statuses seen."""

    requests: int = 0
    retries: int = 0
    bytes_received: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, *, requests: int = 0, retries: int = 0, nbytes: int = 0, status: int | None = None) -> None:
        """Count under a lock, so threads sharing a session keep true totals."""
        with self._lock:
            self.requests += requests
            self.retries += retries
            self.bytes_received += nbytes
            if status is not None:
                self.statuses[status] += 1


class HttpStatusError(Exception):
    """A response whose status is not 2xx; the retry hook decides whether it is worth another try."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.status = response.status_code
        self.reason = response.reason_phrase
        self.retry_after = parse_retry_after(response.headers.get("Retry-After"))
        self.detail = _error_detail(response)


class RetryableError(Exception):
    """Something the caller found worth another try (a bulk download's range that does not fit)."""


def _error_detail(response: httpx.Response) -> str:
    """The server's own words about an error, JSON or plain text, cut to one short line."""
    try:
        text = response.read().decode("utf-8", "replace").strip()
    except httpx.HTTPError:
        return ""
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        text = str(body.get("message") or body.get("error") or body.get("detail") or text)
    return " ".join(text.split())[:200]


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date; None if absent or bad.

    >>> parse_retry_after("2")
    2.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", now=dt.datetime(2015, 10, 21, 7, 28, tzinfo=dt.UTC))
    5.0
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


class _TokenBucket:
    """A polite pace: on average ``rate`` requests a second, with at most ``burst`` back to back."""

    def __init__(self, rate: float | None, burst: float) -> None:
        self._rate = rate
        self._burst = max(1.0, burst)
        self._tokens = self._burst
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> None:
        if not self._rate:
            return
        # Held while sleeping, so threads sharing a session queue up instead of all firing together.
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
            self._last = now
            if self._tokens < 1:
                time.sleep((1 - self._tokens) / self._rate)
                self._tokens = 1.0
                self._last = time.monotonic()
            self._tokens -= 1


class HttpSession:
    """One httpx connection pool to a site root, with pacing, retries, counts and clear failures.

    Nothing is opened until the first request. ``rate`` is requests per second (None: no pacing),
    ``timeout`` seconds without an answer before a try is abandoned, ``retries`` how many more tries a
    request gets, ``backoff`` the first pause between tries (it doubles, with jitter, up to
    ``backoff_max``), ``max_retry_after`` the longest ``Retry-After`` honoured; ``transport`` replaces
    the network (any httpx transport).

    >>> session = HttpSession("http://127.0.0.1:8765", rate=None)
    >>> session.url("/api/v2/version")
    'http://127.0.0.1:8765/api/v2/version'
    """

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        rate: float | None = DEFAULT_RATE,
        burst: float = 5,
        timeout: float = 60.0,
        retries: int = 5,
        backoff: float = 1.0,
        backoff_max: float = 60.0,
        max_retry_after: float = 300.0,
        transport: httpx.BaseTransport | None = None,
        user_agent: str | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.stats = ClientStats()
        self._pacer = _TokenBucket(rate, burst)
        self._transport = transport
        self._user_agent = user_agent or f"TrialScope/{__version__} (registry sync)"
        self._http: httpx.Client | None = None
        self._http_lock = threading.Lock()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool (a later request opens a new one)."""
        with self._http_lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    def http(self) -> httpx.Client:
        """The httpx client, made on first use so that building a session does no I/O."""
        with self._http_lock:
            if self._http is None:
                self._http = httpx.Client(
                    transport=self._transport,
                    timeout=httpx.Timeout(self.timeout),
                    headers={"User-Agent": self._user_agent, "Accept": "application/json"},
                    follow_redirects=True,
                )
            return self._http

    def url(self, path: str) -> str:
        """The absolute URL of a path on the site."""
        return self.api_url + path

    def retrying(self, attempts: int | None = None) -> Iterator[stamina.Attempt]:
        """stamina's retry context with this session's budget; start each try with :meth:`begin_try`.

        >>> for attempt in session.retrying():  # doctest: +SKIP
        ...     with attempt:
        ...         session.begin_try(attempt)
        ...         response = session.http().get(url)
        ...         session.raise_for_status(response)
        """
        return iter(
            stamina.retry_context(
                on=self._retry_hook,
                attempts=attempts or self.retries + 1,
                timeout=None,
                wait_initial=self.backoff,
                wait_max=self.backoff_max,
                wait_jitter=self.backoff,
            )
        )

    def begin_try(self, attempt: stamina.Attempt) -> None:
        """Pace the coming try, and count it (as a retry too when it is not the first)."""
        if attempt.num > 1:
            self.stats.add(retries=1)
        self._pacer.take()
        self.stats.add(requests=1)

    def _retry_hook(self, exc: Exception) -> bool | float:
        """Whether (True), how long after (seconds), or not (False) to try again after ``exc``."""
        if isinstance(exc, HttpStatusError):
            if exc.status not in (408, 429) and exc.status < 500:
                return False
            if exc.retry_after is None:
                return True
            return exc.retry_after if exc.retry_after <= self.max_retry_after else False
        return isinstance(exc, httpx.TransportError | RetryableError)

    def raise_for_status(self, response: httpx.Response) -> None:
        """Count the response's status and raise :class:`HttpStatusError` unless it is 2xx."""
        self.stats.add(status=response.status_code)
        if not response.is_success:
            raise HttpStatusError(response)

    def give_up(self, url: str, exc: Exception, attempts: int, what: str = "") -> SyncError:
        """The one sentence for a request that failed for good: what URL, what went wrong, what to do."""
        get = f"GET {url if len(url) <= 160 else url[:157] + '...'}"
        tries = f"after {attempts} attempts"
        if not isinstance(exc, HttpStatusError):
            if isinstance(exc, httpx.TimeoutException):
                wrong = f"got no answer within {self.timeout:g} s, {tries}"
                todo = "check the network or raise the timeout"
            else:
                wrong, todo = (
                    f"failed {tries} ({type(exc).__name__}: {exc})",
                    "check the network and try again",
                )
            return SyncError(f"{get} {wrong}; {todo}.", url=url, attempts=attempts)
        status = f"HTTP {exc.status}" + (f" {exc.reason}" if exc.reason else "")
        if exc.retry_after is not None and exc.retry_after > self.max_retry_after:
            message = (
                f"{get} was answered {status} with a wait of {exc.retry_after:.0f} s, more than the "
                f"{self.max_retry_after:.0f} s this client waits; run again later."
            )
        elif exc.status == 429:
            message = (
                f"{get} was refused with {status} {tries}; wait a while and run again, or lower the rate."
            )
        elif exc.status >= 500:
            message = f"{get} failed with {status} {tries}; ClinicalTrials.gov may be down, try again later."
        elif exc.status == 404:
            message = f"{get} found no {what or 'such resource'} (HTTP 404); check the NCT id."
        else:
            said = f": {exc.detail}" if exc.detail else ""
            message = f"{get} was rejected with {status}{said}; check the request's parameters."
        return SyncError(message, url=url, status=exc.status, attempts=attempts)

    def get(self, path: str, params: Mapping[str, str] | None = None, *, what: str = "") -> httpx.Response:
        """GET a path with pacing and retries, its body read whole; ``what`` names it in a 404's sentence.

        >>> session.get("/api/v2/version").json()["apiVersion"]  # doctest: +SKIP
        '2.0.5'
        """
        url = self.url(path)
        attempts = 0
        try:
            for attempt in self.retrying():
                with attempt:
                    attempts = attempt.num
                    self.begin_try(attempt)
                    response = self.http().get(url, params=dict(params or {}))
                    self.stats.add(nbytes=len(response.content))
                    self.raise_for_status(response)
                    return response
        except (HttpStatusError, httpx.TransportError) as exc:
            full = str(httpx.URL(url, params=dict(params or {})))
            raise self.give_up(full, exc, attempts, what) from None
        raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover
