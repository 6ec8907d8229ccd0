"""The search facts of every trial as numpy columns: filters are masks, facets are counts.

A database reads a row at a time: filtering 600,000 narrow rows and counting a quarter of
them for five facets costs a few hundred milliseconds on a small machine. The same work over
columns in memory costs a few: a filter is a vectorised comparison, a facet a ``bincount``.
:func:`load_columns` reads ``search_facts``, ``search_countries`` and ``search_points`` once
per store version (about two seconds at 600,000 trials, ~100 MB), through the store's
generic ``column_arrays``, so any backend serves them.

>>> date_key("2021-06-30"), date_key("2021-06"), date_key("2021"), date_key(None)
(20210630, 20210600, 20210000, -1)
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from trialscope.search.document import FIELDS
from trialscope.search.geo import EARTH_RADIUS_KM, Place, bounding_box, inner_box
from trialscope.store import Store

CODED = ("status", "study_type", "sponsor_class", "sex")


def date_key(text: str | None) -> int:
    """An ISO date (as precise as the registry gives it) as an integer in the same order as
    the strings compare: missing parts are zeros; no date is -1."""
    if not text:
        return -1
    parts = text.split("-")
    try:
        year = int(parts[0])
        month = int(parts[1]) if len(parts) > 1 else 0
        day = int(parts[2]) if len(parts) > 2 else 0
    except ValueError:
        return -1
    return year * 10000 + month * 100 + day


def _encode(values: list[str | None]) -> tuple[np.ndarray, list[str | None]]:
    """Codes for a text column (0 is None) and the value of each code."""
    table: dict[str | None, int] = {None: 0}
    codes = np.fromiter((table.setdefault(v, len(table)) for v in values), dtype=np.int32, count=len(values))
    names: list[str | None] = [None] * len(table)
    for value, code in table.items():
        names[code] = value
    return codes, names


def _dates(values: list[str | None]) -> np.ndarray:
    cache: dict[str | None, int] = {}
    return np.fromiter(
        (cache[v] if v in cache else cache.setdefault(v, date_key(v)) for v in values),
        dtype=np.int64,
        count=len(values),
    )


@dataclass
class Columns:
    """Every trial's search facts, row i being the trial ``ids[i]`` (ids ascending)."""

    ids: np.ndarray
    codes: dict[str, np.ndarray]
    values: dict[str, list[str | None]]
    phases: np.ndarray
    itypes: np.ndarray
    healthy: np.ndarray
    results: np.ndarray
    removed: np.ndarray
    min_age: np.ndarray
    max_age: np.ndarray
    enrollment: np.ndarray
    start: np.ndarray
    completion: np.ndarray
    updated: np.ndarray
    start_year: np.ndarray
    segment: np.ndarray
    lengths: np.ndarray  # (trials, fields): each field's length in tokens
    country_row: np.ndarray
    country_code: np.ndarray
    country_values: list[str]
    store: Store | None = None
    _points: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    _unit: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    _code_of: dict[str, dict[str | None, int]] = field(default_factory=dict)
    _by_id: np.ndarray | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def size(self) -> int:
        return int(self.ids.size)

    def owner(self) -> np.ndarray:
        """The text segment of each trial id (-1: no trial), indexed by trial id."""
        table = np.full(int(self.ids[-1]) + 1 if self.size else 1, -1, dtype=np.int64)
        table[self.ids] = self.segment
        return table

    def norms_by_id(self, b: Sequence[float]) -> np.ndarray:
        """BM25F's length norm of each field of each trial, ``(fields, trial id)``:
        1 - b + b x length / mean length of the field over every trial."""
        n_fields = len(b)
        table = np.ones((n_fields, int(self.ids[-1]) + 1 if self.size else 1), dtype=np.float64)
        if self.size:
            lengths = self.lengths.astype(np.float64)
            mean = lengths.mean(axis=0)
            for f in range(n_fields):
                ratio = lengths[:, f] / mean[f] if mean[f] > 0 else np.zeros(self.size)
                table[f, self.ids] = 1 - b[f] + b[f] * ratio
        return table

    def points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lat, lon, row) of every located site, by latitude; read on first use."""
        if self._points is None:
            with self._lock:
                if self._points is None and self.store is not None:
                    trial_ids, lat, lon = self.store.column_arrays(
                        "search_points",
                        (("trial_id", "int"), ("lat", "real"), ("lon", "real")),
                        order_by="lat",
                    )
                    self._points = (
                        np.asarray(lat),
                        np.asarray(lon),
                        self.rows_of(np.asarray(trial_ids), keep=True),
                    )
        assert self._points is not None
        return self._points

    def unit_vectors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every located site of :meth:`points` on the unit sphere (float32 x, y, z), for
        distance tests that need no trigonometry per site; made on first use."""
        if self._unit is None:
            lat, lon, _ = self.points()
            with self._lock:
                if self._unit is None:
                    self._unit = _unit(lat, lon)
        return self._unit

    def code(self, column: str, value: str | None) -> int:
        """The code of a value in a coded column; -2 (matching nothing) when absent."""
        if column not in self._code_of:
            self._code_of[column] = {v: i for i, v in enumerate(self.values[column])}
        return self._code_of[column].get(value, -2)

    def rows_of(self, trial_ids: np.ndarray, *, keep: bool = False) -> np.ndarray:
        """Row numbers of trial ids (ids without a row are dropped, or -1 with ``keep``)."""
        if trial_ids.size == 0:
            return np.empty(0, dtype=np.int64)
        by_id = self._row_by_id()
        inside = (trial_ids >= 0) & (trial_ids < by_id.size)
        rows = np.full(trial_ids.size, -1, dtype=np.int64)
        rows[inside] = by_id[trial_ids[inside]]
        return rows if keep else rows[rows >= 0]

    def _row_by_id(self) -> np.ndarray:
        if self._by_id is None:
            table = np.full(int(self.ids[-1]) + 1 if self.size else 1, -1, dtype=np.int64)
            table[self.ids] = np.arange(self.size)
            self._by_id = table
        return self._by_id

    def mask_of(self, trial_ids: np.ndarray) -> np.ndarray:
        mask = np.zeros(self.size, dtype=bool)
        mask[self.rows_of(trial_ids)] = True
        return mask

    def rows_mask(self, id_mask: np.ndarray) -> np.ndarray:
        """A mask over trial ids as a mask over rows."""
        inside = self.ids < id_mask.size
        out = np.zeros(self.size, dtype=bool)
        out[inside] = id_mask[self.ids[inside]]
        return out


_FACTS = (
    ("id", "int"),
    ("phases", "int"),
    ("itypes", "int"),
    ("healthy_volunteers", "int"),
    ("has_results", "int"),
    ("removed", "int"),
    ("min_age_days", "real"),
    ("max_age_days", "real"),
    ("enrollment", "real"),
    ("text_seg", "int"),
    *((name, "text") for name in CODED),
    ("start_date", "text"),
    ("completion_date", "text"),
    ("last_update", "text"),
)


def load_columns(store: Store) -> Columns:
    """Read the search tables into columns (sites' points are read on first use)."""
    got = dict(
        zip((n for n, _ in _FACTS), store.column_arrays("search_facts", _FACTS, order_by="id"), strict=True)
    )
    codes: dict[str, np.ndarray] = {}
    values: dict[str, list[str | None]] = {}
    for name in CODED:
        codes[name], values[name] = _encode(got[name])  # type: ignore[arg-type]
    ids = np.asarray(got["id"])
    start = _dates(got["start_date"])  # type: ignore[arg-type]
    country_ids, country_names = store.column_arrays(
        "search_countries", (("trial_id", "int"), ("country", "text")), order_by="trial_id"
    )
    country_code, country_values = _encode(country_names)  # type: ignore[arg-type]
    columns = Columns(
        ids=ids,
        codes=codes,
        values=values,
        phases=np.asarray(got["phases"]),
        itypes=np.asarray(got["itypes"]),
        healthy=np.asarray(got["healthy_volunteers"]).astype(np.int8),
        results=np.asarray(got["has_results"]).astype(np.int8),
        removed=np.asarray(got["removed"]).astype(bool),
        min_age=np.asarray(got["min_age_days"]),
        max_age=np.asarray(got["max_age_days"]),
        enrollment=np.asarray(got["enrollment"]),
        start=start,
        completion=_dates(got["completion_date"]),  # type: ignore[arg-type]
        updated=_dates(got["last_update"]),  # type: ignore[arg-type]
        start_year=np.where(start >= 0, start // 10000, 0).astype(np.int32),
        segment=np.asarray(got["text_seg"]),
        lengths=np.frombuffer(
            b"".join(store.blob_column("search_facts", "text_lens", order_by="id")), np.uint32
        ).reshape(ids.size, len(FIELDS)),
        country_row=np.empty(0, np.int64),
        country_code=country_code,
        country_values=[v or "" for v in country_values],
        store=store,
    )
    columns.country_row = columns.rows_of(np.asarray(country_ids), keep=True)
    return columns


_SURE = 1e-5  # float32 cosines this far from the limit decide a site without haversine


def near_rows(cols: Columns, place: Place, within_km: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows of trials with a site within ``within_km`` of the place, and the position of each
    such site in :meth:`Columns.points` (a trial with several such sites appears once for each;
    :func:`site_distances` gives their distances).

    Inside or not is the cosine of the angle between the site and the place (a dot product of
    unit vectors, three multiplications a site) against the cosine of the distance allowed;
    only a site within float32's rounding of the limit is measured with haversine.
    """
    lat_min, lat_max, lon_min, lon_max = bounding_box(place.lat, place.lon, within_km)
    point_lat, point_lon, point_row = cols.points()
    lo = int(np.searchsorted(point_lat, lat_min, side="left"))
    hi = int(np.searchsorted(point_lat, lat_max, side="right"))
    at = np.arange(lo, hi)
    if lon_min is not None:
        lon = point_lon[lo:hi]
        at = at[(lon >= lon_min) & (lon <= lon_max)]
    x, y, z = cols.unit_vectors()
    px, py, pz = _unit(np.asarray([place.lat]), np.asarray([place.lon]))
    cosine = x[at] * np.float32(px[0]) + y[at] * np.float32(py[0]) + z[at] * np.float32(pz[0])
    limit = math.cos(min(within_km / EARTH_RADIUS_KM, math.pi))
    inside = cosine >= limit + _SURE
    close = np.flatnonzero(np.abs(cosine - limit) < _SURE)
    if close.size:
        inside[close] = haversine(place, point_lat[at[close]], point_lon[at[close]]) <= within_km
    box = inner_box(place.lat, place.lon, within_km)
    if box is not None:  # rounding must not drop a site the inner box says is inside
        lat, lon = point_lat[at], point_lon[at]
        inside |= (lat >= box[0]) & (lat <= box[1]) & (lon >= box[2]) & (lon <= box[3])
    at = at[inside]
    rows = point_row[at]
    keep = rows >= 0
    return rows[keep], at[keep]


def site_distances(cols: Columns, place: Place, at: np.ndarray) -> np.ndarray:
    """Distances in km from the place to the sites at these positions of :meth:`Columns.points`."""
    point_lat, point_lon, _ = cols.points()
    return haversine(place, point_lat[at], point_lon[at])


def _unit(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points on the unit sphere, float32."""
    phi, lam = np.radians(lat), np.radians(lon)
    cos_phi = np.cos(phi)
    return (
        (cos_phi * np.cos(lam)).astype(np.float32),
        (cos_phi * np.sin(lam)).astype(np.float32),
        np.sin(phi).astype(np.float32),
    )


def haversine(place: Place, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Great-circle distances in km from a place to many points."""
    a = np.power(np.sin(np.radians(lat - place.lat) / 2), 2) + np.cos(np.radians(place.lat)) * np.cos(
        np.radians(lat)
    ) * np.power(np.sin(np.radians(lon - place.lon) / 2), 2)
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))
