"""The jobs process: the periodic jobs run in their own process, not beside a consumer."""

from __future__ import annotations

import os
import time

from tests.scale_helpers import app_env, spawn, stop, wait_for


def test_the_jobs_process_assesses_at_low_priority_and_a_consumer_does_not(svc, tmp_path):
    env = app_env(svc.settings, SIMULATE="false")
    today = svc.keys.assessment(svc.days.day(time.time()))  # the processes' clock is real
    consumer = spawn(["consume", "gps", "--name", "only"], env, str(tmp_path / "c.log"))
    try:
        beat = svc.keys.consumers_heartbeat()
        wait_for(lambda: svc.r.hexists(beat, "gps/only"), 60, "the consumer to start")
        time.sleep(6)  # longer than the people jobs' round: a consumer never takes the lock
        assert not svc.r.exists(today)
        jobs = spawn(["jobs"], env, str(tmp_path / "j.log"))
        try:
            wait_for(lambda: svc.r.hlen(today) == len(svc.district.workers), 60,
                     "the jobs process to assess every worker")
            mine = os.getpriority(os.PRIO_PROCESS, 0)
            assert os.getpriority(os.PRIO_PROCESS, jobs.pid) == min(19, mine + 10)  # JOBS_NICE
        finally:
            stop(jobs)
    finally:
        stop(consumer)
