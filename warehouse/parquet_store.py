"""Samples as a Hive-partitioned Parquet dataset, with DuckDB views under the table names.

When a warehouse outgrows one DuckDB file, the big ``samples`` table moves out to
Parquet files laid out as::

    <root>/athlete_id=<id>/month=<YYYY-MM>/part-<uuid>.parquet

(``month`` of the sample time in UTC), and a *view* named ``samples`` replaces the table,
reading ``read_parquet('<root>/*/*/*.parquet', hive_partitioning = true)`` with the
table's exact columns in the table's order. Analyst views that select from ``samples``
keep working unchanged: DuckDB binds view bodies by name at query time.

A second view, ``samples_partitioned``, adds the ``athlete_id`` and ``month`` partition
columns so that queries filtering on them read only the matching folders.

The files are written by DuckDB's own ``COPY ... (PARTITION_BY ..., APPEND)``: one
writer, streaming, no whole table in Python memory. Parquet on a shared filesystem can be
read by any number of processes, unlike a DuckDB file (one writer, FACTS.md); see
docs/scaling.md for object storage.

An empty ``_schema`` partition (zero rows) is written first so that the view is valid
before any sample exists (``read_parquet`` fails on an empty glob). Every file is written
with the table's exact column types, so the view does not need ``union_by_name`` (which
would open every file's footer at bind time and defeat partition pruning).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from ingest.schema import SAMPLE_SCHEMA

# The samples table's columns, in its order (warehouse/sql/001_tables.sql).
SAMPLE_COLUMNS: tuple[str, ...] = ("activity_id", *SAMPLE_SCHEMA)
PARTITION_COLUMNS = ("athlete_id", "month")
_SCHEMA_PARTITION = "athlete_id=_schema/month=_schema"

_DUCK_TYPES = {
    "activity_id": "VARCHAR",
    "ts": "TIMESTAMPTZ",
    "session_index": "INTEGER",
    "sport": "VARCHAR",
}


def _lit(value: str) -> str:
    """A SQL string literal (paths cannot be bound as parameters in COPY or a view)."""
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def _ids_table(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> Iterator[str]:
    """Register ``ids`` as a one-column Arrow table; yield its (uuid) name."""
    import pyarrow as pa

    name = f"_gw_ids_{uuid.uuid4().hex}"
    con.register(name, pa.table({"activity_id": pa.array(list(ids), pa.string())}))
    try:
        yield name
    finally:
        con.unregister(name)


@dataclass(frozen=True)
class ParquetSampleStore:
    """A Hive-partitioned Parquet sample dataset under ``root``.

    ``root`` may be a local or shared-filesystem path (everything works) or an object
    store URL such as ``s3://bucket/prefix`` (reading and appending work through DuckDB's
    ``httpfs`` extension when it can be loaded; :meth:`delete_activities` and
    :meth:`compact` need a filesystem).
    """

    root: str

    @classmethod
    def at(cls, root: str | os.PathLike[str]) -> ParquetSampleStore:
        r = os.fspath(root)
        if "://" not in r:
            r = str(Path(r).resolve())
        return cls(r.rstrip("/"))

    @property
    def is_local(self) -> bool:
        return "://" not in self.root

    @property
    def glob(self) -> str:
        return f"{self.root}/*/*/*.parquet"

    def scan_sql(self, columns: Sequence[str] | None = None) -> str:
        """``SELECT`` over the dataset (table columns, or ``columns``)."""
        cols = ", ".join(_ident(c) for c in (columns or SAMPLE_COLUMNS))
        return (
            f"SELECT {cols} FROM read_parquet({_lit(self.glob)}, hive_partitioning = true, "  # noqa: S608 - quoted; views take no parameters
            "hive_types = {'athlete_id': VARCHAR, 'month': VARCHAR})"
        )

    # ------------------------------------------------------------ writing

    def ensure(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create the root and the zero-row schema partition (idempotent)."""
        target = f"{self.root}/{_SCHEMA_PARTITION}/part-schema.parquet"
        if self.is_local:
            if Path(target).exists():
                return
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        cols = ", ".join(
            f"CAST(NULL AS {_DUCK_TYPES.get(c, 'DOUBLE')}) AS {_ident(c)}" for c in SAMPLE_COLUMNS
        )
        con.execute(f"COPY (SELECT {cols} LIMIT 0) TO {_lit(target)} (FORMAT parquet)")

    def append_query(self, con: duckdb.DuckDBPyConnection, select_sql: str) -> int:
        """Append the rows of ``select_sql`` (sample columns + ``athlete_id``) as new files.

        Rows are partitioned by athlete and UTC month; each call adds new ``part-<uuid>``
        files and never rewrites existing ones. Returns the number of rows written.
        """
        self.ensure(con)
        n = con.execute(f"SELECT count(*) FROM ({select_sql})").fetchall()[0][0]  # noqa: S608 - our own SQL
        if not n:
            return 0
        # Cast to the table's types: every file then has the same schema (frames from
        # elsewhere may carry Float32, Null-typed or differently ordered columns).
        cols = ", ".join(
            f"CAST({_ident(c)} AS {_DUCK_TYPES.get(c, 'DOUBLE')}) AS {_ident(c)}"
            for c in SAMPLE_COLUMNS
        )
        con.execute(
            f"COPY (SELECT {cols}, CAST(athlete_id AS VARCHAR) AS athlete_id, "  # noqa: S608 - COPY takes no parameters
            "strftime(ts AT TIME ZONE 'UTC', '%Y-%m') AS month "
            f"FROM ({select_sql})) TO {_lit(self.root)} "
            "(FORMAT parquet, PARTITION_BY (athlete_id, month), APPEND, "
            "FILENAME_PATTERN 'part-{uuid}')"
        )
        return int(n)

    def append(self, con: duckdb.DuckDBPyConnection, samples: Any) -> int:
        """Append a polars/Arrow frame of samples carrying ``athlete_id`` (see :meth:`append_query`)."""
        name = f"_gw_samples_{uuid.uuid4().hex}"
        arrow = samples.to_arrow() if hasattr(samples, "to_arrow") else samples
        con.register(name, arrow)
        try:
            return self.append_query(con, f"SELECT * FROM {name}")  # noqa: S608 - a uuid name
        finally:
            con.unregister(name)

    def export_table(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str = "samples",
        activities: str = "activities",
        activity_ids: Iterable[str] | None = None,
    ) -> int:
        """Copy rows of the ``samples`` table (athlete from ``activities``) to Parquet."""
        sql = (
            f"SELECT s.*, a.athlete_id FROM {_ident(table)} s "  # noqa: S608 - quoted identifiers
            f"JOIN {_ident(activities)} a USING (activity_id)"
        )
        if activity_ids is None:
            return self.append_query(con, sql)
        ids = sorted(set(activity_ids))
        if not ids:
            return 0
        with _ids_table(con, ids) as name:
            return self.append_query(con, f"{sql} JOIN {name} USING (activity_id)")

    # ------------------------------------------------------------ maintenance

    def files(self) -> list[Path]:
        """Data files (the schema partition excluded), sorted."""
        if not self.is_local:
            raise NotImplementedError("listing needs a filesystem path")
        root = Path(self.root)
        if not root.is_dir():
            return []
        return sorted(
            p for p in root.glob("*/*/*.parquet") if _SCHEMA_PARTITION not in p.as_posix()
        )

    def delete_activities(self, con: duckdb.DuckDBPyConnection, activity_ids: Iterable[str]) -> int:
        """Remove every sample of ``activity_ids`` (before re-loading a changed file).

        Files holding them are rewritten without them (write a temporary file, then
        rename over the original: readers see the old or the new file, never half).
        Returns the number of rows removed.
        """
        ids = sorted(set(activity_ids))
        if not ids or not self.files():
            return 0
        removed = 0
        cols = ", ".join(_ident(c) for c in SAMPLE_COLUMNS)
        with _ids_table(con, ids) as name:
            hits = con.execute(
                "SELECT filename, count(*) FROM read_parquet(?, filename = true, "  # noqa: S608 - a uuid name
                f"hive_partitioning = false) WHERE activity_id IN (SELECT activity_id FROM {name}) "
                "GROUP BY filename",
                [self.glob],
            ).fetchall()
            for filename, count in hits:
                path = Path(filename)
                tmp = path.with_name(f".tmp-{uuid.uuid4().hex}.parquet")
                con.execute(
                    f"COPY (SELECT {cols} FROM read_parquet({_lit(str(path))}, "  # noqa: S608 - COPY takes no parameters
                    f"hive_partitioning = false) WHERE activity_id NOT IN "
                    f"(SELECT activity_id FROM {name})) TO {_lit(str(tmp))} (FORMAT parquet)"
                )
                left = con.execute("SELECT count(*) FROM read_parquet(?)", [str(tmp)]).fetchall()
                if left[0][0]:
                    os.replace(tmp, path)
                else:
                    tmp.unlink()
                    path.unlink()
                removed += int(count)
        return removed

    def compact(self, con: duckdb.DuckDBPyConnection, min_files: int = 2) -> int:
        """Merge each partition's files into one (many small appends -> one file).

        Not atomic across a partition: run it when no reader needs an exact count (a
        reader between the rename and the deletions may see rows twice). Returns the
        number of partitions compacted.
        """
        by_dir: dict[Path, list[Path]] = {}
        for f in self.files():
            by_dir.setdefault(f.parent, []).append(f)
        done = 0
        cols = ", ".join(_ident(c) for c in SAMPLE_COLUMNS)
        for folder, parts in by_dir.items():
            if len(parts) < min_files:
                continue
            srcs = "[" + ", ".join(_lit(str(p)) for p in parts) + "]"
            tmp = folder / f".tmp-{uuid.uuid4().hex}.parquet"
            con.execute(
                f"COPY (SELECT {cols} FROM read_parquet({srcs}, hive_partitioning = false) "  # noqa: S608 - COPY takes no parameters
                f"ORDER BY activity_id, ts) TO {_lit(str(tmp))} (FORMAT parquet)"
            )
            os.replace(tmp, folder / f"part-{uuid.uuid4()}.parquet")
            for p in parts:
                p.unlink()
            done += 1
        return done

    # ------------------------------------------------------------ views

    def create_views(
        self,
        con: duckdb.DuckDBPyConnection,
        name: str = "samples",
        move_table: bool = False,
    ) -> None:
        """Serve the dataset as view ``name`` (and ``<name>_partitioned``).

        If a base table ``name`` exists it is in the way: with ``move_table=True`` its
        rows are copied to Parquet first and the table is dropped (one-way migration);
        otherwise :class:`ValueError`.
        """
        self.ensure(con)
        kind = con.execute(
            "SELECT table_type FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_name = ?",
            [name],
        ).fetchall()
        if kind and kind[0][0] == "BASE TABLE":
            if not move_table:
                raise ValueError(
                    f"table {name!r} exists; pass move_table=True to move its rows to Parquet"
                )
            self.export_table(con, table=name)
            con.execute(f"DROP TABLE {_ident(name)}")
        con.execute(f"CREATE OR REPLACE VIEW {_ident(name)} AS {self.scan_sql()}")
        con.execute(
            f"CREATE OR REPLACE VIEW {_ident(name + '_partitioned')} AS "
            f"{self.scan_sql((*SAMPLE_COLUMNS, *PARTITION_COLUMNS))}"
        )
        con.execute(
            f"COMMENT ON VIEW {_ident(name)} IS "
            + _lit(
                "Grain: one row per recorded sample of an activity. Same columns as the "
                f"samples table; read from the Hive-partitioned Parquet dataset at {self.root}."
            )
        )
        con.execute(
            f"COMMENT ON VIEW {_ident(name + '_partitioned')} IS "
            + _lit(
                f"{name} plus its partition columns athlete_id and month (YYYY-MM, UTC): "
                "filter on them to read only the matching Parquet folders."
            )
        )
