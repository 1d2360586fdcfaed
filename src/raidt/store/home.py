"""RAIDT_HOME on disk: a private folder, refused when others may write into it.

The home holds the database (prompts and outputs), the signing key and the checkpoint
origin, so it is created owner-only (0700) whatever the umask. A folder anyone may write
into would let anyone swap the key, the origin or ``checkpoint.latest`` under us: it is
refused, as OpenSSH refuses a writable ``~/.ssh``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from raidt.errors import ConfigurationError

__all__ = ["ensure_private_dir", "private_file"]


def ensure_private_dir(path: Path, *, what: str = "RAIDT_HOME", refuse_shared: bool = True) -> None:
    """Create ``path`` (and missing parents) with mode 0700, or check the existing one.

    ``refuse_shared=False`` is for a database folder named by RAIDT_DATABASE_URL, which
    may well be a shared folder the operator chose; the database file itself is still 0600.

    Raises:
        ConfigurationError: It cannot be created, is not a folder, or (``refuse_shared``)
            is writable by everyone (mode o+w).
    """
    if not path.exists():
        try:
            path.mkdir(parents=True, mode=0o700)
        except FileExistsError:
            pass  # another process made it first: check it like any existing folder
        except OSError as exc:
            raise ConfigurationError(f"cannot create {what} {path}: {exc.strerror}") from None
        else:
            os.chmod(path, 0o700)  # mkdir's mode is masked by the umask
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigurationError(f"cannot read {what} {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(mode):
        raise ConfigurationError(f"{what} {path} is not a folder")
    if refuse_shared and mode & stat.S_IWOTH:
        raise ConfigurationError(
            f"{what} {path} is writable by everyone (mode {stat.S_IMODE(mode):04o}); "
            f"run: chmod 700 {path}"
        )


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if missing; tighten it to 0600 if looser.

    Used for the SQLite database before SQLite opens it: SQLite gives its ``-wal`` and
    ``-shm`` files the mode of the database file, so all three end up owner-only.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _tighten(path)
        for suffix in ("-wal", "-shm", "-journal"):
            _tighten(path.with_name(path.name + suffix))
        return
    except OSError as exc:
        raise ConfigurationError(f"cannot create the database {path}: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _tighten(path: Path) -> None:
    """Make an existing file of ours 0600 (a store created before this rule was 0644)."""
    try:
        st = path.stat()
        if stat.S_IMODE(st.st_mode) & 0o077 and st.st_uid == os.getuid():
            os.chmod(path, 0o600)
    except OSError:
        pass  # absent, or not ours to change (a shared read-only copy): leave it
