"""Secret files of the data directory (keys): made once, whole, by one process, mode 0600.

Several processes start at once (the web server's workers, a cron job beside an operator's
command): each must end up with the same key, and none may read a key file before its key is in
it (an empty key would HMAC with nothing and sign nothing). A new key is written whole under a
name of its own, then linked into place: of processes racing, one link wins, the others read what
the winner wrote.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path


class KeyFileError(RuntimeError):
    """A key file holds no key (emptied or cut short by hand)."""


def read_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """The bytes of the key file ``path``; if there is none yet, ``make()``'s, written there."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(make())
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):  # another process's key won: read it
                os.link(tmp, path)
        finally:
            tmp.unlink()
    data = path.read_bytes()
    if not data.strip():
        raise KeyFileError(f"{path} holds no key: restore it from its backup")
    return data
