"""Writing files so that a reader never sees half of one, with the permissions a plain ``open()``
gives, and a failed write as one error that says which file and why (:class:`ReportWriteError`)."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


class ReportWriteError(BaseException):
    """A file of the report could not be written (disk full, a directory in its place, no
    permission): one line naming the file and the reason. A BaseException, like KeyboardInterrupt,
    so that it ends the run wherever it happens: no ``except Exception`` on the way (hypothesis's
    test runner, which would report it as a falsifying example) turns it into an outcome."""


def write_failure(path, exc: OSError) -> ReportWriteError:
    """The ReportWriteError of ``exc`` raised writing ``path``."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return ReportWriteError(f"cannot write {path}: {reason}" + (f" (errno {exc.errno})" if exc.errno else ""))


@contextlib.contextmanager
def writing(path):
    """An OSError inside the block becomes a :class:`ReportWriteError` naming ``path``."""
    try:
        yield
    except OSError as exc:
        raise write_failure(path, exc) from None


def plain_file_mode() -> int:
    """The permission bits ``open(path, "w")`` gives a new file: 0o666 less the umask (0o644 under
    the usual 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new one, never half; the
    file gets a plain file's permissions (:func:`plain_file_mode`), not a temporary file's 0600.
    OSError as it comes (see :func:`writing`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, plain_file_mode())
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def append_whole(fd: int, data: bytes) -> None:
    """Append ``data`` (one record, ending in a newline) to the file open as ``fd`` (O_APPEND) in
    one ``os.write``; a short write (disk full midway) is cut back off, so a reader sees the record
    whole or not at all. OSError when it could not be written."""
    size = os.fstat(fd).st_size
    written = os.write(fd, data)
    if written != len(data):
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)
        raise OSError(28, os.strerror(28))   # ENOSPC: what a short write to a regular file means
