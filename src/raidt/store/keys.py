"""The store's Ed25519 signing key, ``RAIDT_HOME/signing.key``.

The key signs checkpoints and evidence packs, so whoever can read it can forge both: it is
created owner-only (0600) and refused if group or others can read it, as OpenSSH refuses a
private key with loose permissions. It is written to a temporary file opened with
``O_EXCL`` and then hard-linked into place, so a crash never leaves a half-written key and
two processes racing at first start end up using the same key. Key material is never
logged or put into error messages.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from raidt.errors import ConfigurationError
from raidt.store.home import ensure_private_dir

__all__ = [
    "KEY_FILE",
    "ORIGIN_FILE",
    "check_origin",
    "keep_origin",
    "key_name",
    "key_name_for",
    "load_or_create_signing_key",
    "load_signing_key",
    "public_key_pem",
    "read_origin",
]

#: File name of the signing key under RAIDT_HOME.
KEY_FILE = "signing.key"
#: File beside the key holding the log's checkpoint origin, fixed when the key is made.
ORIGIN_FILE = "origin"


def _load(path: Path) -> Ed25519PrivateKey:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"{path} is accessible by group or others (mode {stat.S_IMODE(mode):04o}); "
            f"run: chmod 600 {path}"
        )
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        # The exception text may quote the file; say only what is wrong.
        raise ConfigurationError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"{path} is not an Ed25519 key")
    return key


def load_signing_key(home: Path) -> Ed25519PrivateKey:
    """Load the existing signing key.

    Raises:
        ConfigurationError: No key (run ``raidt init``), loose permissions, or not Ed25519.
    """
    path = home / KEY_FILE
    if not path.exists():
        raise ConfigurationError(f"no signing key at {path}; run 'raidt init'")
    return _load(path)


def load_or_create_signing_key(home: Path) -> Ed25519PrivateKey:
    """Load ``home/signing.key``, creating a new Ed25519 key (mode 0600) if there is none.

    Raises:
        ConfigurationError: The existing file has group/other permissions or is not an
            unencrypted Ed25519 PEM key.
    """
    path = home / KEY_FILE
    if path.exists():
        return _load(path)
    ensure_private_dir(home)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    tmp = home / f".{KEY_FILE}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic, and fails if another process created the key first
    except FileExistsError:
        return _load(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    dir_fd = os.open(home, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return key


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The public half as a SubjectPublicKeyInfo PEM (``signer.pub.pem`` in packs)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def key_name_for(public_key: Ed25519PublicKey) -> str:
    """The log's origin and note key name, derived from its public key.

    ``raidt.local/`` followed by 16 hex digits of SHA-256 of the raw public key: stable for
    the life of the key, distinct between stores, free of spaces and '+' as signed notes
    require, and the same whichever machine or path serves the store.
    """
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return f"raidt.local/{hashlib.sha256(raw).hexdigest()[:16]}"


def key_name(home: Path) -> str:
    """The checkpoint origin (= note key name) of the store whose key is under ``home``.

    Raises:
        ConfigurationError: No usable signing key under ``home``.
    """
    return key_name_for(load_signing_key(home).public_key())


def check_origin(origin: str, source: str = "the origin") -> str:
    """``origin`` if it can name a log and its note key: one line, no space, no '+'.

    Raises:
        ConfigurationError: It is empty, has whitespace or '+', or control characters.
    """
    if (
        not origin
        or any(c.isspace() or c == "+" or not c.isprintable() for c in origin)
        or len(origin) > 200
    ):
        raise ConfigurationError(
            f"{source} {origin!r} cannot name a log: use up to 200 printable characters "
            "without spaces or '+' (e.g. example.org/raidt)"
        )
    return origin


def read_origin(home: Path) -> str | None:
    """The origin kept in ``home/origin``, or None when the store has not fixed one yet.

    Raises:
        ConfigurationError: The file is there but does not hold a usable origin.
    """
    path = home / ORIGIN_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        raise ConfigurationError(f"{path} is unreadable") from None
    return check_origin(text.strip(), str(path))


def keep_origin(home: Path, origin: str) -> None:
    """Fix ``origin`` for the store under ``home`` unless one is already fixed.

    Written like the key (temporary file, then a hard link that fails if another process
    fixed one first), so the origin never changes once any checkpoint could carry it.
    """
    check_origin(origin)
    path = home / ORIGIN_FILE
    if path.exists():
        return
    ensure_private_dir(home)
    tmp = home / f".{ORIGIN_FILE}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, (origin + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
