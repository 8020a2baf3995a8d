"""vm_failover (with vm_power) against the standalone lab over real WinRM: test failover and cleanup, planned
failover with its cancel paths, unplanned failover after the primary site is lost (split-brain guard, recovery
point choice, start, complete). Every refusal must leave the world as it was. The tests share one lab and run in
file order; the site-down scenario comes last."""

from __future__ import annotations

import datetime
import json

PLAY = """
- hosts: {host}
  gather_facts: false
  tasks:
    - name: step
      {module}: {args}
"""


INFO = """
- hosts: hv-sec-02
  gather_facts: false
  tasks:
    - name: info
      site_recovery.hyperv.vm_replication_info: {name: [sql01], recovery_points: true}
"""


def step(lab, host, args, module="site_recovery.hyperv.vm_failover", **kwargs):
    run = lab.playbook(PLAY.format(host=host, module=module, args=json.dumps(args)), **kwargs)
    return run, run.results("step")[host]


def power(lab, host, args):
    return step(lab, host, args, module="site_recovery.hyperv.vm_power")


def world_state(lab):
    """Everything a refusal must leave untouched: VMs and power states, relationship sides, test VMs, failovers."""
    world = lab.world
    with world.lock:
        vms = sorted((host, vm.name, vm.state) for (host, dummy), vm in world.vms.items())
        rels = sorted((r.vm_name, r.mode_on(r.primary_host), r.state_on(r.primary_host), r.mode_on(r.replica_host),
                       r.state_on(r.replica_host), str(r.test_vm), json.dumps(r.failover, default=str, sort_keys=True))
                      for r in world.replications())
    return vms, rels


def changes_since(lab, since):
    return [e for e in lab.audit()[since:] if e["kind"] == "cmdlet" and not e["cmdlet"].startswith(("Get-", "Measure-"))]


def refused(lab, host, args, *words, module="site_recovery.hyperv.vm_failover"):
    """Run a step that must be refused; assert the message and that the world and audit log show no change."""
    before = world_state(lab)
    since = len(lab.audit())
    run, result = step(lab, host, args, module=module)
    assert run.rc == 2, run.stdout
    assert result["changed"] is False, result
    for word in words:
        assert word in result["msg"], result["msg"]
    assert world_state(lab) == before
    assert changes_since(lab, since) == []
    return result


def rel_of(lab, name):
    return next(r for r in lab.world.replications() if r.vm_name == name)


# ---- test failover --------------------------------------------------------------------------------
def test_test_failover_and_cleanup(lab):
    world = lab.world
    rel = rel_of(lab, "app02")
    before = world_state(lab)
    run, result = step(lab, "hv-sec-03", {"name": ["app02"], "state": "test"}, check=True)
    assert run.rc == 0, run.stdout
    assert result["changed"] is True and result["vms"][0]["after"]["test_vm"] == "app02 - Test"
    assert world_state(lab) == before

    run, result = step(lab, "hv-sec-03", {"name": ["app02"], "state": "test"})
    assert run.rc == 0, run.stdout
    assert result["changed"] is True
    assert rel.test_vm == "app02 - Test" and world.vm("hv-sec-03", "app02 - Test") is not None
    assert result["vms"][0]["after"]["test_vm"] == "app02 - Test"
    # V(latest): the newest point the host listed; the lab names its points by kind and time.
    point = result["vms"][0]["recovery_point"]
    assert point["type"] in ("Replica", "AppConsistentReplica", "SyncedReplica") and point["name"].startswith("app02 - ")
    # Replication goes on; the Replica VM itself is untouched.
    assert rel.state_on("hv-sec-03") == "Replicating" and world.vm("hv-sec-03", "app02").state == "Off"

    run, result = step(lab, "hv-sec-03", {"name": ["app02"], "state": "test"})
    assert run.rc == 0 and result["changed"] is False

    # A real failover is refused while the test VM exists (one failover operation at a time).
    refused(lab, "hv-sec-03", {"name": ["app02"], "state": "failed_over", "force": True}, "test failover is running", "test_cleanup")

    run, result = step(lab, "hv-sec-03", {"name": ["app02"], "state": "test_cleanup"})
    assert run.rc == 0, run.stdout
    assert result["changed"] is True
    assert rel.test_vm is None and world.vm("hv-sec-03", "app02 - Test") is None
    run, result = step(lab, "hv-sec-03", {"name": ["app02"], "state": "test_cleanup"})
    assert run.rc == 0 and result["changed"] is False


def test_bad_input_changes_nothing(lab):
    refused(lab, "hv-sec-02", {"name": ["no-such-vm"], "state": "test"}, "No virtual machine named 'no-such-vm' on Hyper-V host hv-sec-02")
    refused(lab, "hv-sec-02", {"name": ["web01"], "state": "completed"}, "has not been failed over", "Complete-VMFailover")
    refused(lab, "hv-sec-02", {"name": ["web01"]}, "state")
    refused(lab, "hv-sec-02", {"name": ["web01"], "state": "test", "recovery_point": "no such point"},
            "no recovery point named or with Id 'no such point'", "Available recovery points")
    refused(lab, "hv-sec-02", {"name": ["web01"], "state": "failed_over", "recovery_point_before": "last tuesday"}, "ISO-8601")
    refused(lab, "hv-pri-02", {"name": ["web01"], "state": "test"}, "runs on the Replica host hv-sec-02.lab.test")


# ---- planned failover, and its cancel paths ---------------------------------------------------------
def test_planned_failover_prepare_failover_cancel(lab):
    world = lab.world
    rel = rel_of(lab, "app01")
    # The primary copy runs: prepare is refused with the instruction to shut it down first.
    refused(lab, "hv-pri-02", {"name": ["app01"], "state": "prepared"}, "Running", "vm_power state=stopped")
    run, dummy = power(lab, "hv-pri-02", {"name": ["app01"], "state": "stopped"})
    assert run.rc == 0, run.stdout

    before = world_state(lab)
    run, result = step(lab, "hv-pri-02", {"name": ["app01"], "state": "prepared"}, check=True)
    assert run.rc == 0 and result["changed"] is True
    assert result["vms"][0]["after"]["replication_state"] == "PreparedForFailover"
    assert world_state(lab) == before

    run, result = step(lab, "hv-pri-02", {"name": ["app01"], "state": "prepared"})
    assert run.rc == 0, run.stdout
    assert rel.state_on("hv-pri-02") == "PreparedForFailover"
    run, result = step(lab, "hv-pri-02", {"name": ["app01"], "state": "prepared"})
    assert result["changed"] is False

    # The prepared primary is locked: vm_power refuses to start it.
    refused(lab, "hv-pri-02", {"name": ["app01"], "state": "started"}, "locked against starting", module="site_recovery.hyperv.vm_power")

    # Planned failover on the Replica host; the guard must see the prepared primary (or be told).
    args = {"name": ["app01"], "state": "failed_over"}
    run, result = step(lab, "hv-sec-02", args)
    # From a WinRM session (NTLM: no delegation) the Replica host cannot ask the primary (double hop):
    # the module refuses rather than guess, and the caller states what it observed.
    assert run.rc != 0 and "could not ask the primary server" in result["msg"], result
    assert rel.state_on("hv-sec-02") == "Replicating"
    args["primary_state"] = "off"
    run, result = step(lab, "hv-sec-02", args)
    assert run.rc == 0, run.stdout
    assert result["changed"] is True
    assert rel.state_on("hv-sec-02") == "FailedOverWaitingCompletion"
    assert rel.failover["planned"] is True
    run, result = step(lab, "hv-sec-02", args)
    assert result["changed"] is False

    # Cancel on the Replica host (VM off): back to Replicating; then cancel the prepare on the primary host.
    run, result = step(lab, "hv-sec-02", {"name": ["app01"], "state": "cancelled"})
    assert run.rc == 0, run.stdout
    assert result["changed"] is True and rel.failover is None
    assert rel.state_on("hv-sec-02") not in ("FailedOverWaitingCompletion", "FailedOver")
    run, result = step(lab, "hv-sec-02", {"name": ["app01"], "state": "cancelled"})
    assert result["changed"] is False
    run, result = step(lab, "hv-pri-02", {"name": ["app01"], "state": "cancelled"})
    assert run.rc == 0, run.stdout
    assert rel.state_on("hv-pri-02") == "Replicating"
    run, dummy = power(lab, "hv-pri-02", {"name": ["app01"], "state": "started"})
    assert run.rc == 0 and world.vm("hv-pri-02", "app01").state == "Running"


def test_cancel_of_a_running_failed_over_vm_needs_force(lab):
    world = lab.world
    rel = rel_of(lab, "web03")
    run, dummy = power(lab, "hv-pri-02", {"name": ["web03"], "state": "stopped"})
    assert run.rc == 0
    run, dummy = step(lab, "hv-pri-02", {"name": ["web03"], "state": "prepared"})
    assert run.rc == 0, run.stdout
    run, dummy = step(lab, "hv-sec-02", {"name": ["web03"], "state": "failed_over", "primary_state": "off"})
    assert run.rc == 0, run.stdout
    run, dummy = power(lab, "hv-sec-02", {"name": ["web03"], "state": "started"})
    assert run.rc == 0 and world.vm("hv-sec-02", "web03").state == "Running"
    # Cancelling would turn it off and discard its writes: refused without force, saying what is at stake.
    refused(lab, "hv-sec-02", {"name": ["web03"], "state": "cancelled"}, "Running", "discards the failover disk", "force: true")
    run, result = step(lab, "hv-sec-02", {"name": ["web03"], "state": "cancelled", "force": True})
    assert run.rc == 0, run.stdout
    assert world.vm("hv-sec-02", "web03").state == "Off" and rel.failover is None
    run, dummy = step(lab, "hv-pri-02", {"name": ["web03"], "state": "cancelled"})
    assert run.rc == 0 and rel.state_on("hv-pri-02") == "Replicating"
    run, dummy = power(lab, "hv-pri-02", {"name": ["web03"], "state": "started"})
    assert run.rc == 0


# ---- unplanned failover after the primary site is lost -----------------------------------------------
def test_unplanned_failover_is_refused_while_the_primary_site_is_up(lab):
    result = refused(lab, "hv-sec-02", {"name": ["sql01"], "state": "failed_over", "recovery_point": "latest_app_consistent"},
                     "refusing to fail over", "hv-pri-02.lab.test")
    assert "force: true" in result["msg"]
    # A false claim by the caller is still caught (by the primary server's answer, or by Hyper-V's own check).
    before = world_state(lab)
    run, result = step(lab, "hv-sec-02", {"name": ["sql01"], "state": "failed_over", "primary_state": "unreachable"})
    assert run.rc == 2 and result["changed"] is False
    assert "running" in result["msg"].lower()
    assert world_state(lab) == before
    assert lab.world.split_brain() == []


def test_unplanned_failover_after_site_down(lab):
    world = lab.world
    rel = rel_of(lab, "sql01")
    lab.service.apply_fault({"kind": "site-down", "site": "primary"})
    args = {"name": ["sql01"], "state": "failed_over", "recovery_point": "latest_app_consistent"}
    run, result = step(lab, "hv-sec-02", args, check=True)
    # The primary site is down: asking it fails, so the module refuses until the caller confirms it.
    assert run.rc != 0 and "could not ask the primary server" in result["msg"], result
    args["primary_state"] = "unreachable"
    run, result = step(lab, "hv-sec-02", args, check=True)
    assert run.rc == 0, run.stdout
    assert result["changed"] is True and rel.failover is None  # check mode changed nothing
    planned_point = result["vms"][0]["recovery_point"]
    assert planned_point["type"] == "AppConsistentReplica"

    run, result = step(lab, "hv-sec-02", args)
    assert run.rc == 0, run.stdout
    vm = result["vms"][0]
    used = vm["recovery_point"]
    assert used == planned_point
    # The lab failed over to exactly that point: the newest application-consistent one it holds.
    point = rel.failover["point"]
    assert point.kind == "AppConsistentReplica"
    assert rel.snapshot_id(point) == used["id"]
    reported = datetime.datetime.fromisoformat(used["creation_time"].replace("Z", "+00:00"))
    assert reported == point.time.replace(microsecond=point.time.microsecond // 1000 * 1000)
    newest_vss = max(p.time for p in rel.recovery_points(world.clock.now()) if p.kind == "AppConsistentReplica")
    assert point.time == newest_vss
    assert (vm["before"]["replication_state"], vm["after"]["replication_state"]) == ("Replicating", "FailedOverWaitingCompletion")
    assert vm["primary_check"]["answered"] is False
    assert rel.failover["planned"] is False
    run, result = step(lab, "hv-sec-02", args)
    assert result["changed"] is False

    run, result = power(lab, "hv-sec-02", {"name": ["sql01"], "state": "started", "wait_for_heartbeat": True, "timeout": 120})
    assert run.rc == 0, run.stdout
    assert result["vms"][0]["after"]["heartbeat"].startswith("Ok")
    assert world.vm("hv-sec-02", "sql01").state == "Running"

    points_before = len(rel.recovery_points(world.clock.now()))
    assert points_before > 1
    run, result = step(lab, "hv-sec-02", {"name": ["sql01"], "state": "completed"})
    assert run.rc == 0, run.stdout
    vm = result["vms"][0]
    assert rel.state_on("hv-sec-02") == "FailedOver"
    assert len(vm["recovery_points_deleted"]) == points_before - 1
    assert used["id"] not in {p["id"] for p in vm["recovery_points_deleted"]}
    assert "deletes every other recovery point" in vm["note"]
    run, result = step(lab, "hv-sec-02", {"name": ["sql01"], "state": "completed"})
    assert result["changed"] is False
    info = lab.playbook(INFO)
    seen = info.results("info")["hv-sec-02"]["vms"][0]
    assert (seen["state"], seen["replication"]["state"], len(seen["recovery_points"])) == ("Running", "FailedOver", 1)
    assert seen["recovery_points"][0]["id"] == used["id"]
    # Irreversible now: cancel is refused.
    refused(lab, "hv-sec-02", {"name": ["sql01"], "state": "cancelled", "force": True}, "cannot be cancelled")
    # The only copy running on a reachable host is the failed-over one.
    copies = {h.name: world.vm(h.name, "sql01") for h in world.windows_hosts() if world.host_reachable(h.name)}
    running = [name for name, copy in copies.items() if copy is not None and copy.state == "Running"]
    assert running == ["hv-sec-02"]
