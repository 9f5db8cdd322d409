"""Backend choice lives here: DuckDB in-process by default, PySpark (local or cluster) on demand."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import ibis

DEFAULT_ENGINE = "duckdb"
ENGINES = ("duckdb", "spark")


@dataclass(frozen=True)
class EngineConfig:
    name: str = DEFAULT_ENGINE
    spark_master: str | None = None  # e.g. spark://host:7077; None → local[*]
    threads: int | None = None
    memory_limit: str | None = None  # DuckDB, e.g. "8GB"; spills to temp beyond it


def duckdb_connection(
    threads: int | None = None, memory_limit: str | None = None
) -> ibis.BaseBackend:
    con = ibis.duckdb.connect()
    raw = con.con
    raw.execute(f"SET temp_directory='{tempfile.gettempdir()}/episignal-duckdb'")
    raw.execute("SET preserve_insertion_order=true")  # ingest numbers lines in file order
    # DuckDB tracks each query's progress for our bars (``query_percent``); it never prints it.
    raw.execute("SET enable_progress_bar=true")
    raw.execute("SET enable_progress_bar_print=false")
    if threads:
        raw.execute(f"SET threads={int(threads)}")
    limit = memory_limit or os.environ.get("EPISIGNAL_DUCKDB_MEMORY")
    if limit:
        raw.execute("SET memory_limit=?", [limit])
    return con


def spark_connection(master: str | None = None) -> ibis.BaseBackend:
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.appName("episignal")
        .master(master or "local[*]")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", os.environ.get("EPISIGNAL_SPARK_PARTITIONS", "8"))
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        # Our own progress bars speak for the steps; Spark's would write over them.
        .config("spark.ui.showConsoleProgress", "false")
    )
    session = builder.getOrCreate()
    # The driver's warnings would print between the command's progress lines (WARN shows them).
    session.sparkContext.setLogLevel(os.environ.get("EPISIGNAL_SPARK_LOG_LEVEL", "ERROR"))
    return ibis.pyspark.connect(session)


# A step of long work has begun: its name, and how far its query has got (``query_percent``).
OnStep = Callable[[str, Callable[[], float | None]], None]


def no_step(_name: str, _percent: Callable[[], float | None]) -> None:
    """An ``OnStep`` that shows nothing."""


def query_percent(con: ibis.BaseBackend) -> Callable[[], float | None]:
    """How far the query ``con`` is running has got, in percent (DuckDB's own estimate), or None
    when nothing is running or the backend does not tell. Safe to call from another thread (a
    progress bar's refresh) while the query runs."""
    if con.name != "duckdb":
        return lambda: None
    raw = con.con

    def percent() -> float | None:
        try:
            value = raw.query_progress()
        except duckdb.Error:  # the connection is closed: nothing is running
            return None
        return value if value >= 0 else None

    return percent


def connect(config: EngineConfig) -> ibis.BaseBackend:
    if config.name == "duckdb":
        return duckdb_connection(config.threads, config.memory_limit)
    if config.name == "spark":
        return spark_connection(config.spark_master)
    raise ValueError(f"unknown engine {config.name!r}; choose one of {', '.join(ENGINES)}")
