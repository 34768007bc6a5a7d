"""The jobs process: the periodic jobs run in their own process, not beside a consumer."""

from __future__ import annotations

import os
import time

from tests.scale_helpers import spawn, stop


def _wait(check, timeout_s: float = 60.0) -> bool:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_the_jobs_process_assesses_at_low_priority_and_a_consumer_does_not(svc, tmp_path):
    env = dict(os.environ, REDIS_URL=svc.settings.redis_url, DATA_DIR=str(tmp_path / "var"),
               SIMULATE="false")
    today = svc.keys.assessment(svc.days.day(time.time()))  # the processes' clock is real
    consumer = spawn(["consume", "gps", "--name", "only"], env, str(tmp_path / "c.log"))
    try:
        beat = svc.keys.consumers_heartbeat()
        assert _wait(lambda: svc.r.hexists(beat, "gps/only")), "the consumer never started"
        time.sleep(6)  # longer than the people jobs' round: a consumer never takes the lock
        assert not svc.r.exists(today)
        jobs = spawn(["jobs"], env, str(tmp_path / "j.log"))
        try:
            assert _wait(lambda: svc.r.hlen(today) == len(svc.district.workers)), (
                "the jobs process never assessed")
            mine = os.getpriority(os.PRIO_PROCESS, 0)
            assert os.getpriority(os.PRIO_PROCESS, jobs.pid) == min(19, mine + 10)  # JOBS_NICE
        finally:
            stop(jobs)
    finally:
        stop(consumer)
