"""The failover_planned playbook against the standalone lab, both sites up: check mode changes nothing, the VMM VM
moves before any workload VM, every VM ends up Primary and running at the secondary site with replication reversed
(no data loss, no VM ever running at both sites), a re-run changes nothing, and failback restores the initial estate."""

from __future__ import annotations

import glob
import json
import os

import pytest

from test_crash_resume import FastClock, SplitBrainWatch, relationships

CHANGING = {"Start-VMFailover", "Complete-VMFailover", "Stop-VMFailover", "Set-VMReplication", "Enable-VMReplication",
            "Start-VM", "Stop-VM", "Save-VM", "Remove-VMReplication", "Resume-VMReplication", "Start-VMInitialReplication"}


def changing_calls(lab, since):
    return [e for e in lab.audit()[since:] if e["kind"] == "cmdlet" and e["cmdlet"] in CHANGING and e["outcome"] == "ok"]


def sides(world, vm_name):
    """(power, mode, replication state) of the VM at its primary-site host and at its secondary-site host."""
    rel = next(r for r in world.replications() if r.vm_name == vm_name)
    home = next(h for h in (rel.primary_host, rel.replica_host) if world.host(h).site == "primary")
    away = rel.replica_host if home == rel.primary_host else rel.primary_host
    return ((world.vm(home, vm_name).state, rel.mode_on(home), rel.state_on(home)),
            (world.vm(away, vm_name).state, rel.mode_on(away), rel.state_on(away)))


def last_evidence(lab, playbook):
    paths = sorted(glob.glob(os.path.join(lab.tmp_path, "evidence", playbook + "-*.json")), key=os.path.getmtime)
    with open(paths[-1], encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def initial(lab):
    return {name: sides(lab.world, name) for name in relationships(lab.world)}


def test_check_mode_shows_the_plan_and_changes_nothing(lab, initial):
    since = len(lab.audit())
    run = lab.playbook("site_recovery.hyperv.failover_planned", check=True)
    assert run.rc == 0, run.stdout[-4000:]
    assert changing_calls(lab, since) == []
    assert {name: sides(lab.world, name) for name in initial} == initial
    record = last_evidence(lab, "failover_planned")
    assert record["check_mode"] is True and record["outcome"] == "succeeded"
    steps = {r["step"]: r["outcome"] for r in record["steps"]}
    # The first step that would change is predicted; what can only be judged after it is skipped.
    assert steps["vmm_standalone.planned.stop"] == "changed"
    assert steps["vmm_standalone.planned.failover"] == "skipped"


def test_planned_failover_moves_everything_without_split_brain(lab, initial):
    since = len(lab.audit())
    with FastClock(lab.world), SplitBrainWatch(lab.world) as watch:
        run = lab.playbook("site_recovery.hyperv.failover_planned")
    assert run.rc == 0, run.stdout[-6000:] + run.stderr
    assert watch.seen == []
    assert relationships(lab.world) == sorted(initial)
    for name in initial:
        home, away = sides(lab.world, name)
        assert away[:2] == ("Running", "Primary") and away[2] == "Replicating", (name, away)
        assert home[:2] == ("Off", "Replica"), (name, home)
    # Runbook order: the VMM VM is up at the secondary site before any workload VM is touched.
    calls = changing_calls(lab, since)
    vmm_start = next(i for i, e in enumerate(calls) if e["cmdlet"] == "Start-VM" and "vmm01" in json.dumps(e.get("params")))
    first_workload = next(i for i, e in enumerate(calls) if "vmm01" not in json.dumps(e.get("params")))
    assert vmm_start < first_workload
    # Planned means no data loss: each VM was prepared on its primary-site host before it failed over at the secondary site.
    for name in initial:
        failovers = [(e["host"], bool(e["params"].get("Prepare"))) for e in calls
                     if e["cmdlet"] == "Start-VMFailover" and name in e["params"].get("VMName", [])]
        assert failovers and failovers[0][1] and failovers[0][0].startswith("hv-pri"), (name, failovers)
        assert failovers[-1][0].startswith("hv-sec") and not failovers[-1][1], (name, failovers)
    record = last_evidence(lab, "failover_planned")
    assert record["outcome"] == "succeeded" and record["rto_seconds"] is not None
    steps = [r["step"] for r in record["steps"]]
    assert "vmm_standalone.planned.failover" in steps and "workloads.planned.start" in steps


def test_rerun_is_a_noop(lab):
    since = len(lab.audit())
    run = lab.playbook("site_recovery.hyperv.failover_planned")
    assert run.rc == 0, run.stdout[-4000:]
    assert changing_calls(lab, since) == []


def test_failback_restores_the_initial_estate(lab, initial):
    with FastClock(lab.world), SplitBrainWatch(lab.world) as watch:
        run = lab.playbook("site_recovery.hyperv.failback")
    assert run.rc == 0, run.stdout[-6000:] + run.stderr
    assert watch.seen == []
    for name, (home0, away0) in initial.items():
        home, away = sides(lab.world, name)
        assert home == home0 and away[:2] == away0[:2], (name, home, away)
