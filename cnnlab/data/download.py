"""Fetching data set files: mirrors in order, a timeout, a size limit, checksums, atomic writes; safe untar.

`download_file` tries each mirror (``mirror + filename``) in turn with
``urllib``. The bytes stream into a temporary file next to the target
(`cnnlab.io.files.atomic_writer`) while their MD5 / SHA-256 are computed; the
file appears under its name only when the whole transfer arrived (as long as
the server's Content-Length says), stayed under ``max_bytes`` and matches every
checksum given. Otherwise the temporary file is deleted and the next mirror is
tried; when none succeeds, `DownloadError` lists what went wrong at each one
(for a checksum mismatch: the file, the expected and the received checksum).

`extract_members` takes named regular files out of a ``.tar.gz`` without
``extractall``: it refuses an archive with any member whose path is absolute or
contains ``..``, and writes each wanted member atomically.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path, PurePosixPath

from cnnlab.io.files import atomic_writer

__all__ = ["DownloadError", "download_file", "extract_members", "file_digest"]

CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """No mirror delivered a complete file with the right checksum."""


class _Failed(Exception):
    """One mirror's failure, with the reason as its message."""


def file_digest(path, algorithm: str = "md5") -> str:
    """The hex digest (``'md5'`` or ``'sha256'``) of a file, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _fetch(url: str, target: Path, checksums: dict, max_bytes: int, timeout: float) -> None:
    """Stream ``url`` into ``target`` atomically; raise _Failed (target untouched) on any problem."""
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http(s) only, checked by caller
        header = response.headers.get("Content-Length")
        length = int(header) if header is not None and header.strip().isdigit() else None
        if length is not None and length > max_bytes:
            raise _Failed(f"the server announces {length} bytes, more than the limit of {max_bytes}")
        hashes = {name: hashlib.new(name) for name in checksums}
        total = 0
        with atomic_writer(target) as f:
            while chunk := response.read(CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise _Failed(f"more than the limit of {max_bytes} bytes arrived; stopped")
                for h in hashes.values():
                    h.update(chunk)
                f.write(chunk)
            if length is not None and total != length:
                raise _Failed(f"the transfer was truncated: got {total} of {length} bytes")
            for name, expected in checksums.items():
                got = hashes[name].hexdigest()
                if got != expected.lower():
                    raise _Failed(f"{name} checksum mismatch for {target.name}: expected {expected.lower()}, "
                                  f"got {got} (download deleted)")


def download_file(filename: str, mirrors, folder, md5: str | None = None, sha256: str | None = None,
                  max_bytes: int = 256 << 20, timeout: float = 60.0, log=None) -> Path:
    """Download ``filename`` into ``folder`` from the first mirror that delivers it intact.

    Args:
        filename: the file's name, appended to each mirror's base URL.
        mirrors: base URLs (``http://`` or ``https://``, ending in ``/``), tried in order.
        folder: where the file goes (created if missing); the result is ``folder / filename``.
        md5, sha256: expected hex digests; each one given must match.
        max_bytes: refuse a file larger than this. Default: 256 MiB.
        timeout: seconds a connection or a read may stall. Default: 60.
        log: called with one line per attempt (e.g. ``print``); None: silent.

    Returns:
        The path of the downloaded file.

    Raises:
        DownloadError: naming the file and every mirror's reason (HTTP error,
            timeout, truncated transfer, size limit, checksum mismatch with both checksums).
    """
    mirrors = [mirrors] if isinstance(mirrors, str) else list(mirrors)
    if not mirrors:
        raise ValueError(f"download_file: no mirror to fetch {filename} from")
    if not filename or PurePosixPath(filename).name != filename or filename in (".", ".."):
        raise ValueError(f"download_file: filename must be a plain file name, got {filename!r}")
    checksums = {name: value for name, value in (("md5", md5), ("sha256", sha256)) if value is not None}
    folder = Path(os.fspath(folder))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / filename
    errors = []
    for mirror in mirrors:
        url = mirror + filename
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            errors.append(f"{url}: only http:// and https:// mirrors are supported")
            continue
        if log is not None:
            log(f"Downloading {url}")
        try:
            _fetch(url, target, checksums, max_bytes, timeout)
            return target
        except _Failed as e:
            errors.append(f"{url}: {e}")
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
            errors.append(f"{url}: {type(e).__name__}: {e}")
    raise DownloadError(f"download: could not fetch {filename} into {folder} from any mirror:\n  "
                        + "\n  ".join(errors))


def _unsafe(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or (len(name) > 1 and name[1] == ":")


def extract_members(archive, folder, names, max_bytes: int = 256 << 20) -> list[Path]:
    """Extract the regular files ``names`` (paths inside the archive) from a ``.tar.gz`` into ``folder``.

    The whole archive is checked first: any member with an absolute path or a
    ``..`` component makes it refused, before anything is written. Each wanted
    member must be a regular file of at most ``max_bytes``; it is written
    atomically to ``folder / name``.

    Raises:
        ValueError: naming the archive, for an unsafe or missing member, or a truncated/corrupt archive.
    """
    archive, folder = Path(os.fspath(archive)), Path(os.fspath(folder))
    wanted = list(names)
    written = []
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for m in members:
                if _unsafe(m.name):
                    raise ValueError(f"extract: {archive}: member {m.name!r} has an absolute path or '..'; "
                                     "refusing to extract this archive")
            by_name = {m.name: m for m in members}
            for name in wanted:
                m = by_name.get(name)
                if m is None:
                    raise ValueError(f"extract: {archive} has no member {name}")
                if not m.isfile():
                    raise ValueError(f"extract: {archive}: member {name} is not a regular file")
                if m.size > max_bytes:
                    raise ValueError(f"extract: {archive}: member {name} has {m.size} bytes, more than {max_bytes}")
                target = folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(m)
                with atomic_writer(target) as f:
                    while chunk := source.read(CHUNK):
                        f.write(chunk)
                written.append(target)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ValueError(f"extract: {archive}: the archive is truncated or corrupt ({e})") from None
    return written
