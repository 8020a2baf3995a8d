"""The workloads role with engine asr against the standalone lab's Recovery Services vault: the seed's full path
(VMM server VM by Hyper-V Replica, then the workloads by the vault's recovery plan), the runbook order enforced by
the vault itself (no VMM server, no vault failover), check mode, re-run no-op, crash and resume, and failback."""

from __future__ import annotations

import glob
import json
import os

from test_crash_resume import FastClock, SplitBrainWatch, relationships

ASR = ("-e", "site_recovery_engine=asr", "-e", "workloads_asr_poll_interval=1")
CHANGING_CMDLETS = {"Start-VMFailover", "Complete-VMFailover", "Stop-VMFailover", "Set-VMReplication", "Start-VM", "Stop-VM"}


def workloads(world):
    return [name for name in relationships(world) if name != world.vmm["server_vm"]]


def sides(world, vm_name):
    """((power, mode, state) at the primary-site host, (power, mode, state) at the secondary-site host)."""
    rel = next(r for r in world.replications() if r.vm_name == vm_name)
    home = next(h for h in (rel.primary_host, rel.replica_host) if world.host(h).site == "primary")
    away = rel.replica_host if home == rel.primary_host else rel.primary_host
    return ((world.vm(home, vm_name).state, rel.mode_on(home), rel.state_on(home)),
            (world.vm(away, vm_name).state, rel.mode_on(away), rel.state_on(away)))


def rest(entries, method=None):
    """The vault (ARM) requests of the audit log; the token requests to the lab's authority are left out."""
    return [e for e in entries if e.get("kind") == "rest" and "microsoft.recoveryservices" in str(e.get("path", "")).lower()
            and (method is None or e.get("method") == method)]


def evidence(lab, playbook):
    paths = sorted(glob.glob(os.path.join(lab.tmp_path, "evidence", playbook + "-*.json")), key=os.path.getmtime)
    with open(paths[-1], encoding="utf-8") as f:
        return json.load(f)


def test_vault_step_before_the_vmm_server_fails_and_says_so(lab):
    """The primary site is lost and nobody brought VMM back: the vault's provider is not connected."""
    lab.service.apply_fault({"kind": "site-down", "site": "primary"})
    since = len(lab.audit())
    play = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role: {name: site_recovery.hyperv.workloads, tasks_from: failover}
"""
    run = lab.playbook(play, *ASR)
    assert run.rc != 0
    assert "bring the VMM server back first" in run.stdout, run.stdout[-3000:]
    entries = lab.audit()[since:]
    # Read only: no vault action was posted, no VM changed.
    assert rest(entries, "POST") == [] and rest(entries, "PUT") == []
    assert [e for e in entries if e.get("kind") == "cmdlet" and e.get("cmdlet") in CHANGING_CMDLETS] == []


def test_check_mode_changes_nothing(lab):
    before = {name: sides(lab.world, name) for name in relationships(lab.world)}
    since = len(lab.audit())
    run = lab.playbook("site_recovery.hyperv.failover_unplanned", *ASR, check=True)
    assert run.rc == 0, run.stdout[-4000:]
    entries = lab.audit()[since:]
    assert rest(entries, "POST") == [] and rest(entries, "PUT") == []
    assert {name: sides(lab.world, name) for name in relationships(lab.world)} == before


def test_failover_unplanned_vmm_by_replica_then_workloads_by_vault(lab):
    since = len(lab.audit())
    with SplitBrainWatch(lab.world) as watch:
        run = lab.playbook("site_recovery.hyperv.failover_unplanned", *ASR)
    assert run.rc == 0, run.stdout[-6000:]
    assert watch.seen == []
    for name in workloads(lab.world):
        away = sides(lab.world, name)[1]
        assert away[0] == "Running" and away[2] == "FailedOver", (name, away)
    entries = lab.audit()[since:]
    # Runbook order: VMM answers at the secondary site before the first vault action is posted.
    vmm_up = next(i for i, e in enumerate(entries) if e.get("kind") == "cmdlet" and e.get("cmdlet") == "Start-VM"
                  and "vmm01" in json.dumps(e.get("params")))
    first_post = entries.index(rest(entries, "POST")[0])
    assert vmm_up < first_post
    # Every request the collection sent was one the vault (the spec) accepts.
    assert [e for e in rest(entries) if int(e.get("status", 0)) >= 400] == []
    record = evidence(lab, "failover_unplanned")
    steps = [(s["step"], s["outcome"]) for s in record["steps"]]
    assert ("workloads.asr.failover", "changed") in steps and ("workloads.asr.commit", "changed") in steps
    assert record["engine"] == "asr" and record["rto_seconds"] is not None


def test_rerun_is_a_noop(lab):
    since = len(lab.audit())
    run = lab.playbook("site_recovery.hyperv.failover_unplanned", *ASR)
    assert run.rc == 0, run.stdout[-4000:]
    entries = lab.audit()[since:]
    assert rest(entries, "POST") == [] and rest(entries, "PUT") == []
    assert [e for e in entries if e.get("kind") == "cmdlet" and e.get("cmdlet") in CHANGING_CMDLETS and e.get("outcome") == "ok"] == []


def test_failback_through_the_vault_returns_everything_home(lab):
    lab.service.apply_fault({"kind": "site-down", "site": "primary", "clear": True})
    with FastClock(lab.world), SplitBrainWatch(lab.world) as watch:
        run = lab.playbook("site_recovery.hyperv.failback", *ASR)
    assert run.rc == 0, run.stdout[-6000:]
    assert watch.seen == []
    for name in relationships(lab.world):
        home, away = sides(lab.world, name)
        assert home == ("Running", "Primary", "Replicating"), (name, home)
        assert away[:2] == ("Off", "Replica"), (name, away)
