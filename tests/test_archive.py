"""Raw-stream trimming and Parquet archival of track days, against a real redis-server."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
import redis

from dashboard.keys import Keys
from streams import archive
from streams.archive import (
    Maintenance,
    _lock_key,
    archive_old_days,
    day_file,
    read_archived_track,
    trim_gps_streams,
)
from streams.gps_state import pack_point, unpack_track

NOW = 1_780_000_000  # Unix s
GROUP = "t-gps"


@pytest.fixture
def keys() -> Keys:
    """Return a key builder with two GPS shards."""
    return Keys(prefix="t", gps_shards=2)


def add(r: redis.Redis, stream: str, second: float) -> str:
    """Append an entry stamped at a Unix second and return its id."""
    return r.xadd(stream, {"w": "W1"}, id=f"{int(second * 1000)}-0").decode()


def ids(r: redis.Redis, stream: str) -> list[str]:
    """Return the ids left in a stream."""
    return [eid.decode() for eid, _ in r.xrange(stream)]


def consume(r: redis.Redis, stream: str, count: int, ack: bool) -> None:
    """Deliver the next entries to a consumer, acknowledging them or leaving them pending."""
    resp = r.xreadgroup(GROUP, "c1", {stream: ">"}, count=count)
    if ack and resp:
        r.xack(stream, GROUP, *[eid for eid, _ in resp[0][1]])


def put_track(r: redis.Redis, keys: Keys, worker: str, day: str, points: list) -> None:
    """Store a worker-day track the way the gps consumer does."""
    shard = keys.gps_shard(worker)
    r.append(keys.gps_track(shard, day, worker), b"".join(pack_point(*p) for p in points))
    r.sadd(keys.gps_track_index(shard, day), worker)
    r.sadd(keys.gps_days(shard), day)


def points(base: int, n: int = 5) -> list[tuple[int, float, float]]:
    """Return n distinct track points from a base second."""
    return [(base + 60 * i, round(39.1 + i * 1e-4, 6), round(117.3 - i * 1e-4, 6))
            for i in range(n)]


# ---- trimming -----------------------------------------------------------------------------
def test_trim_removes_acknowledged_entries_older_than_retention(redis_client, keys):
    stream = keys.gps_stream(0)
    old = [add(redis_client, stream, NOW - 2000 + i) for i in range(3)]
    fresh = add(redis_client, stream, NOW - 10)
    redis_client.xgroup_create(stream, GROUP, id="0")
    consume(redis_client, stream, 10, ack=True)
    assert trim_gps_streams(redis_client, keys, NOW, 900, GROUP) == len(old)
    assert ids(redis_client, stream) == [fresh]


def test_trim_never_removes_pending_entries(redis_client, keys):
    stream = keys.gps_stream(0)
    all_ids = [add(redis_client, stream, NOW - 3000 + i) for i in range(4)]
    redis_client.xgroup_create(stream, GROUP, id="0")
    consume(redis_client, stream, 1, ack=True)
    consume(redis_client, stream, 2, ack=False)  # delivered, not yet acknowledged
    consume(redis_client, stream, 1, ack=True)
    assert trim_gps_streams(redis_client, keys, NOW, 900, GROUP) == 1
    assert ids(redis_client, stream) == all_ids[1:]


def test_trim_never_removes_undelivered_entries(redis_client, keys):
    stream = keys.gps_stream(1)
    all_ids = [add(redis_client, stream, NOW - 3000 + i) for i in range(5)]
    redis_client.xgroup_create(stream, GROUP, id="0")
    consume(redis_client, stream, 2, ack=True)
    trim_gps_streams(redis_client, keys, NOW, 900, GROUP)
    assert ids(redis_client, stream)[-3:] == all_ids[2:]
    assert set(all_ids[2:]) <= set(ids(redis_client, stream))


def test_trim_keeps_processed_entries_within_retention(redis_client, keys):
    stream = keys.gps_stream(0)
    recent = [add(redis_client, stream, NOW - 100 + i) for i in range(3)]
    redis_client.xgroup_create(stream, GROUP, id="0")
    consume(redis_client, stream, 10, ack=True)
    assert trim_gps_streams(redis_client, keys, NOW, 900, GROUP) == 0
    assert ids(redis_client, stream) == recent


def test_trim_leaves_a_stream_without_the_group_alone(redis_client, keys):
    stream = keys.gps_stream(0)
    add(redis_client, stream, NOW - 5000)
    assert trim_gps_streams(redis_client, keys, NOW, 900, GROUP) == 0
    assert redis_client.xlen(stream) == 1


# ---- archiving ----------------------------------------------------------------------------
def test_archive_writes_parquet_then_deletes_the_redis_keys(redis_client, keys, tmp_path):
    put_track(redis_client, keys, "W1", "20260101", points(NOW))
    assert archive_old_days(redis_client, keys, tmp_path, "20260105", 2) == ["20260101"]
    shard = keys.gps_shard("W1")
    table = pq.read_table(day_file(tmp_path, "20260101", shard))
    assert table.column_names == ["worker", "ts", "lat", "lon"]
    assert [str(t) for t in table.schema.types] == ["string", "int64", "double", "double"]
    assert not redis_client.exists(keys.gps_track(shard, "20260101", "W1"),
                                   keys.gps_track_index(shard, "20260101"))
    assert not redis_client.sismember(keys.gps_days(shard), "20260101")


def test_archived_track_reads_back_equal_to_the_original_points(redis_client, keys, tmp_path):
    tracks = {w: points(NOW + i * 7, 20) for i, w in enumerate(["W1", "W2", "W3", "W4"])}
    for w, pts in tracks.items():
        put_track(redis_client, keys, w, "20260101", pts)
    stored = {w: unpack_track(redis_client.get(keys.gps_track(keys.gps_shard(w), "20260101", w)))
              for w in tracks}
    archive_old_days(redis_client, keys, tmp_path, "20260110", 2)
    for w, pts in tracks.items():
        assert read_archived_track(tmp_path, "20260101", w) == stored[w] == pts


def test_archive_rerun_is_idempotent(redis_client, keys, tmp_path):
    put_track(redis_client, keys, "W1", "20260101", points(NOW))
    archive_old_days(redis_client, keys, tmp_path, "20260105", 2)
    path = day_file(tmp_path, "20260101", keys.gps_shard("W1"))
    before = pq.read_table(path)
    assert archive_old_days(redis_client, keys, tmp_path, "20260105", 2) == []
    assert pq.read_table(path).equals(before)


def test_archive_after_a_crash_before_deleting_writes_no_duplicates(redis_client, keys,
                                                                    tmp_path, monkeypatch):
    put_track(redis_client, keys, "W1", "20260101", points(NOW))
    monkeypatch.setattr(archive, "_delete_day", lambda *a: None)  # "crash" after the write
    archive_old_days(redis_client, keys, tmp_path, "20260105", 2)
    monkeypatch.undo()
    archive_old_days(redis_client, keys, tmp_path, "20260105", 2)
    assert read_archived_track(tmp_path, "20260101", "W1") == points(NOW)
    assert not redis_client.exists(keys.gps_days(keys.gps_shard("W1")))


def test_archive_leaves_today_and_kept_days_in_redis(redis_client, keys, tmp_path):
    for day in ("20260103", "20260104", "20260105"):
        put_track(redis_client, keys, "W1", day, points(NOW))
    assert archive_old_days(redis_client, keys, tmp_path, "20260105", 2) == ["20260103"]
    shard = keys.gps_shard("W1")
    assert {d.decode() for d in redis_client.smembers(keys.gps_days(shard))} == {
        "20260104", "20260105"}
    for day in ("20260104", "20260105"):
        assert redis_client.strlen(keys.gps_track(shard, day, "W1")) == 12 * 5
        assert not day_file(tmp_path, day, shard).exists()


def test_a_fix_appended_while_archiving_stays_in_redis_until_the_next_run(
        redis_client, keys, tmp_path, monkeypatch):
    put_track(redis_client, keys, "W1", "20260101", points(NOW))
    late = (NOW + 9999, 39.2, 117.4)
    write = archive._merge_into

    def write_then_late_fix(path, frame):
        write(path, frame)
        put_track(redis_client, keys, "W1", "20260101", [late])

    monkeypatch.setattr(archive, "_merge_into", write_then_late_fix)
    archive_old_days(redis_client, keys, tmp_path, "20260105", 2)
    monkeypatch.undo()
    assert redis_client.exists(keys.gps_track(keys.gps_shard("W1"), "20260101", "W1"))
    archive_old_days(redis_client, keys, tmp_path, "20260105", 2)
    assert read_archived_track(tmp_path, "20260101", "W1") == [*points(NOW), late]


def test_archive_skips_a_shard_another_process_has_locked(redis_client, keys, tmp_path):
    put_track(redis_client, keys, "W1", "20260101", points(NOW))
    redis_client.set(_lock_key(keys, keys.gps_shard("W1")), "other", ex=60)
    assert archive_old_days(redis_client, keys, tmp_path, "20260105", 2) == []
    assert redis_client.exists(keys.gps_track(keys.gps_shard("W1"), "20260101", "W1"))


def test_read_archived_track_is_empty_for_unknown_days_workers_and_bad_day_strings(tmp_path):
    assert read_archived_track(tmp_path, "20260101", "W1") == []
    assert read_archived_track(tmp_path, "../../etc", "W1") == []


def test_maintenance_trims_and_archives_in_one_round(svc, redis_client):
    now = svc.clock.now()
    stream = svc.keys.gps_stream(0)
    add(redis_client, stream, redis_client.time()[0] - 5000)  # ids carry Redis server time
    redis_client.xgroup_create(stream, svc.keys.group("gps"), id="$")
    old_day = svc.days.day(now - 3 * 86400)
    put_track(redis_client, svc.keys, "W0001", old_day, points(int(now) - 3 * 86400))
    assert Maintenance(svc).run_once(now) == {"trimmed": 1, "archived": [old_day]}
    assert read_archived_track(svc.settings.archive_dir, old_day, "W0001") == points(
        int(now) - 3 * 86400)
