"""Reading and writing the lake's Parquet from either backend (the only backend-specific I/O)."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from episignal.lake import Partition, VersionedDataset

if TYPE_CHECKING:
    import duckdb


def read_parquet(con: ibis.BaseBackend, files: Sequence[Path]) -> ir.Table:
    if con.name == "pyspark":
        df = con._session.read.parquet(*[str(f) for f in files])
        name = f"t_{uuid.uuid4().hex[:10]}"
        df.createOrReplaceTempView(name)
        return con.table(name)
    return con.read_parquet([str(f) for f in files])


def from_arrow(con: ibis.BaseBackend, table: pa.Table) -> ir.Table:
    """A small Arrow table as a table of ``con``.

    On DuckDB the table is registered as it is: ``ibis.memtable`` would import pandas (~0.4 s a
    process), which nothing else in a processing run needs.
    """
    name = f"a_{uuid.uuid4().hex[:10]}"
    if con.name == "pyspark":
        con._session.createDataFrame(table.to_pandas()).createOrReplaceTempView(name)
    else:
        con.con.register(name, table)
    return con.table(name)


def partition_rows(
    dataset: VersionedDataset, partitions: Iterable[Partition]
) -> dict[Partition, int]:
    """How many rows each partition holds, from its files' Parquet footers (no data is read)."""
    return {p: sum(pq.read_metadata(f).num_rows for f in dataset.files_of([p])) for p in partitions}


def write_parquet_by(
    con: ibis.BaseBackend,
    expr: ir.Table,
    column: str,
    directories: dict[object, Path],
    names: ir.Table | pa.Table | None = None,
) -> None:
    """Write the rows of ``expr`` whose ``column`` is each key of ``directories`` (``column``
    dropped) as Parquet files ``part-NNNN.parquet`` in that key's directory; a key without rows
    gets one file without rows.

    On DuckDB the result is fetched once and split in Arrow: one query instead of one per key,
    which saves each key's compile and query overhead (~25 ms: a second at 14 days × 2 tables).
    On Spark one job writes every key's rows (``partitionBy``), each task its own files, on the
    storage the executors share: no key's rows go through one task.

    ``names`` (rank, name), ranks 0 … n − 1, or what ``rank_names`` made of it for several
    writes: ``expr``'s column ``rank`` is written as the name of that rank, in its place.
    """
    if con.name == "pyspark":
        if names is not None:
            rank, name = names.columns
            expr = expr.join(names, rank).select(*[name if c == rank else c for c in expr.columns])
        _spark_write_by(con, expr, column, directories)
        return
    table = to_arrow(con, expr)
    if names is not None:
        table = _named(table, rank_names(con, names))
    keys = table[column]
    rest = table.drop_columns([column])
    # Keys as the data's own Arrow scalars: converting a Python value to Arrow makes pyarrow
    # import pandas (~0.4 s a process), which nothing else here needs.
    present = {key.as_py(): key for key in pc.unique(keys)}

    def write(value: object, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        key = present.get(value)
        rows = rest.slice(0, 0) if key is None else rest.filter(pc.equal(keys, key))
        pq.write_table(_required_where_full(rows), directory / "part-0000.parquet")

    # Arrow filters and encodes without the GIL: the keys' files are written side by side.
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        list(pool.map(write, directories.keys(), directories.values()))


def rank_names(con: ibis.BaseBackend, names: ir.Table | pa.Table) -> ir.Table | pa.Table:
    """``names`` (rank, name) as ``write_parquet_by`` uses them, made once for several writes:
    on DuckDB fetched in rank order and taken by position (DuckDB would join them on, putting
    its hash table on the side it thinks smaller and misjudging a query's output: about a second
    of CPU per 3 M rows); on Spark the table itself, joined on each write."""
    if con.name == "pyspark" or isinstance(names, pa.Table):
        return names
    rank = names.columns[0]
    fetched = to_arrow(con, names.order_by(rank))
    # Distinct ranks in order, from 0 to n − 1: no gaps.
    n, ranks = fetched.num_rows, fetched[rank]
    if n and (ranks[0].as_py() != 0 or ranks[n - 1].as_py() != n - 1):
        raise ValueError(f"{rank} must number the names from 0 without gaps")
    return fetched


def _named(table: pa.Table, names: pa.Table) -> pa.Table:
    """``table`` with its column named like ``names``' first (a rank) replaced by the name of
    that rank (``names``' second column, by rank from 0: ``rank_names``)."""
    rank, name = names.column_names
    i = table.column_names.index(rank)
    taken = names[name].combine_chunks().take(table[rank])
    return table.set_column(i, pa.field(name, taken.type), taken)


def _spark_write_by(
    con: ibis.BaseBackend, expr: ir.Table, column: str, directories: dict[object, Path]
) -> None:
    # Beside the target directories (the staging version of a dataset): on the shared storage.
    scratch = next(iter(directories.values())).parent / f".spark-{uuid.uuid4().hex[:8]}"
    con._run_pre_execute_hooks(expr)  # registers in-memory tables the query may use
    con._session.sql(con.compile(expr)).write.partitionBy(column).parquet(str(scratch))
    empty = expr.drop(column).schema().to_pyarrow().empty_table()
    for value, directory in directories.items():
        directory.mkdir(parents=True, exist_ok=True)
        files = sorted((scratch / f"{column}={value}").glob("part-*.parquet"))
        for i, f in enumerate(files):
            f.rename(directory / f"part-{i:04d}.parquet")
        if not files:
            pq.write_table(empty, directory / "part-0000.parquet")
    shutil.rmtree(scratch)


def _required_where_full(table: pa.Table) -> pa.Table:
    """``table`` with its columns without NULLs declared non-nullable (REQUIRED in Parquet), as
    DuckDB's writer declares them from its statistics: the files read back as they did before."""
    fields = [f.with_nullable(table[f.name].null_count > 0) for f in table.schema]
    return table.cast(pa.schema(fields))


def to_arrow(con: ibis.BaseBackend, expr: ir.Table) -> pa.Table:
    """``expr``'s rows as Arrow, typed as the expression declares (``con.to_pyarrow``).

    On DuckDB cast by DuckDB (``_duckdb_typed``), so the files ``write_parquet_by`` writes have
    the types Spark's have, and without Ibis's result conversion, which imports pandas (~0.4 s).
    """
    if con.name == "pyspark":
        return con.to_pyarrow(expr)
    table = _duckdb_typed(con, expr).to_arrow_table()
    return table.cast(expr.schema().to_pyarrow())


def _duckdb_typed(con: ibis.BaseBackend, expr: ir.Table) -> duckdb.DuckDBPyRelation:
    """``expr`` as a DuckDB relation with every column cast to the type the expression declares.

    DuckDB widens some results beyond their Ibis type (SUM of BIGINT is HUGEINT, which its Parquet
    writer stores as DOUBLE); Spark keeps BIGINT. Casting here keeps the files of both backends
    alike, so a dataset written by one reads the same through the other.
    """
    import duckdb
    from ibis.backends.sql.datatypes import DuckDBType

    con._run_pre_execute_hooks(expr)
    with _unfused():
        sql = con.compile(expr)
    rel = con.con.sql(sql)
    return rel.select(
        *[
            duckdb.ColumnExpression(name)
            .cast(duckdb.sqltype(DuckDBType.to_string(dtype)))
            .alias(name)
            for name, dtype in expr.schema().items()
        ]
    )


def _materialise(con: ibis.BaseBackend, expr: ir.Table) -> ir.Table:
    """Compute ``expr`` once for several consumers (temp table / cached DataFrame)."""
    if con.name == "pyspark":
        return expr.cache()
    with _unfused():
        return con.create_table(f"m_{uuid.uuid4().hex[:10]}", expr, temp=True)


@contextlib.contextmanager
def kept_tables(con: ibis.BaseBackend) -> Iterator[Callable[[ir.Table], ir.Table]]:
    """``_materialise`` for the length of a block: the tables it made are dropped (uncached) at
    the end, so a backfill's batches do not hold every earlier batch's tables in memory."""
    made: list[ir.Table] = []

    def keep(expr: ir.Table) -> ir.Table:
        made.append(_materialise(con, expr))
        return made[-1]

    try:
        yield keep
    finally:
        for table in made:
            if con.name == "pyspark":
                table.release()
            else:
                con.con.execute(f'DROP TABLE IF EXISTS temp.main."{table.op().name}"')


@contextlib.contextmanager
def _unfused() -> Iterator[None]:
    """Ibis compiling without merging nested SELECTs into one (``fuse_selects``).

    The merging is a third of Ibis's compile time on the engine's queries (~0.3 s of Python a
    call) and buys DuckDB nothing: its optimiser plans the nested form into the same joins,
    windows and filters (a projection more or less; the same DuckDB time, measured at 10 M).
    """
    saved = ibis.options.sql.fuse_selects
    ibis.options.sql.fuse_selects = False
    try:
        yield
    finally:
        ibis.options.sql.fuse_selects = saved
