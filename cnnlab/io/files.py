"""Atomic file writes: every file cnnlab writes goes through here.

A write either replaces the target completely or leaves it untouched. The
bytes go to a temporary file in the target's own directory (so the final
rename never crosses a file system), are flushed and ``fsync``-ed, and the
temporary file is then renamed over the target with ``os.replace``, which is
atomic on POSIX and Windows. If anything fails before the rename, the
temporary file is removed and the target keeps its old contents.

Example:
    >>> from cnnlab.io.files import atomic_write_bytes, atomic_writer
    >>> atomic_write_bytes("weights.bin", b"...")            # doctest: +SKIP
    >>> with atomic_writer("log.csv") as f:                   # doctest: +SKIP
    ...     f.write(b"epoch,loss\\n")
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_writer"]


def _create_temp(path: str) -> tuple[int, str]:
    """Create a fresh temporary file next to ``path``.

    The file is created with mode 0o666, so the process umask applies as for
    any new file (``tempfile.mkstemp`` would make it 0o600). If ``path``
    already exists, its permission bits are copied to the temporary file.

    Returns:
        ``(fd, temp_path)``: an open write-only descriptor and the file's path.
    """
    directory, base = os.path.split(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temp = os.path.join(directory, f".{base}.{os.urandom(6).hex()}.tmp")
        try:
            fd = os.open(temp, flags, 0o666)
        except FileExistsError:
            continue
        try:
            os.chmod(temp, stat.S_IMODE(os.stat(path).st_mode))
        except FileNotFoundError:
            pass
        return fd, temp
    raise FileExistsError(f"atomic_writer: could not create a temporary file in {directory}")


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX only; a no-op elsewhere)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open ``path`` for writing in binary mode, atomically.

    Yields a binary file object on a temporary file in the same directory.
    When the ``with`` block ends normally, the data is flushed, ``fsync``-ed
    and the temporary file is renamed over ``path``. When the block raises,
    the temporary file is deleted, ``path`` is left as it was, and the
    exception propagates.

    Args:
        path: The file to create or replace. Its directory must exist.

    Yields:
        A writable binary file object.

    Raises:
        OSError: If the temporary file cannot be created, written or renamed
            (for example, the directory does not exist).
    """
    path = os.fspath(path)
    fd, temp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(os.path.dirname(os.path.abspath(path)))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (all of it, or nothing).

    Args:
        path: The file to create or replace. Its directory must exist.
        data: The complete new contents (``bytes``, ``bytearray`` or
            ``memoryview``).

    Raises:
        OSError: If the file cannot be written; ``path`` is then unchanged
            and no temporary file is left behind.
    """
    with atomic_writer(path) as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically, encoded with ``encoding``.

    Newlines are written as given (no platform translation).

    Args:
        path: The file to create or replace. Its directory must exist.
        text: The complete new contents.
        encoding: The text encoding. Default: ``"utf-8"``.
    """
    atomic_write_bytes(path, text.encode(encoding))
