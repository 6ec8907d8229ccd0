"""What a full build holds for every trial but needs only later, kept in a temporary file.

A full build of the related-trials index makes, per trial, things it needs only at one later
step: the raw feature rows (~1.8 KB a trial; read twice: document frequencies, then vectors),
the facts and ids it writes at the end (~0.8 KB), and the neighbour lists (~0.8 KB at k=100,
made chunk by chunk, written at the end). Held in memory they make the build's peak grow by
~3.4 KB a trial (2 GB at 600,000 trials); written to an unnamed temporary file as they come
and read back in order, they cost a few bytes a trial, and the operating system's page cache,
not the process, holds the bytes.

>>> spill = Spill()
>>> spill.write(b"one"); spill.write(b""); spill.write(b"three")
>>> list(spill), len(spill)
([b'one', b'', b'three'], 3)
"""

from __future__ import annotations

import tempfile
from array import array
from collections.abc import Iterator

import numpy as np
from scipy import sparse


class Spill:
    """Byte strings appended to a temporary file, read back in the order written (as often as needed)."""

    def __init__(self) -> None:
        # Closed by close(); unnamed, so the file is gone then or when the process ends.
        self._file = tempfile.TemporaryFile(prefix="trialscope-build-")  # noqa: SIM115
        self._sizes = array("q")

    def write(self, data: bytes) -> None:
        self._file.seek(0, 2)
        self._file.write(data)
        self._sizes.append(len(data))

    def __len__(self) -> int:
        return len(self._sizes)

    def __iter__(self) -> Iterator[bytes]:
        self._file.flush()
        self._file.seek(0)
        for size in self._sizes:
            yield self._file.read(size)

    def close(self) -> None:
        self._file.close()


class SpilledParts:
    """Consecutive runs of rows of a CSR matrix (float32 values), kept in a :class:`Spill`.

    Only each part's row pointers and width stay in memory (4 bytes a row).
    """

    def __init__(self) -> None:
        self._spill = Spill()
        self._shapes: list[tuple[int, int]] = []
        self._indptrs: list[np.ndarray] = []

    def append(self, part: sparse.csr_matrix) -> None:
        self._spill.write(part.indices.astype(np.int32, copy=False).tobytes())
        self._spill.write(part.data.astype(np.float32, copy=False).tobytes())
        self._indptrs.append(part.indptr.astype(np.int32))
        self._shapes.append(part.shape)

    def __len__(self) -> int:
        return len(self._shapes)

    def __iter__(self) -> Iterator[sparse.csr_matrix]:
        stored = iter(self._spill)
        for shape, indptr in zip(self._shapes, self._indptrs, strict=True):
            # Copies: a build sorts a part's indices in place (read bytes are immutable).
            indices = np.frombuffer(next(stored), np.int32).copy()
            data = np.frombuffer(next(stored), np.float32).copy()
            yield sparse.csr_matrix((data, indices, indptr), shape=shape)

    def close(self) -> None:
        self._spill.close()
