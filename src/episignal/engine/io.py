"""Reading and writing the lake's Parquet from either backend (the only backend-specific I/O)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow.parquet as pq

from episignal.lake import Partition, VersionedDataset


def read_parquet(con: ibis.BaseBackend, files: Sequence[Path]) -> ir.Table:
    if con.name == "pyspark":
        df = con._session.read.parquet(*[str(f) for f in files])
        name = f"t_{uuid.uuid4().hex[:10]}"
        df.createOrReplaceTempView(name)
        return con.table(name)
    return con.read_parquet([str(f) for f in files])


def partition_rows(
    dataset: VersionedDataset, partitions: Iterable[Partition]
) -> dict[Partition, int]:
    """How many rows each partition holds, from its files' Parquet footers (no data is read)."""
    return {p: sum(pq.read_metadata(f).num_rows for f in dataset.files_of([p])) for p in partitions}


def write_parquet(
    con: ibis.BaseBackend, expr: ir.Table, directory: Path, stem: str = "part"
) -> None:
    """Write ``expr`` as Parquet file(s) ``directory/{stem}-NNNN.parquet``."""
    directory.mkdir(parents=True, exist_ok=True)
    if con.name == "pyspark":
        scratch = directory / f".spark-{uuid.uuid4().hex[:8]}"
        con._run_pre_execute_hooks(expr)  # registers in-memory tables the query may use
        df = con._session.sql(con.compile(expr))
        df.coalesce(1).write.parquet(str(scratch))
        for i, f in enumerate(sorted(scratch.glob("part-*.parquet"))):
            f.rename(directory / f"{stem}-{i:04d}.parquet")
        shutil.rmtree(scratch)
    else:
        _duckdb_write_typed(con, expr, directory / f"{stem}-0000.parquet")


def _duckdb_write_typed(con: ibis.BaseBackend, expr: ir.Table, path: Path) -> None:
    """COPY with every column cast to the type the expression declares.

    DuckDB widens some results beyond their Ibis type (SUM of BIGINT is HUGEINT, which its Parquet
    writer stores as DOUBLE); Spark keeps BIGINT. Casting here keeps the files of both backends
    alike, so a dataset written by one reads the same through the other.
    """
    import duckdb
    from ibis.backends.sql.datatypes import DuckDBType

    con._run_pre_execute_hooks(expr)
    rel = con.con.sql(con.compile(expr))
    rel.select(
        *[
            duckdb.ColumnExpression(name)
            .cast(duckdb.sqltype(DuckDBType.to_string(dtype)))
            .alias(name)
            for name, dtype in expr.schema().items()
        ]
    ).write_parquet(str(path))


def materialise(con: ibis.BaseBackend, expr: ir.Table) -> ir.Table:
    """Compute ``expr`` once for several consumers (temp table / cached DataFrame)."""
    if con.name == "pyspark":
        return expr.cache()
    return con.create_table(f"m_{uuid.uuid4().hex[:10]}", expr, temp=True)
