"""The warehouse file: connections, atomic builds, metadata and constraints."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap

import duckdb
import pytest

from helpers import warehouse
from helpers.warehouse import WarehouseBuildError
from sample_data import DATA_END, build_frames, valid_frames


def file_digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def built(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    build_frames(path, valid_frames())
    return path


def test_get_connection_is_read_only_by_default(built):
    with warehouse.get_connection(path=built) as con:
        assert con.execute("select count(*) from raw.customers").fetchone()[0] == 2
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("delete from raw.usage_events")


def test_get_connection_closes_on_exit(built):
    with warehouse.get_connection(path=built) as con:
        pass
    with pytest.raises(duckdb.Error):
        con.execute("select 1")


def test_missing_warehouse_tells_how_to_build_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m helpers generate"):
        with warehouse.get_connection(path=tmp_path / "absent.duckdb"):
            pass


def test_get_connection_follows_the_environment(built, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_PATH", str(built))
    with warehouse.get_connection() as con:
        assert con.execute("select count(*) from raw.subscriptions").fetchone()[0] == 2


def test_metadata_records_source_range_counts_and_hash(built):
    with warehouse.get_connection(path=built) as con:
        metadata = warehouse.read_metadata(con)
    assert metadata["source"] == "test"
    assert metadata["data_end"] == DATA_END
    assert metadata["data_start"] == valid_frames()["customers"]["signup_date"].min()
    assert metadata["row_counts"] == {"customers": 2, "subscriptions": 2, "usage_events": 2, "support_tickets": 2}
    assert len(metadata["content_hash"]) == 64


def test_content_hash_depends_on_content_only(tmp_path):
    first = build_frames(tmp_path / "a.duckdb", valid_frames())
    frames = valid_frames()
    # Same rows in another order: same content.
    frames["usage_events"] = frames["usage_events"].iloc[::-1].reset_index(drop=True)
    second = build_frames(tmp_path / "b.duckdb", frames)
    assert first["content_hash"] == second["content_hash"]
    frames["usage_events"].loc[0, "feature_adoption_score"] = 0.25
    third = build_frames(tmp_path / "c.duckdb", frames)
    assert third["content_hash"] != first["content_hash"]


def test_failed_build_leaves_the_old_warehouse_byte_identical(built):
    before = file_digest(built)
    frames = valid_frames()
    frames["usage_events"].loc[0, "event_type"] = "not_a_type"
    with pytest.raises(WarehouseBuildError):
        build_frames(built, frames)
    assert file_digest(built) == before
    assert sorted(p.name for p in built.parent.iterdir()) == [built.name]


def test_build_interrupted_by_an_exception_leaves_no_trace(built):
    before = file_digest(built)

    def load(con):
        warehouse.write_staging(con, "customers", valid_frames()["customers"])
        raise RuntimeError("loader crashed half way")

    with pytest.raises(RuntimeError, match="half way"):
        warehouse.build(load, built)
    assert file_digest(built) == before
    assert sorted(p.name for p in built.parent.iterdir()) == [built.name]


def test_schema_enforces_keys_and_vocabularies(built):
    with duckdb.connect(str(built)) as con:
        with pytest.raises(duckdb.ConstraintException):
            con.execute("insert into raw.customers values ('C1', 'FinTech', 'starter', '2024-01-01', 0, null)")
        with pytest.raises(duckdb.ConstraintException):
            con.execute("insert into raw.usage_events values ('E9', 'C1', '2024-02-01', 'api_calls', 0.5)")
        with pytest.raises(duckdb.ConstraintException):
            con.execute("insert into raw.support_tickets values ('T9', 'C404', '2024-02-01', 'low', 'bug', null)")
        with pytest.raises(duckdb.ConstraintException):
            con.execute("insert into raw.subscriptions values ('S9', 'C1', 'starter', '2024-03-01', '2024-03-01', 5, 'month')")


def _reader_script(path, hold_seconds: float) -> str:
    return textwrap.dedent(f"""
        import sys, time
        from helpers import warehouse
        with warehouse.get_connection(path={str(path)!r}) as con:
            print(con.execute("select count(*) from raw.customers").fetchone()[0], flush=True)
            time.sleep({hold_seconds})
            print(con.execute("select count(*) from raw.customers").fetchone()[0], flush=True)
    """)


def test_several_processes_read_at_once(built):
    readers = [
        subprocess.Popen([sys.executable, "-c", _reader_script(built, 1.5)], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    # The parent reads too while the three children hold their connections.
    with warehouse.get_connection(path=built) as con:
        assert con.execute("select count(*) from raw.customers").fetchone()[0] == 2
    outputs = [reader.communicate(timeout=60) for reader in readers]
    assert [reader.returncode for reader in readers] == [0, 0, 0]
    assert [out.split() for out, _ in outputs] == [["2", "2"]] * 3


def test_rebuild_while_a_reader_holds_the_old_file(built):
    reader = subprocess.Popen([sys.executable, "-c", _reader_script(built, 3)], stdout=subprocess.PIPE, text=True)
    assert reader.stdout.readline().strip() == "2"  # the reader holds the old file now
    frames = valid_frames()
    extra = frames["customers"].iloc[[0]].assign(customer_id="C3")
    frames["customers"] = frames["customers"]._append(extra, ignore_index=True)
    frames["subscriptions"] = frames["subscriptions"]._append(
        frames["subscriptions"].iloc[[0]].assign(subscription_id="S3", customer_id="C3"), ignore_index=True
    )
    build_frames(built, frames)
    with warehouse.get_connection(path=built) as con:
        assert con.execute("select count(*) from raw.customers").fetchone()[0] == 3
    rest, _ = reader.communicate(timeout=60)
    assert reader.returncode == 0
    assert rest.strip() == "2", "the open reader keeps seeing the warehouse it opened"


def test_summary_has_one_row_per_table(built):
    with warehouse.get_connection(path=built) as con:
        table = warehouse.summary(con)
    assert list(table["table_name"]) == list(warehouse.TABLES)
    assert list(table["row_count"]) == [2, 2, 2, 2]


def test_an_orphan_event_written_behind_the_builds_back_is_reported(built):
    # usage_events.customer_id is checked by a data test, not a DuckDB foreign key (see schema.sql).
    with duckdb.connect(str(built)) as con:
        con.execute("insert into raw.usage_events values ('E9', 'C404', '2024-02-01', 'api_call', 0.5)")
    problems = {problem.test.name: problem for problem in warehouse.validate(built)}
    assert problems["relationship_usage_events_customer_id"].examples[0].key == "E9"


def _cached_bytes(con) -> int:
    return con.execute("select coalesce(sum(memory_usage_bytes), 0) from duckdb_memory()").fetchone()[0]


def test_release_buffers_empties_duckdbs_cache_and_keeps_the_memory_limit(tmp_path):
    path = tmp_path / "large.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create table numbers as select i, i % 97 as k from range(5000000) as t(i)")
    with duckdb.connect(str(path), read_only=True) as con:
        default = con.execute("select current_setting('memory_limit')").fetchone()[0]
        assert con.execute("select k, sum(i) from numbers group by k").fetchall()
        cached = _cached_bytes(con)
        warehouse.release_buffers(con)
        assert _cached_bytes(con) <= 2**20 < cached  # down to the instant's 1 MB limit
        assert con.execute("select current_setting('memory_limit')").fetchone()[0] == default
        con.execute("set memory_limit = '3GB'")  # a limit of the user's own: kept as it is, nothing evicted
        limit = con.execute("select current_setting('memory_limit')").fetchone()[0]
        assert con.execute("select k, sum(i) from numbers group by k").fetchall()
        cached = _cached_bytes(con)
        warehouse.release_buffers(con)
        assert con.execute("select current_setting('memory_limit')").fetchone()[0] == limit != default
        assert _cached_bytes(con) == cached
        assert con.execute("select count(*) from numbers").fetchone()[0] == 5_000_000  # still usable
