"""The Redis key schema is pinned: changing a key string is a migration, not a refactor."""

from __future__ import annotations

from redis.cluster import key_slot

from dashboard.keys import Keys, logical_streams


def test_gps_keys_are_pinned():
    k = Keys("gw", 1)
    assert k.gps_stream(0) == "gw:{gps.0}:fixes"
    assert k.gps_last(0) == "gw:{gps.0}:last"
    assert k.gps_track(0, "20260529", "W0001") == "gw:{gps.0}:trk:20260529:W0001"
    assert k.gps_track_prefix(0) == "gw:{gps.0}:trk:"
    assert k.gps_track_index(0, "20260529") == "gw:{gps.0}:trkidx:20260529"
    assert k.gps_days(0) == "gw:{gps.0}:days"


def test_plumbing_keys_are_pinned():
    k = Keys("gw")
    assert k.group("gps") == "gw-gps"
    assert k.deadletter("gps") == "gw:{dl.gps}:entries"
    assert k.deadletter_reasons("gps") == "gw:{dl.gps}:reasons"
    assert k.channel("gps") == "gw:push:gps"
    assert k.counter("gps.accepted") == "gw:{ops}:count:gps.accepted"
    assert k.rate("gps.accepted", 17) == "gw:{ops}:rate:gps.accepted:17"
    assert k.consumers_heartbeat() == "gw:{ops}:consumers"


def test_everything_one_gps_write_touches_shares_one_cluster_slot():
    k = Keys("gw", 8)
    for shard in range(8):
        slots = {
            key_slot(x.encode())
            for x in (
                k.gps_stream(shard),
                k.gps_last(shard),
                k.gps_days(shard),
                k.gps_track(shard, "20260529", "W1"),
                k.gps_track_index(shard, "20260529"),
            )
        }
        assert len(slots) == 1


def test_workers_spread_over_shards_stably():
    k = Keys("gw", 4)
    shards = [k.gps_shard(f"W{i:05d}") for i in range(1000)]
    assert set(shards) == {0, 1, 2, 3}
    assert shards == [Keys("gw", 4).gps_shard(f"W{i:05d}") for i in range(1000)]
    assert Keys("gw", 1).gps_shard("anything") == 0


def test_every_logical_stream_lists_its_physical_streams():
    streams = logical_streams(Keys("gw", 2))
    assert streams["gps"] == ["gw:{gps.0}:fixes", "gw:{gps.1}:fixes"]


def test_a_prefix_keeps_deployments_apart():
    assert Keys("city2").gps_stream(0) == "city2:{gps.0}:fixes"
