"""A hive-partitioned Parquet dataset whose every change is a new version made visible atomically.

Layout: ``ROOT/CURRENT`` names the live version directory ``ROOT/vNNNNNN/``; each version holds
``key=value/…/part-*.parquet`` partitions and a ``manifest.json`` mapping each partition to the id
of the write that produced it. A change writes a complete new version beside the live one (unchanged
partitions are hard links, so it costs no copy), then replaces ``CURRENT`` with ``os.replace``. A
crash at any point before that leaves the previous version live and intact; readers never see a mix.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import urllib.parse
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
LOCK = ".writer.lock"
KEEP_OLD_VERSIONS = 1  # a reader that resolved the previous version a moment ago can still finish

Partition = tuple[tuple[str, str], ...]  # (("local_date", "2020-01-20"), ("carrier", "46000"))


def partition_path(partition: Partition) -> str:
    """The partition's directory inside a version; values are escaped as Hive escapes them.

    Values come from input (a cells file's carrier names a partition): "%XX" for anything but
    letters, digits and ``-._~``, so that no value can name another directory or leave the
    version. Plain values ("2020-01-20", "46000") are their own directory names.
    """
    return "/".join(f"{k}={_escape(v)}" for k, v in partition)


def _escape(value: str) -> str:
    # "." and ".." would name the directory itself or its parent.
    return (
        urllib.parse.quote(value, safe="")
        if value not in {".", ".."}
        else value.replace(".", "%2E")
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Staging:
    """A version being built: add or replace partitions, then it is committed as a whole."""

    root: Path
    path: Path
    keep: dict[Partition, str]
    written: dict[Partition, str] = field(default_factory=dict)
    dropped: set[Partition] = field(default_factory=set)

    def partition_dir(self, partition: Partition) -> Path:
        """Directory to write a partition's Parquet files into (existing content is replaced)."""
        self.keep.pop(partition, None)
        self.written[partition] = uuid.uuid4().hex
        d = self.path / partition_path(partition)
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        return d

    def drop(self, partition: Partition) -> None:
        self.keep.pop(partition, None)
        self.written.pop(partition, None)
        self.dropped.add(partition)
        d = self.path / partition_path(partition)
        if d.exists():
            shutil.rmtree(d)


class VersionedDataset:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # ---- reading -------------------------------------------------------------------------
    def current_version(self) -> str | None:
        try:
            return (self.root / CURRENT).read_text().strip() or None
        except FileNotFoundError:
            return None

    def current_path(self) -> Path | None:
        v = self.current_version()
        return self.root / v if v else None

    def manifest(self) -> dict[Partition, str]:
        """Partition → id of the write that produced it, for the live version."""
        path = self.current_path()
        if path is None:
            return {}
        data = json.loads((path / MANIFEST).read_text())
        return {tuple(tuple(kv) for kv in p["partition"]): p["id"] for p in data["partitions"]}

    def partitions(self) -> list[Partition]:
        return sorted(self.manifest())

    def files(self, where: Mapping[str, Iterable[str]] | None = None) -> list[Path]:
        """Parquet files of the live version, optionally only partitions whose keys match."""
        path = self.current_path()
        if path is None:
            return []
        wanted = {k: set(v) for k, v in (where or {}).items()}
        out: list[Path] = []
        for part in self.partitions():
            values = dict(part)
            if all(values.get(k) in allowed for k, allowed in wanted.items()):
                out.extend(sorted((path / partition_path(part)).glob("*.parquet")))
        return out

    def files_of(self, partitions: Iterable[Partition]) -> list[Path]:
        """Parquet files of the given partitions of the live version (absent ones are skipped)."""
        path = self.current_path()
        live = self.manifest()
        if path is None:
            return []
        out: list[Path] = []
        for part in sorted(set(partitions)):
            if part in live:
                out.extend(sorted((path / partition_path(part)).glob("*.parquet")))
        return out

    # ---- writing -------------------------------------------------------------------------
    @contextmanager
    def change(self) -> Iterator[Staging]:
        """Build the next version; it goes live when the block exits without an exception."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one writer at a time; readers never lock
            yield from self._change_locked()

    def _change_locked(self) -> Iterator[Staging]:
        live = self.current_path()
        keep = self.manifest()
        staging_path = self.root / f".staging-{uuid.uuid4().hex}"
        staging_path.mkdir()
        try:
            if live is not None:
                for part in keep:
                    src = live / partition_path(part)
                    dst = staging_path / partition_path(part)
                    dst.mkdir(parents=True)
                    for f in src.iterdir():
                        os.link(f, dst / f.name)
            staging = Staging(self.root, staging_path, dict(keep))
            yield staging
            self._commit(staging)
        except BaseException:
            shutil.rmtree(staging_path, ignore_errors=True)
            raise

    def _commit(self, staging: Staging) -> None:
        manifest = {**staging.keep, **staging.written}
        (staging.path / MANIFEST).write_text(
            json.dumps(
                {
                    "partitions": [
                        {"partition": list(map(list, p)), "id": i}
                        for p, i in sorted(manifest.items())
                    ]
                },
                indent=0,
            )
        )
        for f in staging.path.rglob("*.parquet"):
            if f.stat().st_nlink == 1:  # newly written (hard links were synced when first written)
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
        current = self.current_version()
        number = int(current[1:]) + 1 if current else 1
        version = f"v{number:06d}"
        os.rename(staging.path, self.root / version)
        tmp = self.root / f".{CURRENT}.{uuid.uuid4().hex}"
        tmp.write_text(version + "\n")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.root / CURRENT)
        _fsync_dir(self.root)
        self._collect_garbage(keep_from=number - KEEP_OLD_VERSIONS)

    def _collect_garbage(self, keep_from: int) -> None:
        for d in self.root.iterdir():
            if d.name.startswith("v") and d.name[1:].isdigit() and int(d.name[1:]) < keep_from:
                shutil.rmtree(d, ignore_errors=True)
            elif d.name.startswith(".staging-") or d.name.startswith(f".{CURRENT}."):
                # Leftovers of a writer that crashed: we hold the writer lock, so none is live.
                if d.is_dir():
                    shutil.rmtree(d, ignore_errors=True)
                else:
                    d.unlink(missing_ok=True)
