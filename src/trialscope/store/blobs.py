"""How a store compresses its large values: each record's raw JSON, each parsed trial and its
results, each trial's typed criteria.

Records of one registry share most of their bytes (the same keys, the same phrases), which
compression of one record at a time cannot see. So a store trains zstd dictionaries — one
for raw records, one for parsed trials, one for typed criteria — from the first large batch
of each it writes, keeps them in its ``blob_dicts`` table, and compresses every later value
with them: about twice as small as zlib (docs/PERFORMANCE.md). Values written before a store
had them (and stores made by an earlier TrialScope) stay in zlib's format; :func:`decompress`
reads both.

A parsed trial says again what its raw record says (the same titles, descriptions, criteria),
so it is compressed *against* that record (:meth:`BlobCodec.pack_against`): zstd with the raw
record (after the end of the trial dictionary) as the only window it refers back to. What is
left is the parsed trial's own structure — a few hundred bytes instead of a few thousand. The
store keeps the raw record anyway (``trial_versions``), so reading a trial reads both
(:func:`decompress` with ``base``).

A zstd frame names its dictionary by number, so reading needs no store at hand: each open
store registers its dictionaries here (:func:`register`), and a frame whose dictionary is not
registered yet (another process trained it after this one opened the store) asks the stores
that registered themselves as sources (:func:`add_source`).

>>> decompress(compress(b'{"a": 1}')) == b'{"a": 1}'
True
"""

from __future__ import annotations

import logging
import struct
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence

import zstandard

try:  # ISA-L writes and reads the same zlib format several times faster than zlib itself.
    from isal.isal_zlib import compress as _zlib_compress
    from isal.isal_zlib import decompress as _zlib_decompress
except ImportError:  # pragma: no cover - the optional accelerator is missing
    from zlib import compress as _zlib_compress
    from zlib import decompress as _zlib_decompress

from trialscope.errors import StoreError

log = logging.getLogger(__name__)

RECORD_KINDS = ("raw", "trial")  # a dictionary for raw records, one for parsed trials and results
CRITERIA = "criteria"  # and one for typed criteria, trained when a store first types them
DICT_BYTES = 262_144  # 256 KiB: on the shared records, values ~1.6x smaller than zlib at level 3
MIN_SAMPLES = 500  # a batch this large (or larger) trains a store's dictionaries
MAX_SAMPLES = 4_000  # samples read to train one
LEVEL = 3
# Raw records are written once and read rarely (history, exports), so they get a higher level:
# on the synthetic corpus 6 is 11 % smaller than 3 for about 1.5x the time to compress.
LEVELS = {"raw": 6}
_MAGIC = b"\x28\xb5\x2f\xfd"
# A value compressed against a base: this byte, the number of the dictionary whose end comes
# before the base in the window (0: none), then a zstd frame.
_AGAINST = struct.Struct("<BI")
AGAINST = 1
_AGAINST_BYTE = bytes([AGAINST])
# How much of a dictionary's end goes before the base: its most used content (zstd puts it
# last). Measured on the 100k synthetic store: a parsed trial 3.0 KB alone, 1.07 KB against its
# raw record, 0.73 KB against 16 KiB of the trial dictionary and the record.
DICT_TAIL = 16_384

_DICTS: dict[int, zstandard.ZstdCompressionDict] = {}  # by number: immutable, shared by every store
_SOURCES: list[weakref.ref[Callable[[int], bytes | None]]] = []
_LOCK = threading.Lock()
_LOCAL = threading.local()  # each thread its own decompressors (they are not thread-safe)


def compress(data: bytes) -> bytes:
    """zlib compression of a value, level 1 for speed (a store without dictionaries)."""
    return _zlib_compress(data, 1)


def decompress(blob: bytes, base: bytes | None = None) -> bytes:
    """A stored value: a zstd frame (with the dictionary it names), zlib, or a value
    compressed against ``base`` (the uncompressed value it was packed against)."""
    if needs_base(blob):
        if base is None:
            raise StoreError("A stored trial is compressed against its raw record, which is missing.")
        number = _AGAINST.unpack_from(blob)[1]
        return zstandard.ZstdDecompressor(dict_data=_window(number, base)).decompress(blob[_AGAINST.size :])
    if blob[:4] != _MAGIC:
        return _zlib_decompress(blob)
    number = zstandard.get_frame_parameters(blob).dict_id
    cache: dict[int, zstandard.ZstdDecompressor] | None = getattr(_LOCAL, "decompressors", None)
    if cache is None:
        cache = _LOCAL.decompressors = {}
    decompressor = cache.get(number)
    if decompressor is None:
        decompressor = cache[number] = zstandard.ZstdDecompressor(dict_data=_dictionary(number))
    return decompressor.decompress(blob)


def needs_base(blob: bytes | None) -> bool:
    """Whether a stored value was compressed against a base (see :meth:`BlobCodec.pack_against`)."""
    return blob is not None and blob[:1] == _AGAINST_BYTE


_TAILS: dict[int, bytes] = {0: b""}


def _window(number: int, base: bytes) -> zstandard.ZstdCompressionDict:
    """What a value packed against ``base`` refers back to: the end of dictionary ``number``
    (none for 0), then ``base``."""
    return zstandard.ZstdCompressionDict(_tail(number) + base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


def _tail(number: int) -> bytes:
    tail = _TAILS.get(number)
    if tail is None:
        tail = _TAILS[number] = _dictionary(number).as_bytes()[-DICT_TAIL:]
    return tail


def _dictionary(number: int) -> zstandard.ZstdCompressionDict:
    with _LOCK:
        found = _DICTS.get(number)
        sources = [s() for s in _SOURCES]
    if found is not None:
        return found
    for source in sources:
        data = source(number) if source is not None else None
        if data is not None:
            return register(data)
    raise StoreError(
        f"A stored value is compressed with dictionary {number}, which this store does not hold."
    )


def register(data: bytes) -> zstandard.ZstdCompressionDict:
    """Make a dictionary known to :func:`decompress` (the same dictionary twice is one)."""
    dictionary = zstandard.ZstdCompressionDict(data)
    with _LOCK:
        return _DICTS.setdefault(dictionary.dict_id(), dictionary)


def add_source(lookup: Callable[[int], bytes | None]) -> None:
    """A store's own look-up of a dictionary by number, asked when a frame names one not yet
    registered; held weakly (a closed store's look-up goes away with it)."""
    with _LOCK:
        _SOURCES[:] = [s for s in _SOURCES if s() is not None]
        _SOURCES.append(weakref.WeakMethod(lookup) if hasattr(lookup, "__self__") else weakref.ref(lookup))


class BlobCodec:
    """A store's compression: zstd with its dictionaries, or zlib until it has them."""

    def __init__(self, dictionaries: dict[str, bytes] | None = None) -> None:
        self.dictionaries = dict(dictionaries or {})
        self._compressors: dict[str, zstandard.ZstdCompressor] = {}
        self._numbers: dict[str, int] = {}
        self._lock = threading.Lock()
        for kind, data in self.dictionaries.items():
            dictionary = register(data)
            self._numbers[kind] = dictionary.dict_id()
            self._compressors[kind] = zstandard.ZstdCompressor(
                level=LEVELS.get(kind, LEVEL), dict_data=dictionary
            )

    def has(self, *kinds: str) -> bool:
        """Whether the store has a dictionary of each kind."""
        return all(kind in self._compressors for kind in kinds)

    @property
    def trained(self) -> bool:
        """Whether the records' dictionaries are trained (raw records and parsed trials)."""
        return self.has(*RECORD_KINDS)

    def pack(self, data: bytes, kind: str) -> bytes:
        """One value compressed (``kind``: ``raw``, ``trial`` or ``criteria``)."""
        compressor = self._compressors.get(kind)
        if compressor is None:
            return compress(data)
        with self._lock:  # a compressor is not thread-safe
            return compressor.compress(data)

    def pack_against(self, data: bytes, base: bytes) -> bytes:
        """A parsed value compressed against the raw record it came from (``base``, which the
        store keeps): zstd whose window is the end of the trial dictionary, then ``base``.

        >>> codec = BlobCodec()
        >>> record = b'{"briefTitle": "Mesenchymal stem cells in lupus nephritis"}'
        >>> packed = codec.pack_against(b'{"brief_title":"Mesenchymal stem cells in lupus nephritis"}', record)
        >>> needs_base(packed), decompress(packed, record)[:15]
        (True, b'{"brief_title":')
        """
        number = self._numbers.get("trial", 0)
        compressor = zstandard.ZstdCompressor(level=LEVEL, dict_data=_window(number, base))
        return _AGAINST.pack(AGAINST, number) + compressor.compress(data)

    @staticmethod
    def train(
        samples: Mapping[str, Sequence[bytes]], kinds: Sequence[str] = RECORD_KINDS
    ) -> dict[str, bytes] | None:
        """Dictionaries trained from uncompressed values of each kind; None when there are too
        few values (or zstd cannot train on them)."""
        out: dict[str, bytes] = {}
        for kind in kinds:
            values: list[bytes | bytearray | memoryview] = []
            values.extend(v for v in samples.get(kind, ()) if v)
            del values[MAX_SAMPLES:]
            if len(values) < MIN_SAMPLES:
                return None
            try:
                out[kind] = zstandard.train_dictionary(DICT_BYTES, values, level=LEVEL).as_bytes()
            except zstandard.ZstdError as exc:
                log.info("no compression dictionary for %s values: %s", kind, exc)
                return None
        return out
