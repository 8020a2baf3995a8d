"""Resumption with the vault engine: kill the controller (SIGKILL) while the vault's failover job runs, while its commit
runs, while the failback waits for reversed replication and while the failback's commit runs; the re-run converges,
with no VM ever running at both sites. (Each test starts its own lab: one lab per process, so not beside a module lab.)"""

from __future__ import annotations

import pytest

from test_crash_resume import FastClock, SplitBrainWatch, killed_run, relationships
from test_workloads_asr import ASR, sides


@pytest.mark.parametrize("after_tasks", (87, 103))
def test_vault_failover_converges_after_a_controller_crash(fresh_lab, after_tasks):
    """Killed while the vault's failover job runs (task 87) and while the commit runs (103): the re-run finishes the job."""
    lab = fresh_lab
    lab.service.apply_fault({"kind": "site-down", "site": "primary"})
    with SplitBrainWatch(lab.world) as watch:
        killed_run(lab, "site_recovery.hyperv.failover_unplanned", after_tasks, extra=ASR)
        run = lab.playbook("site_recovery.hyperv.failover_unplanned", *ASR)
    assert run.rc == 0, run.stdout[-4000:]
    assert watch.seen == []
    for name in relationships(lab.world):
        away = sides(lab.world, name)[1]
        assert away[0] == "Running" and away[2] == "FailedOver", (name, away)


@pytest.mark.parametrize("kill_at", ["wait until the reversed replication is in sync", "vault plan step - full-estate committed"])
def test_vault_failback_converges_after_a_controller_crash(fresh_lab, kill_at):
    """Killed while the reversed replication catches up, and while the failback's commit job runs: the re-run goes home."""
    lab = fresh_lab
    lab.service.apply_fault({"kind": "site-down", "site": "primary"})
    assert lab.playbook("site_recovery.hyperv.failover_unplanned", *ASR).rc == 0
    lab.service.apply_fault({"kind": "site-down", "site": "primary", "clear": True})
    with FastClock(lab.world), SplitBrainWatch(lab.world) as watch:
        assert killed_run(lab, "site_recovery.hyperv.failback", kill_at, extra=ASR)
        run = lab.playbook("site_recovery.hyperv.failback", *ASR)
    assert run.rc == 0, run.stdout[-4000:]
    assert watch.seen == []
    for name in relationships(lab.world):
        home, away = sides(lab.world, name)
        assert home == ("Running", "Primary", "Replicating"), (name, home)
        assert away[:2] == ("Off", "Replica"), (name, away)
