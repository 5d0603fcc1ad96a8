"""The one atomic writer: files and folders replaced in one step, leftovers of killed runs removed, write locks.

Readers see the old content or the new, never a mix: new content is written
beside its target (same folder, so the same file system), flushed to disk, and
moved over the target with one rename. Temporary names carry the writing
process's id, so the next run can tell the leftovers of a killed run (whose
process is gone) from the work of a run still going, and remove only those.

A writer that must not race another (a warehouse rebuild against a process
holding the warehouse read-write, two runs publishing reports of one date)
holds ``exclusive_lock``: an advisory ``fcntl.flock`` on ``<target>.lock``,
released by the kernel when the holder exits or is killed, so a lock is never
stale. The holder deletes the file when done; a killed holder's file is reused.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

# .<target name>.<pid>.<random>.<kind>[.wal]
_TEMPORARY = re.compile(r"\.(?P<target>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.(?:building|previous|tmp)(?:\.wal)?")


class BusyError(Exception):
    """Another process (or connection) holds the lock of the target; ``holder`` says who, when known."""

    def __init__(self, target: Path, holder: str):
        self.target = target
        self.holder = holder
        super().__init__(f"{target} is in use by {holder}")


def temporary_path(target: Path, kind: str = "building") -> Path:
    """A new hidden name beside ``target`` for work in progress (``kind``: building, previous or tmp)."""
    return target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.{kind}")


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def remove_stale(target: Path) -> list[Path]:
    """Delete temporary files and folders of ``target`` left by runs whose process is gone.

    Args:
        target: the file or folder whose leftovers to look for (in its parent folder).

    Returns:
        The paths removed.
    """
    folder = target.parent
    if not folder.is_dir():
        return []
    removed = []
    for path in folder.iterdir():
        match = _TEMPORARY.fullmatch(path.name)
        if not match or match["target"] != target.name or _process_alive(int(match["pid"])):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        removed.append(path)
    return removed


def remove_stale_in(folder: Path) -> list[Path]:
    """Delete every temporary file and folder in ``folder`` left by runs whose process is gone.

    Returns:
        The paths removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    targets = {match["target"] for path in folder.iterdir() if (match := _TEMPORARY.fullmatch(path.name))}
    return [path for target in sorted(targets) for path in remove_stale(folder / target)]


def lock_path(target: Path) -> Path:
    """The lock file of ``target``: ``<target>.lock`` beside it."""
    return target.with_name(target.name + ".lock")


@contextlib.contextmanager
def exclusive_lock(target: Path, purpose: str, wait: bool = False) -> Iterator[None]:
    """Hold the lock of ``target`` for the block; refuse at once when someone else holds it.

    Args:
        target: the file or folder being written (its folder must exist and be writable).
        purpose: what the holder does, recorded in the lock file for the message of a refused one.
        wait: wait for the holder to finish instead of refusing (for short critical sections).

    Raises:
        BusyError: another process, or another connection of this one, holds the lock.
        PermissionError: the lock file cannot be created (the folder is not writable).
    """
    path = lock_path(Path(target))
    descriptor = _acquire(path, Path(target), wait)
    try:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"process {os.getpid()} ({purpose})\n".encode(), 0)
        yield
    finally:
        # Unlinked while still held: a process that locked this file meanwhile
        # sees it is no longer the one at the path and starts again.
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(descriptor)  # releases the flock


def _acquire(path: Path, target: Path, wait: bool) -> int:
    """An open, locked descriptor of the file now at ``path`` (created when missing)."""
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            recorded = os.pread(descriptor, 200, 0).decode("utf-8", "replace").strip()
            os.close(descriptor)
            raise BusyError(target, recorded or "another process") from None
        opened = os.fstat(descriptor)
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        if current is not None and (current.st_dev, current.st_ino) == (opened.st_dev, opened.st_ino):
            return descriptor
        os.close(descriptor)  # the previous holder removed it after we opened it: take the new one


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename) to disk; a no-op where folders cannot be opened."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def write_atomically(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` in one step: temporary file, fsync, rename, fsync of the folder.

    Args:
        path: the target file (its folder is created when missing).
        data: bytes, or text written as UTF-8.
        mode: permissions of the new file (shared outputs are world-readable).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    temporary = temporary_path(path, "tmp")
    try:
        with open(temporary, "xb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    fsync_folder(path.parent)


def staging_folder(target: Path) -> Path:
    """A new, empty hidden folder beside ``target`` (same file system, so the swap is two renames)."""
    remove_stale(target)
    staging = temporary_path(target)
    staging.mkdir(parents=True)
    return staging


def replace_folder(staging: Path, target: Path) -> None:
    """Swap ``staging`` in for ``target`` with two renames, then delete the previous folder."""
    previous = temporary_path(target, "previous")
    if target.exists():
        target.rename(previous)
    staging.rename(target)
    fsync_folder(target.parent)
    shutil.rmtree(previous, ignore_errors=True)
