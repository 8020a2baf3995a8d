"""The vmm_standalone role against the DR lab: split-brain refusal, unplanned failover of the VMM server
VM (VMM verified before the commit, re-run a no-op), check mode, and failback to the home primary."""

from __future__ import annotations

import threading

import pytest

from conftest import Lab  # pylint: disable=import-error
from lab.service import LabService

CHANGING = {"Start-VMFailover", "Complete-VMFailover", "Stop-VMFailover", "Set-VMReplication", "Enable-VMReplication",
            "Start-VMInitialReplication", "Start-VM", "Stop-VM", "Save-VM", "Remove-VMReplication", "Resume-VMReplication",
            "Suspend-VMReplication", "Read-SCVirtualMachine", "Start-SCVirtualMachine", "Stop-SCVirtualMachine",
            "Set-VMReplicationServer", "New-VMReplicationAuthorizationEntry"}

PLAY = """
- name: vmm_standalone {entries}
  hosts: localhost
  gather_facts: false
  vars:
    vmm_standalone_vmm_wait_delay: 1
  tasks:
{tasks}
    - name: evidence
      ansible.builtin.debug:
        var: site_recovery_evidence
"""
TASK = """    - name: {entry}
      ansible.builtin.include_role:
        name: site_recovery.hyperv.vmm_standalone
        tasks_from: {entry}
"""


def play(*entries: str) -> str:
    return PLAY.format(entries=" ".join(entries), tasks="".join(TASK.format(entry=e) for e in entries))


@pytest.fixture()
def lab(tmp_path_factory):
    """A fresh lab per test (the conftest one is shared by the module)."""
    service = LabService("standalone", str(tmp_path_factory.mktemp("lab")), time_scale=60.0)
    service.start()
    try:
        yield Lab(service, str(tmp_path_factory.mktemp("runs")))
    finally:
        service.stop()


def sides(world):
    """(power, mode, state) of vmm01 on each of its hosts."""
    rel = next(r for r in world.replications() if r.vm_name == "vmm01")
    return {host: (world.vm(host, "vmm01").state, rel.mode_on(host), rel.state_on(host)) for host in ("hv-pri-01", "hv-sec-01")}


def changing_calls(lab, since):
    return [e for e in lab.audit()[since:] if e["kind"] == "cmdlet" and e["cmdlet"] in CHANGING and e["outcome"] == "ok"]


def first_ok(entries, cmdlet, host):
    """Index of the first successful call of that cmdlet on that host."""
    return next(i for i, e in enumerate(entries) if e["kind"] == "cmdlet" and e["cmdlet"] == cmdlet and e["outcome"] == "ok" and e["host"] == host)


def evidence(run):
    return run.results("evidence")["localhost"]["site_recovery_evidence"]


def changed_tasks(run):
    return [(r["task"], r["host"]) for r in run.records if r["result"].get("changed")]


@pytest.mark.parametrize("entries", [("preflight",), ("failover",), ("preflight", "failover")])
def test_split_brain_refused_with_primary_site_up(lab, entries):
    before = sides(lab.world)
    audit_start = len(lab.audit())
    run = lab.playbook(play(*entries))
    assert run.rc != 0, run.stdout
    assert "Split brain refused" in run.stdout, run.stdout
    assert "vmm_standalone_force=true" in run.stdout
    assert sides(lab.world) == before
    assert changing_calls(lab, audit_start) == []
    assert lab.world.split_brain() == []


def test_unplanned_failover_verifies_vmm_before_commit_and_reruns_as_noop(lab):
    lab.service.apply_fault({"kind": "site-down", "site": "primary"})
    audit_start = len(lab.audit())
    run = lab.playbook(play("preflight", "failover"))
    assert run.rc == 0, run.stdout + run.stderr
    assert sides(lab.world)["hv-sec-01"] == ("Running", "Replica", "FailedOver")
    assert lab.world.split_brain() == []
    status = lab.service.status()
    assert status["vmm"]["host"] == "hv-sec-01" and status["vmm"]["service"] == "Running"

    # Order in the audit log: failover, start, VMM answers, and only then the commit.
    entries = lab.audit()[audit_start:]
    order = [first_ok(entries, "Start-VMFailover", "hv-sec-01"), first_ok(entries, "Start-VM", "hv-sec-01"),
             first_ok(entries, "Get-SCVMMServer", "vmm01"), first_ok(entries, "Complete-VMFailover", "hv-sec-01")]
    assert order == sorted(order) and len(set(order)) == 4, order

    records = evidence(run)
    steps = [(r["step"], r["outcome"]) for r in records]
    assert steps[:5] == [("vmm_standalone.preflight", "ok"), ("vmm_standalone.failover", "changed"), ("vmm_standalone.start", "changed"),
                         ("vmm_standalone.wait_vmm", "ok"), ("vmm_standalone.commit", "changed")], steps
    assert records[1]["recovery_point"]["name"].startswith("vmm01 - ")
    assert all(set(r) == {"step", "host", "vms", "start", "end", "outcome", "recovery_point", "detail"} for r in records)
    assert records[3]["end"] <= records[4]["start"]

    # Re-run: every step is found done, nothing changes.
    audit_start = len(lab.audit())
    rerun = lab.playbook(play("preflight", "failover"))
    assert rerun.rc == 0, rerun.stdout
    assert changed_tasks(rerun) == []
    assert changing_calls(lab, audit_start) == []
    assert [r["outcome"] for r in evidence(rerun)] == ["ok", "skipped", "skipped", "ok", "skipped", "skipped"]

    # And in check mode after the failover: the same answer, nothing changed.
    checked = lab.playbook(play("preflight", "failover"), check=True)
    assert checked.rc == 0, checked.stdout
    assert changed_tasks(checked) == []
    assert changing_calls(lab, audit_start) == []


def test_failover_resumes_after_a_crash_before_the_commit(lab):
    lab.service.apply_fault({"kind": "site-down", "site": "primary"})
    # A run that stopped after the failover (and the start) but before the commit.
    crashed = lab.playbook(play("preflight", "failover"), "-e", "vmm_standalone_commit=false")
    assert crashed.rc == 0, crashed.stdout
    assert sides(lab.world)["hv-sec-01"] == ("Running", "Replica", "FailedOverWaitingCompletion")
    run = lab.playbook(play("failover"))
    assert run.rc == 0, run.stdout
    assert sides(lab.world)["hv-sec-01"] == ("Running", "Replica", "FailedOver")
    assert [(r["step"], r["outcome"]) for r in evidence(run)][1:5] == [
        ("vmm_standalone.failover", "skipped"), ("vmm_standalone.start", "skipped"), ("vmm_standalone.wait_vmm", "ok"),
        ("vmm_standalone.commit", "changed")]


def test_check_mode_changes_nothing(lab):
    lab.service.apply_fault({"kind": "site-down", "site": "primary"})
    before = sides(lab.world)
    audit_start = len(lab.audit())
    run = lab.playbook(play("preflight", "failover"), check=True)
    assert run.rc == 0, run.stdout + run.stderr
    assert sides(lab.world) == before
    assert changing_calls(lab, audit_start) == []
    outcomes = {r["step"]: r["outcome"] for r in evidence(run)}
    assert outcomes["vmm_standalone.failover"] == "changed"  # what a real run would do first
    assert outcomes["vmm_standalone.start"] == outcomes["vmm_standalone.commit"] == "skipped"


def test_failback_returns_vmm01_home(lab):
    lab.service.apply_fault({"kind": "site-down", "site": "primary"})
    run = lab.playbook(play("preflight", "failover"))
    assert run.rc == 0, run.stdout
    lab.service.apply_fault({"kind": "site-down", "site": "primary", "clear": True})
    assert sides(lab.world)["hv-pri-01"][0] == "Off"

    # Check mode: the first step is predicted, the rest skipped, nothing changes.
    before, audit_start = sides(lab.world), len(lab.audit())
    checked = lab.playbook(play("failback"), check=True)
    assert checked.rc == 0, checked.stdout
    assert sides(lab.world) == before and changing_calls(lab, audit_start) == []
    outcomes = {r["step"]: r["outcome"] for r in evidence(checked)}
    assert outcomes["vmm_standalone.failback.as_replica"] == "changed"
    assert {outcomes["vmm_standalone.failback." + s] for s in ("reverse", "stop", "prepare", "failover", "reverse_again", "start")} == {"skipped"}

    # Initial replication of the reversed relationship progresses with simulated time: run the clock fast.
    stop = threading.Event()

    def tick():
        while not stop.wait(0.05):
            lab.world.clock.advance(300)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        run = lab.playbook(play("failback"))
    finally:
        stop.set()
        ticker.join()
    assert run.rc == 0, run.stdout + run.stderr
    final = sides(lab.world)
    assert final["hv-pri-01"] == ("Running", "Primary", "Replicating")
    assert final["hv-sec-01"][:2] == ("Off", "Replica")
    assert lab.world.split_brain() == []
    assert lab.service.status()["vmm"]["host"] == "hv-pri-01"
    steps = {r["step"]: r["outcome"] for r in evidence(run)}
    for step in ("as_replica", "reverse", "stop", "prepare", "failover", "reverse_again", "start"):
        assert steps["vmm_standalone.failback." + step] == "changed", steps

    audit_start = len(lab.audit())
    rerun = lab.playbook(play("failback"))
    assert rerun.rc == 0, rerun.stdout
    assert changed_tasks(rerun) == []
    assert changing_calls(lab, audit_start) == []


def test_failback_with_vmm01_at_home_changes_nothing(lab):
    audit_start = len(lab.audit())
    run = lab.playbook(play("failback"))
    assert run.rc == 0, run.stdout
    assert changed_tasks(run) == [] and changing_calls(lab, audit_start) == []
    assert sides(lab.world)["hv-pri-01"] == ("Running", "Primary", "Replicating")


def test_failback_resumes_from_a_prepared_planned_failover(lab):
    """A failback that crashed after the prepare on the secondary host picks up at the failover back."""
    lab.service.apply_fault({"kind": "site-down", "site": "primary"})
    assert lab.playbook(play("preflight", "failover")).rc == 0
    lab.service.apply_fault({"kind": "site-down", "site": "primary", "clear": True})
    by_hand = """
- hosts: hv-pri-01
  gather_facts: false
  tasks:
    - site_recovery.hyperv.vm_replication: {name: [vmm01], state: replica}
- hosts: hv-sec-01
  gather_facts: false
  tasks:
    - site_recovery.hyperv.vm_replication: {name: [vmm01], state: reversed}
"""
    assert lab.playbook(by_hand).rc == 0
    for dummy in range(100):
        lab.world.settle()
        if sides(lab.world)["hv-sec-01"][2] == "Replicating":
            break
        lab.world.clock.advance(600)
    prepare = """
- hosts: hv-sec-01
  gather_facts: false
  tasks:
    - site_recovery.hyperv.vm_power: {name: [vmm01], state: stopped}
    - site_recovery.hyperv.vm_failover: {name: [vmm01], state: prepared}
"""
    assert lab.playbook(prepare).rc == 0
    assert sides(lab.world)["hv-sec-01"][1:] == ("Primary", "PreparedForFailover")
    run = lab.playbook(play("failback"))
    assert run.rc == 0, run.stdout
    steps = {r["step"]: r["outcome"] for r in evidence(run)}
    assert [steps["vmm_standalone.failback." + s] for s in ("as_replica", "reverse", "stop", "prepare")] == ["skipped"] * 4
    assert steps["vmm_standalone.failback.failover"] == "changed"
    assert sides(lab.world)["hv-pri-01"] == ("Running", "Primary", "Replicating")


def test_protect_converges_and_reruns_as_noop(lab):
    run = lab.playbook(play("protect"))
    assert run.rc == 0, run.stdout + run.stderr
    steps = {r["step"]: r for r in evidence(run)}
    assert steps["vmm_standalone.replica_server"]["host"] == "hv-sec-01"
    assert steps["vmm_standalone.protect"]["host"] == "hv-pri-01"
    assert sides(lab.world)["hv-pri-01"] == ("Running", "Primary", "Replicating")
    rerun = lab.playbook(play("protect"))
    assert rerun.rc == 0, rerun.stdout
    assert changed_tasks(rerun) == []
