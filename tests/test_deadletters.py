"""Dead letters: listed with their reasons, re-fed once fixed, refused again while still bad."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
from scale_helpers import VALID_ENTRY, app_env

from dashboard import queries
from dashboard.config import ROOT
from streams import deadletters
from streams.consumer import Consumer
from streams.fixes import fix_from_fields, fix_to_fields
from streams.registry import handlers


def _consumer(svc, name="gps"):
    return Consumer(svc.r, svc.keys, handlers(svc)[name], name="dl-test", block_ms=10,
                    clock=svc.clock)


def _future_fix(svc):
    """Add a fix one hour ahead of the clock: refused now, fine once the clock gets there."""
    stream, fields = VALID_ENTRY["gps"](svc, 0)
    fix = fix_from_fields({k.encode(): v.encode() for k, v in fields.items()})
    return svc.r.xadd(stream, fix_to_fields(dataclasses.replace(fix, ts=svc.clock.now() + 3600)))


def test_a_refused_entry_is_listed_with_its_source_reason_and_fields(svc):
    eid = _future_fix(svc)
    _consumer(svc).drain()
    [dl] = deadletters.listing(svc)
    assert (dl.stream, dl.source, dl.source_id) == ("gps", svc.keys.gps_stream(0), eid.decode())
    assert dl.reason.startswith("future timestamp") and dl.fields["w"] == "W0001"


def test_a_fixed_entry_is_replayed_into_its_stream_and_leaves_the_dead_letters(svc, clock):
    _future_fix(svc)
    c = _consumer(svc)
    c.drain()
    clock.advance(3600)  # what made it bad is over
    assert deadletters.replay(svc, deadletters.listing(svc)) == {"replayed": 1, "skipped": 0}
    c.drain()
    assert deadletters.listing(svc) == []
    assert queries.worker(svc, "W0001")["position"] is not None
    assert svc.r.get(svc.keys.counter("deadletters.replayed.gps")) == b"1"
    assert svc.r.hget(svc.keys.deadletter_reasons("gps"), "future timestamp") == b"1"


def test_an_entry_still_bad_comes_back_with_its_reason(svc):
    _future_fix(svc)
    c = _consumer(svc)
    c.drain()
    first = deadletters.listing(svc)
    deadletters.replay(svc, first)
    c.drain()
    [again] = deadletters.listing(svc)
    assert again.id != first[0].id and again.reason.startswith("future timestamp")


def test_a_dry_run_changes_nothing_and_a_foreign_source_is_skipped(svc):
    _future_fix(svc)
    _consumer(svc).drain()
    [dl] = deadletters.listing(svc)
    assert deadletters.replay(svc, [dl], dry_run=True)["replayed"] == 1
    assert len(deadletters.listing(svc)) == 1
    forged = deadletters.DeadLetter("gps", dl.id, "gw:{auth}:users", "1-0", "x", 0, {"a": "b"})
    assert deadletters.replay(svc, [forged]) == {"replayed": 0, "skipped": 1}
    assert not svc.r.exists("gw:{auth}:users")


def test_listing_filters_by_stream_ids_and_reason(svc):
    _future_fix(svc)
    svc.r.xadd(svc.keys.gps_stream(0), {"w": "NOBODY", "t": "1", "la": "39.1", "lo": "117.2"})
    _consumer(svc).drain()
    assert len(deadletters.listing(svc, "gps")) == 2
    [unknown] = deadletters.listing(svc, reason="unknown worker")
    assert deadletters.listing(svc, ids=[unknown.id]) == [unknown]
    assert deadletters.listing(svc, "events") == []
    with pytest.raises(ValueError, match="unknown stream"):
        deadletters.listing(svc, "nope")


def _cli(settings, *args):
    return subprocess.run([sys.executable, str(ROOT / "app.py"), "deadletters", *args],
                          env=app_env(settings), capture_output=True, text=True, timeout=60)


def test_the_command_line_lists_and_replays(svc, clock):
    _future_fix(svc)
    _consumer(svc).drain()
    out = _cli(svc.settings, "list", "--stream", "gps")
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout.splitlines()[0])
    assert row["reason"].startswith("future timestamp")
    out = _cli(svc.settings, "replay", "--ids", row["id"])
    assert out.returncode == 0 and "replayed 1 dead letter(s)" in out.stdout
    assert svc.r.xlen(svc.keys.deadletter("gps")) == 0
    assert _cli(svc.settings, "list", "--stream", "nope").returncode == 2
