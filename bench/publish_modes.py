"""What publishing costs with the samples inside the published file (today) or in the
Parquet store (warehouse/parquet_store.py), on an existing backfilled warehouse.

- copy: ``Warehouse.publish`` (data tests, CHECKPOINT, copy the whole file);
- parquet: append the samples of the newest activity to the Parquet store (the others
  were exported by earlier runs; done once, untimed, before), then build a published
  file holding every table except ``samples`` plus the ``samples`` views.

    .venv/bin/python bench/publish_modes.py /path/to/gaitwatch.duckdb
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH.parent) not in sys.path:
    sys.path.insert(0, str(BENCH.parent))


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    import duckdb

    from warehouse.migrate import connect, sql_literal
    from warehouse.parquet_store import ParquetSampleStore
    from warehouse.store import Warehouse

    tmp = Path(tempfile.mkdtemp(prefix="gaitwatch-publish-modes-"))
    work = tmp / "gaitwatch.duckdb"
    shutil.copyfile(args[0], work)
    print(f"working file {work.stat().st_size / 2**20:.0f} MB")

    with Warehouse.open(work) as wh:
        t, c = time.perf_counter(), time.process_time()
        out = wh.publish(tmp / "published-copy.duckdb")
        print(
            f"copy:    {time.perf_counter() - t:6.2f} s wall {time.process_time() - c:6.2f} s CPU"
            f"  -> {out.stat().st_size / 2**20:.0f} MB"
        )

    store = ParquetSampleStore.at(tmp / "samples")
    con = connect(work)
    newest = con.execute(
        "SELECT activity_id FROM activities ORDER BY loaded_at DESC, activity_id LIMIT 1"
    ).fetchall()[0][0]
    others = [r[0] for r in con.execute("SELECT activity_id FROM activities").fetchall()]
    others = [a for a in others if a != newest]
    store.export_table(con, activity_ids=others)  # earlier nights' work: not timed
    con.close()

    dest = tmp / "published-parquet.duckdb"
    t, c = time.perf_counter(), time.process_time()
    con = connect(work)
    store.export_table(con, activity_ids=[newest])
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND NOT internal AND table_name <> 'samples'"
        ).fetchall()
    ]
    views = [
        r[0]
        for r in con.execute(
            "SELECT sql FROM duckdb_views() WHERE database_name = current_database() "
            "AND NOT internal"
        ).fetchall()
    ]
    con.close()
    pub = duckdb.connect(str(dest))
    pub.execute(f"ATTACH {sql_literal(str(work))} AS w (READ_ONLY)")
    for name in tables:
        pub.execute(f'CREATE TABLE "{name}" AS SELECT * FROM w."{name}"')  # noqa: S608 - our own table names
    pub.execute("DETACH w")
    store.create_views(pub)
    for sql in views:
        pub.execute(sql)
    pub.execute("CHECKPOINT")
    n = pub.execute("SELECT count(*) FROM samples").fetchall()[0][0]
    pub.close()
    print(
        f"parquet: {time.perf_counter() - t:6.2f} s wall {time.process_time() - c:6.2f} s CPU"
        f"  -> {dest.stat().st_size / 2**20:.1f} MB + Parquet "
        f"{sum(p.stat().st_size for p in store.files()) / 2**20:.0f} MB ({n} samples via view)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
