"""Key files: one key, whole, whoever starts first; an emptied key file is never an empty key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from episignal.card.access import load_session_key
from episignal.config import Settings
from episignal.exposure.verification import issuer_api_key
from episignal.privacy.secret_file import KeyFileError, read_or_create

RACE = """
import os, sys, time
from pathlib import Path
from episignal.privacy.secret_file import read_or_create

def make():  # a key that takes a while to make (an RSA key, a slow disk): the window is wide
    time.sleep(0.3)
    return os.urandom(32) * 64

path = Path(sys.argv[1])
sys.stdin.read()  # every process waits here, then all go at once
print(read_or_create(path, make).hex())
"""


def test_processes_creating_a_key_at_once_all_read_the_one_that_was_written(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys" / "secret.key"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    for proc in procs:  # all started and waiting: now let them go together
        assert proc.stdin is not None
        proc.stdin.close()
    outputs = set()
    for proc in procs:
        assert proc.stdout is not None
        outputs.add(proc.stdout.read().strip())
        assert proc.wait(timeout=120) == 0
    assert outputs == {path.read_bytes().hex()}
    assert len(path.read_bytes()) == 32 * 64  # whole, never a part
    assert path.stat().st_mode & 0o777 == 0o600
    assert [f.name for f in path.parent.iterdir()] == ["secret.key"]  # no leftovers


def test_an_existing_key_is_read_and_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    path.write_bytes(b"kept\n")
    assert read_or_create(path, lambda: b"new\n") == b"kept\n"


@pytest.mark.parametrize("content", [b"", b"\n", b"  \r\n"])
def test_the_session_and_issuer_keys_refuse_an_emptied_file(tmp_path: Path, content: bytes) -> None:
    # The session key MACs every login cookie and the issuer key guards the health authority's
    # API: an empty one would let anyone forge a cookie or call the API.
    data = tmp_path / "data"
    load_session_key(data, Settings(session_secret=None))
    session = next(data.rglob("session.key"))
    session.write_bytes(content)
    with pytest.raises(KeyFileError, match="holds no key"):
        load_session_key(data, Settings(session_secret=None))
    issuer_api_key(data)
    issuer = next(data.rglob("issuer-api.key"))
    issuer.write_bytes(content)
    with pytest.raises(KeyFileError, match="holds no key"):
        issuer_api_key(data)
