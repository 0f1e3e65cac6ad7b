"""Atomic file writes and checksums.

Every artifact is written to a temporary file in the destination folder and then renamed
over the target (``os.replace`` is atomic on POSIX), so an interrupted run never leaves a
half-written file under the final name.

A writer that is killed outright (SIGKILL, power loss) cannot delete its temporary file, and
DVC would then see -- and commit -- the junk in a stage's output folder. Each temporary file
is therefore named ``.<target>.<random>.beyondfid-tmp`` and held under an exclusive
``flock`` by its writer for as long as it exists; :func:`remove_stale_temps` deletes the ones
whose writer is gone (the lock is free), and every atomic write first sweeps its folder that
way. Stage scripts also sweep their whole output tree when they start.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

try:  # POSIX advisory locks; elsewhere temps are still removed on failure, only not after a kill
    import fcntl
except ImportError:  # pragma: no cover - non-POSIX
    fcntl = None  # type: ignore[assignment]

TEMP_SUFFIX = ".beyondfid-tmp"


class CorruptFileError(ValueError):
    """A stored file (``.npz``) exists but cannot be read: truncated, zeroed or not the expected format."""


def _try_lock(fd: int) -> bool:
    """Take an exclusive lock on ``fd`` without waiting; True if it was free."""
    if fcntl is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def remove_stale_temps(directory: str | Path, recursive: bool = True) -> list[Path]:
    """Delete temporary files of atomic writes whose writer no longer runs; returns what was removed.

    A temp file of a live writer is locked by it and left alone, so concurrent writers into one
    folder are safe. Without ``fcntl`` (non-POSIX) nothing is removed.
    """
    directory = Path(directory)
    if fcntl is None or not directory.is_dir():
        return []
    pattern = f"**/.*{TEMP_SUFFIX}" if recursive else f".*{TEMP_SUFFIX}"
    removed = []
    for p in sorted(directory.glob(pattern)):
        try:
            fd = os.open(p, os.O_RDONLY)
        except OSError:  # gone already (its writer finished meanwhile)
            continue
        try:
            if _try_lock(fd):  # nobody holds it: the writer died
                p.unlink(missing_ok=True)
                removed.append(p)
        finally:
            os.close(fd)
    return removed


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    The temp file is locked while it exists (see the module docstring); stale temps of killed
    writers in the same folder are removed first. ``suffix`` is kept for callers that pass one;
    the temp name always ends in :data:`TEMP_SUFFIX`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path.parent, recursive=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    _try_lock(fd)  # held until the temp file is renamed or deleted
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
        os.close(fd)


def save_npz(path: str | Path, **arrays: Any) -> Path:
    """Atomically write an uncompressed ``.npz`` (no pickled objects allowed)."""
    path = Path(path)
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **{k: np.asarray(v) for k, v in arrays.items()})
    return path


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Load an ``.npz`` written by :func:`save_npz`; object arrays are refused (no unpickling)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; run the stage that produces it (`dvc repro`)")
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):  # a bare .npy, not an .npz archive
                raise ValueError("not an .npz archive")
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
        raise CorruptFileError(
            f"{path} is unreadable ({type(err).__name__}: {err}); delete it and re-run the stage that writes it"
        ) from None


def save_json(path: str | Path, obj: Any) -> Path:
    path = Path(path)
    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")
    return path


def save_text(path: str | Path, text: str) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_array(a: np.ndarray) -> str:
    """Checksum of an array's dtype, shape and C-ordered bytes."""
    a = np.ascontiguousarray(a)
    h = hashlib.sha256()
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
