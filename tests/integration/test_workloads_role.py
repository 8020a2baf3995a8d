"""The workloads role (engine replica) against the standalone lab: recovery plans rejected before any change,
approval as a variable, unplanned failover by boot groups (order, one batch per host per group, no split brain),
re-run no-op, commit, and failback to the primary site."""

from __future__ import annotations

import os
import time

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLE = os.path.join(REPO, "roles", "workloads", "files", "example_plans.yml")
with open(EXAMPLE, encoding="utf-8") as fh:
    PLANS = yaml.safe_load(fh)["workloads_plans"]
GROUPS = [g["vms"] for g in PLANS[0]["groups"]]
WORKLOADS = [vm for group in GROUPS for vm in group]
CHANGING = {"Start-VMFailover", "Complete-VMFailover", "Stop-VMFailover", "Set-VMReplication", "Enable-VMReplication",
            "Start-VM", "Stop-VM", "Save-VM", "Remove-VMReplication", "Resume-VMReplication", "Start-VMInitialReplication"}


def play(*entries: str, vars_: dict | None = None) -> str:
    tasks = [{"name": "workloads %s" % e, "ansible.builtin.include_role": {"name": "site_recovery.hyperv.workloads", "tasks_from": e}}
             for e in entries]
    return yaml.safe_dump([{"name": "workloads", "hosts": "localhost", "gather_facts": False, "vars": vars_ or {}, "tasks": tasks}],
                          sort_keys=False)


def changes(entries):
    return [e for e in entries if e.get("kind") == "cmdlet" and e.get("cmdlet") in CHANGING and e.get("outcome") == "ok"]


def where(world, vm):
    """(host, power state, mode, replication state) of each copy of vm."""
    rel = next(r for r in world.replications() if r.vm_name == vm)
    return {h: (world.vm(h, vm).state, rel.mode_on(h), rel.state_on(h)) for h in (rel.primary_host, rel.replica_host)}


def running_sites(world, vm):
    out = []
    for host, (power, dummy_mode, dummy_state) in where(world, vm).items():
        if power == "Running":
            out.append(host)
    return out


def test_invalid_plans_rejected_before_any_change(lab):
    start = len(lab.audit())
    bad = [{"name": "p1", "groups": [{"name": "g1", "vms": ["sql01", "nosuchvm"]}, {"name": "g2", "vms": ["sql01"]},
                                     {"name": "g3", "vms": []}]},
           {"name": "p1", "groups": [{"name": "x", "vms": ["app01"]}]}]
    run = lab.playbook(play("preflight", "failover", vars_={"workloads_plans": bad}))
    assert run.rc != 0
    res = run.results("Workloads - validate and resolve the recovery plans")["localhost"]
    errors = "\n".join(res["errors"])
    assert "unknown VM nosuchvm" in errors and "VM sql01 is in p1 group g1 and in p1 group g2" in errors
    assert "group g3 is empty" in errors and "duplicate plan name p1" in errors
    assert changes(lab.audit()[start:]) == []
    for vm in WORKLOADS:
        assert [h[:6] for h in running_sites(lab.world, vm)] == ["hv-pri"], where(lab.world, vm)


def test_approval_required_stops_before_change(lab):
    lab.service.apply_fault({"kind": "site-down", "site": "primary"})
    start = len(lab.audit())
    plans = [dict(PLANS[0], approval_required=True)]
    run = lab.playbook(play("preflight", "failover", vars_={"workloads_plans": plans}))
    assert run.rc != 0
    assert "workloads_approved=true" in run.results("Workloads - approval")["localhost"]["msg"]
    assert changes(lab.audit()[start:]) == []


def test_check_mode_changes_nothing(lab):
    lab.service.apply_fault({"kind": "site-down", "site": "primary"})
    start = len(lab.audit())
    run = lab.playbook(play("preflight", "failover", "commit"), "-e", "@" + EXAMPLE, check=True)
    assert run.rc == 0, run.stdout + run.stderr
    assert changes(lab.audit()[start:]) == []
    assert any(r["result"].get("changed") for r in run.records if r["task"].startswith("Workloads - fail over on"))


def test_unplanned_failover_by_boot_groups(lab, tmp_path):
    lab.service.apply_fault({"kind": "site-down", "site": "primary"})
    hook = tmp_path / "post_data.yml"
    hook.write_text("- name: post hook ran\n  ansible.builtin.debug:\n    msg: '{{ workloads_hook.operation }} {{ workloads_hook.group }}'\n")
    plans = [dict(PLANS[0], groups=[dict(PLANS[0]["groups"][0], post_tasks=str(hook))] + PLANS[0]["groups"][1:])]
    start = len(lab.audit())
    # A crash in the middle: the failover of group "data" on hv-sec-03 fails after hv-sec-02's batch went through.
    lab.service.apply_fault({"kind": "cmdlet", "host": "hv-sec-03", "cmdlet": "Start-VMFailover", "count": 1, "message": "Injected crash."})
    crashed = lab.playbook(play("preflight", "failover", vars_={"workloads_plans": plans}))
    assert crashed.rc != 0
    assert where(lab.world, "sql01")["hv-sec-02"][2] == "FailedOverWaitingCompletion"
    assert where(lab.world, "sql02")["hv-sec-03"][2] == "Replicating"
    assert [e for e in changes(lab.audit()[start:]) if e["cmdlet"] == "Start-VM"] == []
    # The re-run converges from live state: sql01 is not failed over again.
    t0 = time.monotonic()
    run = lab.playbook(play("preflight", "failover", vars_={"workloads_plans": plans}))
    elapsed = time.monotonic() - t0
    assert run.rc == 0, run.stdout + run.stderr
    entries = lab.audit()[start:]
    starts = [e for e in changes(entries) if e["cmdlet"] == "Start-VM"]
    failovers = [e for e in changes(entries) if e["cmdlet"] == "Start-VMFailover"]
    started = [e.get("params", {}).get("Name") or e.get("vm") for e in starts]
    # boot order: every VM of group n starts before any VM of group n+1
    index = {}
    for pos, entry in enumerate(starts):
        for vm in WORKLOADS:
            if vm in str(entry):
                index.setdefault(vm, pos)
    assert sorted(index) == sorted(WORKLOADS), started
    for first, second in zip(GROUPS, GROUPS[1:]):
        assert max(index[vm] for vm in first) < min(index[vm] for vm in second), index
    # one batch per replica host per group: on each host, the Start-VMFailover calls of a group are one uninterrupted
    # run of calls (one WinRM command), holding exactly the group's VMs on that host
    for host in ("hv-sec-02", "hv-sec-03"):
        runs, current = [], None
        for entry in (e for e in entries if e.get("kind") == "cmdlet" and e["host"] == host):
            if entry["cmdlet"] == "Start-VMFailover" and entry["outcome"] == "ok":
                if current is None:
                    current = []
                    runs.append(current)
                current.extend(vm for vm in WORKLOADS if vm in str(entry["params"]))
            else:
                current = None
        expected = [sorted(vm for vm in group if host in where(lab.world, vm)) for group in GROUPS]
        assert [sorted(r) for r in runs] == [e for e in expected if e], (host, runs)
    for vm in WORKLOADS:
        sec = [v for h, v in where(lab.world, vm).items() if h.startswith("hv-sec")][0]
        assert sec == ("Running", "Replica", "FailedOverWaitingCompletion"), (vm, sec)
    assert lab.world.split_brain() == []
    assert failovers
    assert run.results("post hook ran")["localhost"]["msg"] == "failover data"
    evidence = [r for r in run.records if r["task"].startswith("Workloads - evidence")]
    assert evidence
    print("failover of %d VMs: %.1f s" % (len(WORKLOADS), elapsed))


def test_rerun_is_noop(lab):
    start = len(lab.audit())
    run = lab.playbook(play("preflight", "failover"), "-e", "@" + EXAMPLE)
    assert run.rc == 0, run.stdout + run.stderr
    assert changes(lab.audit()[start:]) == []
    assert not [r for r in run.records if r["result"].get("changed") and r["task"].startswith("Workloads - ") and "evidence" not in r["task"]]


def test_commit(lab):
    run = lab.playbook(play("commit"), "-e", "@" + EXAMPLE)
    assert run.rc == 0, run.stdout + run.stderr
    for vm in WORKLOADS:
        sec = [v for h, v in where(lab.world, vm).items() if h.startswith("hv-sec")][0]
        assert sec == ("Running", "Replica", "FailedOver"), (vm, sec)
    again = lab.playbook(play("commit"), "-e", "@" + EXAMPLE)
    assert again.rc == 0


def test_failback_returns_everything_home(lab):
    lab.service.apply_fault({"kind": "site-down", "site": "primary", "clear": True})
    lab.world.durations.mode = "advance"
    try:
        run = lab.playbook(play("preflight", "failback", vars_={"workloads_operation": "failback"}), "-e", "@" + EXAMPLE)
    finally:
        lab.world.durations.mode = "sleep"
    assert run.rc == 0, run.stdout[-6000:] + run.stderr
    for vm in WORKLOADS:
        copies = where(lab.world, vm)
        home = [h for h in copies if h.startswith("hv-pri")][0]
        away = [h for h in copies if h.startswith("hv-sec")][0]
        assert copies[home] == ("Running", "Primary", "Replicating"), (vm, copies)
        assert copies[away][:2] == ("Off", "Replica"), (vm, copies)
    assert lab.world.split_brain() == []


def test_protect_is_a_noop_when_everything_replicates(lab):
    start = len(lab.audit())
    run = lab.playbook(play("protect"), "-e", "@" + EXAMPLE)
    assert run.rc == 0, run.stdout + run.stderr
    assert changes(lab.audit()[start:]) == []


def test_unknown_engine_is_refused_before_any_change(lab):
    start = len(lab.audit())
    run = lab.playbook(play("failover", vars_={"workloads_engine": "vault"}))
    assert run.rc != 0
    # The entry point's argument spec refuses it (choices replica, asr) before any task runs.
    assert "workloads_engine must be one of: replica, asr, got: vault" in run.stdout
    assert changes(lab.audit()[start:]) == []
