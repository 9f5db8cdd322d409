"""The Spark backend gives exactly what DuckDB gives: locally, and on a standalone cluster.

One synthetic week (see ``synthetic.py``) is ingested once; each engine processes its own copy of
the data directory, and every comparison is exact (same rows, same seconds).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from episignal.engine.backend import EngineConfig, spark_connection
from episignal.engine.io import from_arrow, kept_tables, read_parquet, write_parquet_by
from episignal.engine.itinerary import itineraries_for_date
from episignal.engine.process import process_days
from episignal.engine.records import subscriber_keys
from episignal.ingest.run import ingest_files
from episignal.lake import VersionedDataset
from episignal.layout import Layout
from episignal.privacy.pseudonym import load_key, pseudonymise
from tests.engine import synthetic

pytestmark = pytest.mark.slow

SPARK_PARTITIONS = "2"  # tiny data: a few shuffle partitions keep every stage short
LAST_DAY = synthetic.DAYS[-1]
WINDOWS = [(LAST_DAY, 3), (synthetic.DAYS[5], 2)]  # (date, days): the three days that matter
WINDOW_DAYS = sorted({date - dt.timedelta(days=i) for date, days in WINDOWS for i in range(days)})
CLUSTER_START_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the synthetic week ingested and nothing processed yet."""
    root = tmp_path_factory.mktemp("ingested")
    cells, events = synthetic.write_dataset(root / "input")
    data = root / "data"
    report = ingest_files(data, "canonical", [events], cells_path=cells)
    assert report.quarantined == {} and report.accepted > 1000
    return data


def _copy(data: Path, dest: Path) -> Path:
    shutil.copytree(data, dest)
    return dest


@pytest.fixture(scope="module")
def spark_session() -> Iterator[None]:
    """One local[2] session for the module; the engine's connect() picks it up."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EPISIGNAL_SPARK_PARTITIONS", SPARK_PARTITIONS)
        con = spark_connection("local[2]")
        # Tiny data: compiling whole-stage code costs more than it saves (halves the run time).
        con._session.conf.set("spark.sql.codegen.wholeStage", "false")
        yield
        con._session.stop()


@pytest.fixture(scope="module")
def duckdb_data(ingested: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = _copy(ingested, tmp_path_factory.mktemp("duckdb") / "data")
    process_days(data, WINDOW_DAYS, engine=EngineConfig("duckdb"))
    return data


@pytest.fixture(scope="module")
def spark_data(
    ingested: Path, tmp_path_factory: pytest.TempPathFactory, spark_session: None
) -> Path:
    data = _copy(ingested, tmp_path_factory.mktemp("spark") / "data")
    process_days(data, WINDOW_DAYS, engine=EngineConfig("spark", "local[2]"))
    return data


def _dataset(root: Path) -> pa.Table:
    """Every row of a per-day engine output, its partition key as a column, in a fixed order."""
    ds = VersionedDataset(root)
    parts = []
    for part in ds.partitions():
        for f in ds.files_of([part]):
            t = pq.read_table(f)
            # Nullability flags differ between writers; the values and types must not.
            t = t.cast(pa.schema([fld.with_nullable(True) for fld in t.schema]))
            for key, value in part:
                t = t.append_column(key, pa.array([value] * t.num_rows, pa.string()))
            parts.append(t)
    table = pa.concat_tables(parts)
    return table.sort_by([(c, "ascending") for c in table.column_names])


def _subscriber(who: str, data: Path) -> str:
    return pseudonymise(synthetic.SUBSCRIBERS[who].lstrip("+"), load_key(data))


@pytest.mark.parametrize("output", ["stays", "spans"])
def test_spark_computes_the_same_daily_outputs_as_duckdb(
    duckdb_data: Path, spark_data: Path, output: str
) -> None:
    expected = _dataset(getattr(Layout(duckdb_data), output))
    got = _dataset(getattr(Layout(spark_data), output))
    assert expected.num_rows > 0
    assert got.schema == expected.schema
    assert got.to_pylist() == expected.to_pylist()


@pytest.mark.parametrize("rule", ["dwell", "span"])
@pytest.mark.parametrize(("date", "days"), WINDOWS)
def test_spark_itineraries_are_identical_to_duckdb(
    duckdb_data: Path, spark_data: Path, rule: str, date: dt.date, days: int
) -> None:
    expected = itineraries_for_date(duckdb_data, date, days=days, rule=rule)
    got = itineraries_for_date(
        spark_data, date, days=days, rule=rule, engine=EngineConfig("spark", "local[2]")
    )
    assert expected.num_rows >= 5  # everyone is listed somewhere: the comparison is not vacuous
    assert got.to_pylist() == expected.to_pylist()


def test_subscribers_are_numbered_without_gathering_them_in_one_task(
    ingested: Path, spark_session: None
) -> None:
    """On a cluster a window over every subscriber would run in one task: the numbering keeps
    to partitioned windows, and still gives each subscriber its rank in pseudonym order."""
    con = spark_connection("local[2]")
    events = read_parquet(con, VersionedDataset(Layout(ingested).events).files())
    with kept_tables(con) as keep:
        keys = subscriber_keys(con, events, keep)
        plan = io.StringIO()
        with contextlib.redirect_stdout(plan):
            con._session.sql(con.compile(keys)).explain()
        rows = con.to_pyarrow(keys).to_pylist()
    assert "SinglePartition" not in plan.getvalue()
    expected = {s: rank for rank, s in enumerate(sorted({r["subscriber"] for r in rows}))}
    assert len(expected) == len(synthetic.SUBSCRIBERS) > 1
    assert {r["subscriber"]: r["sid"] for r in rows} == expected


def test_spark_writes_each_days_rows_into_its_own_directory(
    tmp_path: Path, spark_session: None
) -> None:
    """One job writes every day; a day without rows still gets a file (readers find the day)."""
    con = spark_connection("local[2]")
    rows = pa.table({"day": [1, 2, 2], "place": ["420100", "110000", "310000"]})
    dirs = {day: tmp_path / f"local_date={day}" for day in (1, 2, 3)}
    write_parquet_by(con, from_arrow(con, rows), "day", dirs)

    def read(day: int) -> list[dict]:
        files = sorted(dirs[day].glob("part-*.parquet"))
        assert files, day
        return pa.concat_tables([pq.read_table(f) for f in files]).to_pylist()

    assert read(1) == [{"place": "420100"}]
    assert sorted(r["place"] for r in read(2)) == ["110000", "310000"]
    assert read(3) == []
    assert pq.read_schema(next(dirs[3].glob("*.parquet"))).names == ["place"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in dirs.values())


def test_the_compared_week_exercises_the_rules(duckdb_data: Path) -> None:
    """Guard for the comparisons above: the data really has passes, border flips and roaming."""

    def places(date: dt.date, days: int, rule: str) -> set[tuple[str, str]]:
        rows = itineraries_for_date(duckdb_data, date, days=days, rule=rule).to_pylist()
        return {(r["subscriber"], r["place_code"]) for r in rows}

    dwell = places(LAST_DAY, 3, "dwell")
    transit, border = _subscriber("transit", duckdb_data), _subscriber("border", duckdb_data)
    assert (transit, "420100") in dwell and (transit, "420900") not in dwell  # an hour's pass
    assert (border, "420900") in dwell  # the 7 h visit to 孝感 proper counts
    assert (_subscriber("traveller", duckdb_data), "JP") in dwell
    # On a day the border resident stayed home, only the span rule is fooled by the flipping.
    day_at_home = synthetic.DAYS[4]
    assert (border, "420900") not in places(day_at_home, 1, "dwell")
    assert (border, "420900") in places(day_at_home, 1, "span")


# ---- a standalone cluster on localhost ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


@dataclass(frozen=True)
class SparkCluster:
    url: str  # spark://127.0.0.1:PORT
    webui_port: int

    def status(self) -> dict:
        """The master's state as its web UI reports it (workers, running and completed apps)."""
        url = f"http://127.0.0.1:{self.webui_port}/json/"
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return json.load(r)
        except OSError:
            return {}


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkCluster]:
    """A standalone master and one worker (1 core, 1 GB) from the pyspark package; its URL."""
    home = _spark_home()
    work = tmp_path_factory.mktemp("spark-cluster")
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_WORKER_DIR": str(work / "worker"),
        "SPARK_LOG_DIR": str(work / "logs"),
        "SPARK_NO_DAEMONIZE": "1",
    }
    port, master_ui, worker_ui = _free_port(), _free_port(), _free_port()
    cluster = SparkCluster(f"spark://127.0.0.1:{port}", master_ui)
    url = cluster.url
    spark_class = str(home / "bin" / "spark-class")
    master = ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port)]
    worker = ["org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1"]
    commands = [
        [spark_class, *master, "--webui-port", str(master_ui)],
        [spark_class, *worker, "--cores", "1", "--memory", "1g", "--webui-port", str(worker_ui)],
    ]
    procs: list[subprocess.Popen] = []
    try:
        for i, cmd in enumerate(commands):
            log = (work / f"{'master' if i == 0 else 'worker'}.out").open("wb")
            procs.append(
                subprocess.Popen(
                    cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        deadline = time.monotonic() + CLUSTER_START_TIMEOUT_S
        while cluster.status().get("aliveworkers", 0) < 1:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                logs = "\n".join(p.read_text()[-2000:] for p in sorted(work.glob("*.out")))
                pytest.fail(f"standalone Spark cluster did not come up:\n{logs}")
            time.sleep(1)
        yield cluster
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def _export(out: Path) -> list[dict]:
    convert = pacsv.ConvertOptions(column_types={"place_code": pa.string()})
    return pacsv.read_csv(out, convert_options=convert).to_pylist()


def test_itinerary_command_on_a_standalone_cluster_matches_duckdb(
    ingested: Path, duckdb_data: Path, spark_cluster: SparkCluster, tmp_path: Path
) -> None:
    data = _copy(ingested, tmp_path / "data")
    out, expected_out = tmp_path / "cluster.csv", tmp_path / "duckdb.csv"
    date, days = synthetic.DAYS[5], 1  # one day to process: the cluster run is the slow one
    args = ["itinerary", "--date", date.isoformat(), "--days", str(days)]
    conf_dir = tmp_path / "spark-conf"  # how an operator tunes the driver: spark-defaults.conf
    conf_dir.mkdir()
    (conf_dir / "spark-defaults.conf").write_text("spark.sql.codegen.wholeStage false\n")
    env = {
        **os.environ,
        "EPISIGNAL_SPARK_PARTITIONS": SPARK_PARTITIONS,
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_CONF_DIR": str(conf_dir),
    }
    cli = [sys.executable, "-m", "episignal.cli"]
    run = subprocess.run(
        [*cli, *args, "--data", str(data), "--out", str(out), "--spark-master", spark_cluster.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    apps = spark_cluster.status().get("completedapps", [])
    assert [a["name"] for a in apps] == ["episignal"]  # the work really ran on the cluster
    reference = subprocess.run(
        [*cli, *args, "--data", str(duckdb_data), "--out", str(expected_out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert reference.returncode == 0, reference.stderr[-3000:]
    expected = _export(expected_out)
    assert len(expected) >= 5
    assert _export(out) == expected
