"""Reading local files bounded: regular files only, never more than a cap.

A spec file, a `${file:}` reference and a secret sink file are opened without blocking (a
FIFO with no writer would otherwise hang the open) and checked to be a regular file before
a byte is read: a FIFO, a device such as `/dev/zero`, a socket or a folder is refused, and
so is a file larger than the cap (its size is checked first, and the read never takes more than
the cap plus one byte, in case it grows meanwhile).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

#: A spec file larger than this is refused before it is parsed.
MAX_SPEC_BYTES = 1024 * 1024
#: A `${file:}` value (a key, a token, a certificate) larger than this is refused.
MAX_REFERENCED_BYTES = 64 * 1024
#: A dotenv or JSON secret sink larger than this is refused (thousands of keys fit).
MAX_SINK_BYTES = 4 * 1024 * 1024
#: A saved plan larger than this is refused (a plan of 50,000 resources is a few tens of MiB).
MAX_PLAN_BYTES = 128 * 1024 * 1024
#: A fingerprint file larger than this is refused (about 100,000 fingerprints fit).
MAX_FINGERPRINT_BYTES = 32 * 1024 * 1024


class FileRefused(Exception):
    """A file that cannot or must not be read; `str()` says why, without its content.
    `missing` is true when there is simply no file there (which `validate` may tolerate)."""

    def __init__(self, reason: str, *, missing: bool = False) -> None:
        super().__init__(reason)
        self.missing = missing


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at `path` (links followed), at most `limit` of them."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as err:
        raise FileRefused(_why(path, err), missing=err.errno == errno.ENOENT) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"it is {_kind(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise FileRefused(f"it is larger than the {limit:,}-byte limit")
        data = _read_up_to(fd, limit + 1)
    except OSError as err:
        raise FileRefused(err.strerror or type(err).__name__) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise FileRefused(f"it is larger than the {limit:,}-byte limit")
    return data


def _read_up_to(fd: int, count: int) -> bytes:
    chunks: list[bytes] = []
    while count > 0:
        chunk = os.read(fd, min(count, 65536))
        if not chunk:
            break
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def _why(path: Path, err: OSError) -> str:
    if err.errno == errno.ELOOP:
        return "it is a symbolic link that loops"
    if err.errno == errno.ENOENT and path.is_symlink():
        return "it is a symbolic link to a file that does not exist"
    return err.strerror or type(err).__name__


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "a special file")
