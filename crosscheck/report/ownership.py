"""A report directory belongs to one run: an exclusive lock (:class:`DirLock`) and a manifest of the
files crosscheck wrote there (:class:`Manifest`).

The lock is ``flock`` on ``DIR/.crosscheck-lock``, held for the life of the run (the kernel releases
it when the process dies, so a lock file left by a killed run locks nothing); the file holds the
holder's pid and command, which a second run's refusal names. A ``-j N`` run holds ``DIR``'s lock;
its shards hold their own directories' under ``DIR/.jobs/``.

The manifest, ``DIR/.crosscheck-manifest``, lists every file the run writes, each recorded before it
is created (so no file of the run is ever missing from it). The next run deletes exactly the files
listed there, and refuses a directory holding files of crosscheck's names that no manifest lists
(a user's ``cases/test_fixture.json``) unless told to replace them.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path, PurePosixPath

from ..files import append_whole, plain_file_mode, writing
from ..report_names import CASES_DIR, HTML_NAME, JOBS_DIR, JOURNAL_NAME, JSON_NAME, LOCK_NAME, MANIFEST_NAME

#: the option that lets a run delete files of crosscheck's names that no manifest lists
REPLACE_OPTION = "--replace-report"


class DirInUse(Exception):
    """Another process holds the report directory's lock: its pid and command in the message."""


class DirLock:
    """The exclusive lock of one report directory, held until :meth:`release` (or the process ends)."""

    held: set = set()   # the locks this process holds (released all at once when a command ends)

    def __init__(self, directory: Path, fd: int):
        self.directory, self.fd = directory, fd

    @classmethod
    def acquire(cls, directory, command: str) -> "DirLock":
        """The lock of ``directory``; DirInUse naming the holder when another process has it."""
        path = Path(directory) / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, plain_file_mode())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise DirInUse(f"{directory} is in use by another crosscheck process ({holder}); wait until it "
                           f"ends, or choose another directory") from None
        except BaseException:
            os.close(fd)
            raise
        lock = cls(Path(directory), fd)
        cls.held.add(lock)
        try:
            with writing(path):
                os.ftruncate(fd, 0)
                os.pwrite(fd, (json.dumps({"pid": os.getpid(), "command": command}) + "\n").encode("utf-8"), 0)
        except BaseException:
            lock.release()
            raise
        return lock

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)   # closing the descriptor releases the flock
            self.fd = None
            DirLock.held.discard(self)

    @classmethod
    def release_all(cls) -> None:
        """Every lock this process holds released (the end of a command, however it ended)."""
        for lock in list(cls.held):
            lock.release()


def _holder(fd: int) -> str:
    """'pid N: COMMAND' of the lock file's holder, as far as its file says."""
    try:
        doc = json.loads(os.pread(fd, 65536, 0).decode("utf-8"))
        return f"pid {int(doc['pid'])}: {str(doc['command'])[:300]}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"


def crosscheck_names(directory: Path) -> list[str]:
    """The paths (relative, POSIX) in ``directory`` that have the names of crosscheck's files."""
    names = [n for n in (JSON_NAME, HTML_NAME, JOURNAL_NAME, JOBS_DIR) if os.path.lexists(directory / n)]
    cases = directory / CASES_DIR
    if cases.is_dir() and not cases.is_symlink():
        names += sorted(f"{CASES_DIR}/{p.name}" for p in cases.glob("*.json"))
    return names


def _inside(directory: Path, relative: str) -> Path | None:
    """``directory / relative`` when ``relative`` is a plain relative path inside it, else None."""
    pure = PurePosixPath(relative)
    if not relative or pure.is_absolute() or ".." in pure.parts or "\\" in relative:
        return None
    return directory.joinpath(*pure.parts)


class Manifest:
    """The list of files written into a report directory, appended one line per file."""

    def __init__(self, directory, fresh: bool):
        """The manifest of ``directory``: a new, empty one (``fresh``) or the existing one, appended."""
        self.directory = Path(directory)
        self.path = self.directory / MANIFEST_NAME
        self.listed = set() if fresh else set(read_manifest(self.directory))
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | (os.O_TRUNC if fresh else 0)
        with writing(self.path):
            self.fd = os.open(self.path, flags, plain_file_mode())

    def record(self, path, directory: bool = False) -> None:
        """``path`` (inside the directory) listed, before it is written (``directory``: a directory of
        crosscheck's own, listed with a trailing ``/``, deleted whole); ReportWriteError if it cannot be."""
        relative = Path(os.path.abspath(path)).relative_to(os.path.abspath(self.directory)).as_posix()
        relative += "/" if directory else ""
        if relative not in self.listed:
            with writing(self.path):
                append_whole(self.fd, (json.dumps(relative) + "\n").encode("utf-8"))
            self.listed.add(relative)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def read_manifest(directory) -> list[str]:
    """The relative paths the manifest of ``directory`` lists (none without one); whole lines only."""
    try:
        data = (Path(directory) / MANIFEST_NAME).read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return []
    listed = []
    for raw in data.split(b"\n")[:-1]:
        try:
            entry = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):
            continue
        if isinstance(entry, str):
            listed.append(entry)
    return listed


def clear_previous_run(directory: Path, replace: bool) -> None:
    """Delete the files the previous run's manifest lists; refuse (ValueError, one line) files of
    crosscheck's names it does not list, unless ``replace``, and directories where crosscheck
    writes files."""
    listed = {rel for rel in read_manifest(directory) if _inside(directory, rel) is not None}
    present = crosscheck_names(directory)
    in_the_way = [rel for rel in present if rel != JOBS_DIR and os.path.isdir(directory / rel)
                  and not os.path.islink(directory / rel)]
    if in_the_way:
        raise ValueError(f"{directory}: {', '.join(in_the_way)} {'is a directory' if len(in_the_way) == 1 else 'are directories'} "
                         "where crosscheck writes a file; move it away or choose another directory")
    foreign = [rel for rel in present if rel not in listed and not (rel == JOBS_DIR and f"{JOBS_DIR}/" in listed)]
    if foreign and not replace:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise ValueError(f"{directory} holds files crosscheck did not write ({shown}); move them away, choose "
                         f"another directory, or pass {REPLACE_OPTION} to delete them")
    for rel in [*listed, *foreign]:
        path = _inside(directory, rel.rstrip("/"))
        if rel.rstrip("/") == JOBS_DIR and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.is_symlink() or path.is_file():
            path.unlink()
