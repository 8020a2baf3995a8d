"""The vmm_stretch_cluster role against the stretch_cluster lab: split-brain refusal, the unplanned failover (its
data-loss opt-in, forced quorum, forced AG failover, VMM role at the secondary site, VMM verified; re-run a no-op;
check mode), the failback to the original primaries, and the planned failover round trip."""

from __future__ import annotations


LAB_TOPOLOGY = "stretch_cluster"  # conftest's fresh_lab: a lab of this topology per test
AG = "VMM-AG"
DB = "VirtualManagerDB"
ROLE = "vmm-ha"
PRIMARY_NODES = ("clu-pri-01", "clu-pri-02")
SECONDARY_NODES = ("clu-sec-01", "clu-sec-02")
OPT_INS = ("-e", "vmm_stretch_cluster_allow_forced_quorum=true", "-e", "vmm_stretch_cluster_allow_data_loss=true")

# Cmdlets that change the cluster, the availability group or VMM (reads are Get-*, Invoke-Sqlcmd SELECTs).
CHANGING = {"Stop-ClusterNode", "Start-ClusterNode", "Move-ClusterGroup", "Start-ClusterGroup", "Stop-ClusterGroup",
            "Start-ClusterResource", "Stop-ClusterResource", "Suspend-ClusterNode", "Resume-ClusterNode",
            "Switch-SqlAvailabilityGroup", "Resume-SqlAvailabilityDatabase", "Suspend-SqlAvailabilityDatabase",
            "Set-SqlAvailabilityReplica", "Read-SCVirtualMachine", "Start-SCVirtualMachine", "Stop-SCVirtualMachine"}

PLAY = """
- name: vmm_stretch_cluster {entries}
  hosts: localhost
  gather_facts: false
  vars:
    vmm_stretch_cluster_wait_delay: 1
  tasks:
{tasks}
    - name: evidence
      ansible.builtin.debug:
        var: site_recovery_evidence
"""
TASK = """    - name: {entry}
      ansible.builtin.include_role:
        name: site_recovery.hyperv.vmm_stretch_cluster
        tasks_from: {entry}
"""


def play(*entries: str) -> str:
    return PLAY.format(entries=" ".join(entries), tasks="".join(TASK.format(entry=e) for e in entries))


def state(lab) -> dict:
    """What the lab shows of the management plane: quorum, the AG's primary and modes, the VMM role, VMM's service."""
    status = lab.service.status()
    cluster = status["clusters"][0]
    ag = status["availability_groups"][0]
    role = next(g for g in cluster["groups"] if g["name"] == ROLE)
    return {
        "quorum": cluster["has_quorum"], "forced": cluster["forced_quorum"],
        "nodes": {n["name"]: n["state"] for n in cluster["nodes"]},
        "ag_primary": ag["primary"],
        "modes": {r["server"]: (r["availability_mode"], r["failover_mode"]) for r in ag["replicas"]},
        "copies": {(r["server"], db): (c["state"], c["suspended"]) for r in ag["replicas"] for db, c in r["databases"].items()},
        "role": (role["owner"], role["state"]),
        "vmm": (status["vmm"]["host"], status["vmm"]["service"]),
    }


def changing_calls(lab, since):
    return [(e["host"], e["cmdlet"]) for e in lab.audit()[since:] if e["kind"] == "cmdlet" and e["cmdlet"] in CHANGING and e["outcome"] == "ok"]


def first_ok(entries, cmdlet, host, **params):
    """Index of the first successful call of that cmdlet on that host (with those parameters)."""
    return next(i for i, e in enumerate(entries) if e["kind"] == "cmdlet" and e["cmdlet"] == cmdlet and e["outcome"] == "ok"
                and e["host"] == host and all(e["params"].get(k) == v for k, v in params.items()))


def evidence(run):
    return run.results("evidence")["localhost"]["site_recovery_evidence"]


def outcomes(run):
    return {r["step"].split(".", 1)[1]: r["outcome"] for r in evidence(run)}


def changed_tasks(run):
    return [(r["task"], r["host"]) for r in run.records if r["result"].get("changed")]


def lose_primary_site(lab):
    """The primary site goes down, and the surviving nodes notice (the cluster stops: no quorum)."""
    lab.service.apply_fault({"kind": "site-down", "site": "primary"})
    lab.service.clock.advance(60)
    assert state(lab)["quorum"] is False


def failover(lab):
    lose_primary_site(lab)
    run = lab.playbook(play("preflight", "failover"), *OPT_INS)
    assert run.rc == 0, run.stdout[-6000:]
    return run


def test_split_brain_refused_with_the_primary_site_up(fresh_lab):
    lab = fresh_lab
    before, audit_start = state(lab), len(lab.audit())
    run = lab.playbook(play("preflight", "failover"), *OPT_INS)
    assert run.rc != 0
    assert "Split brain refused" in run.stdout and "vmm_stretch_cluster_force=true" in run.stdout, run.stdout[-4000:]
    assert "the VMM role vmm-ha is Online on clu-pri-01" in run.stdout
    assert state(lab) == before
    assert changing_calls(lab, audit_start) == []
    # The failed preflight is recorded as such, after the records of what it read.
    steps = [(r["step"], r["outcome"]) for r in evidence_of_failure(run)]
    assert steps == [("vmm_stretch_cluster.preflight.inventory", "ok"), ("vmm_stretch_cluster.preflight.cluster", "ok"),
                     ("vmm_stretch_cluster.preflight.ag", "ok"), ("vmm_stretch_cluster.preflight.decision", "failed")], steps


def test_quorum_lost_with_primary_nodes_answering_is_not_forced_even_with_force(fresh_lab):
    lab = fresh_lab
    lab.service.apply_fault({"kind": "quorum-lost", "cluster": "drclu"})
    audit_start = len(lab.audit())
    run = lab.playbook(play("failover"), *OPT_INS, "-e", "vmm_stretch_cluster_force=true")
    assert run.rc != 0
    assert "quorum cannot be forced there while clu-pri-01, clu-pri-02 answer" in run.stdout, run.stdout[-4000:]
    assert changing_calls(lab, audit_start) == []
    assert state(lab)["quorum"] is False


def test_failover_without_the_data_loss_opt_in_stops_before_any_change(fresh_lab):
    lab = fresh_lab
    lose_primary_site(lab)
    before, audit_start = state(lab), len(lab.audit())
    run = lab.playbook(play("preflight", "failover"), "-e", "vmm_stretch_cluster_allow_forced_quorum=true")
    assert run.rc != 0
    records = evidence_of_failure(run)
    gate = records[-1]
    assert (gate["step"], gate["outcome"]) == ("vmm_stretch_cluster.failover.gate", "failed")
    # What is at stake: each database, the DR copy's last commit (the lab's own value), and the variable to set.
    dr = next(r for r in lab.service.status()["availability_groups"][0]["replicas"] if r["server"] == "clu-sec-01")
    for db in (DB, "SUSDB"):
        assert db in gate["detail"]
        assert dr["databases"][db]["last_commit"][:19] in gate["detail"], gate["detail"]
    assert "vmm_stretch_cluster_allow_data_loss=true" in gate["detail"]
    assert "Nothing was changed" in gate["detail"]
    # Nothing irreversible happened: no quorum forced, the AG untouched.
    assert changing_calls(lab, audit_start) == []
    assert state(lab) == before
    assert lab.world.availability_groups[AG].primary == "clu-pri-01"


def evidence_of_failure(run):
    """The evidence of a failed run (its evidence task did not run): the last value the role's set_fact gave it."""
    facts = [r["result"]["ansible_facts"]["site_recovery_evidence"] for r in run.records
             if "site_recovery_evidence" in r["result"].get("ansible_facts", {})]
    assert facts, run.stdout[-4000:]
    return facts[-1]


def test_unplanned_failover_brings_vmm_up_at_the_secondary_site_and_reruns_as_noop(fresh_lab):
    lab = fresh_lab
    lose_primary_site(lab)
    audit_start = len(lab.audit())
    run = lab.playbook(play("preflight", "failover"), *OPT_INS)
    assert run.rc == 0, run.stdout[-6000:]
    end = state(lab)
    assert end["quorum"] and end["forced"]
    assert end["nodes"] == {"clu-pri-01": "Down", "clu-pri-02": "Down", "clu-sec-01": "Up", "clu-sec-02": "Up"}
    assert end["ag_primary"] == "clu-sec-01"
    assert end["role"][0] in SECONDARY_NODES and end["role"][1] == "Online"
    assert end["vmm"] == (end["role"][0], "Running")
    assert lab.world.vmm_server.database_writable()

    # Order in the audit log: quorum forced, then the forced AG failover, then VMM answers.
    entries = lab.audit()[audit_start:]
    order = [first_ok(entries, "Start-ClusterNode", "clu-sec-01", ForceQuorum=True),
             first_ok(entries, "Switch-SqlAvailabilityGroup", "clu-sec-01", AllowDataLoss=True),
             next(i for i, e in enumerate(entries) if e["kind"] == "cmdlet" and e["cmdlet"] == "Get-SCVMMServer" and e["outcome"] == "ok")]
    assert order == sorted(order) and len(set(order)) == 3, order

    steps = outcomes(run)
    assert [steps[s] for s in ("preflight.decision", "failover.gate", "failover.quorum", "failover.ag", "failover.wait_vmm")] == [
        "ok", "ok", "changed", "changed", "ok"], steps
    records = evidence(run)
    assert all(set(r) == {"step", "host", "vms", "start", "end", "outcome", "recovery_point", "detail"} for r in records)
    assert all(a["end"] <= b["start"] for a, b in zip(records, records[1:]))
    assert "forced failover to CLU-SEC-01" in next(r for r in records if r["step"] == "vmm_stretch_cluster.failover.ag")["detail"]

    # Re-run: every step is found done, nothing changes (and the opt-ins are not needed any more).
    audit_start = len(lab.audit())
    rerun = lab.playbook(play("preflight", "failover"))
    assert rerun.rc == 0, rerun.stdout[-4000:]
    assert changed_tasks(rerun) == [] and changing_calls(lab, audit_start) == []
    steps = outcomes(rerun)
    assert [steps[s] for s in ("failover.quorum", "failover.join", "failover.ag", "failover.vmm_role", "failover.refresh_vmm")] == [
        "skipped", "skipped", "skipped", "ok", "skipped"], steps
    assert state(lab) == end

    # Check mode after the failover: the same answer, nothing changed.
    checked = lab.playbook(play("preflight", "failover"), check=True)
    assert checked.rc == 0, checked.stdout[-4000:]
    assert changed_tasks(checked) == [] and changing_calls(lab, audit_start) == []


def test_check_mode_shows_the_first_step_and_changes_nothing(fresh_lab):
    lab = fresh_lab
    lose_primary_site(lab)
    before, audit_start = state(lab), len(lab.audit())
    run = lab.playbook(play("preflight", "failover"), *OPT_INS, check=True)
    assert run.rc == 0, run.stdout[-4000:]
    assert state(lab) == before
    assert changing_calls(lab, audit_start) == []
    steps = outcomes(run)
    assert steps["failover.quorum"] == "changed"  # what a real run would do first
    assert {steps[s] for s in ("failover.join", "failover.ag", "failover.vmm_role", "failover.wait_vmm", "failover.refresh_vmm")} == {"skipped"}


def test_failback_restores_the_original_primaries(fresh_lab):
    lab = fresh_lab
    failover(lab)
    # While the primary site is down there is nothing to fail back to.
    audit_start = len(lab.audit())
    early = lab.playbook(play("failback"), "-e", "vmm_stretch_cluster_allow_data_loss=true")
    assert early.rc != 0 and "needs both sites up" in early.stdout and "clu-pri-01 does not answer over WinRM" in early.stdout, early.stdout[-3000:]
    assert changing_calls(lab, audit_start) == []
    lab.service.apply_fault({"kind": "site-down", "site": "primary", "clear": True})

    # Check mode: nothing changes.
    before, audit_start = state(lab), len(lab.audit())
    checked = lab.playbook(play("failback"), "-e", "vmm_stretch_cluster_allow_data_loss=true", check=True)
    assert checked.rc == 0, checked.stdout[-4000:]
    assert changing_calls(lab, audit_start) == []
    assert outcomes(checked)["failback.ag"] == "skipped"

    # The old primary's copies were suspended by the forced failover: resuming them needs the opt-in.
    audit_start = len(lab.audit())
    refused = lab.playbook(play("failback"))
    assert refused.rc != 0
    assert "SUSPEND_FROM_PARTNER" in refused.stdout and "vmm_stretch_cluster_allow_data_loss=true" in refused.stdout
    assert changing_calls(lab, audit_start) == []
    assert evidence_of_failure(refused)[-1]["step"] == "vmm_stretch_cluster.failback.resume"

    run = lab.playbook(play("failback"), "-e", "vmm_stretch_cluster_allow_data_loss=true")
    assert run.rc == 0, run.stdout[-6000:]
    end = state(lab)
    assert end["quorum"] and not end["forced"]
    assert set(end["nodes"].values()) == {"Up"}
    assert end["ag_primary"] == "clu-pri-01"
    assert end["role"] == ("clu-pri-01", "Online") and end["vmm"] == ("clu-pri-01", "Running")
    assert end["modes"] == before_modes()
    # Every copy moves data again: the synchronous partner is SYNCHRONIZED, nothing is suspended.
    assert all(suspended is None for dummy, suspended in end["copies"].values()), end["copies"]
    assert end["copies"][("clu-pri-02", DB)][0] == "SYNCHRONIZED"
    assert end["copies"][("clu-sec-01", DB)][0] in ("SYNCHRONIZING", "SYNCHRONIZED")
    steps = outcomes(run)
    for step in ("sync_mode", "resume", "wait_sync", "ag", "vmm_role", "restore_modes"):
        assert steps["failback." + step] in ("changed", "ok"), (step, steps)
    entries = lab.audit()[audit_start:]
    # A planned failover back (no -AllowDataLoss), after the resumes, before the VMM role moves home.
    back = first_ok(entries, "Switch-SqlAvailabilityGroup", "clu-pri-01")
    assert "AllowDataLoss" not in entries[back]["params"]
    assert first_ok(entries, "Resume-SqlAvailabilityDatabase", "clu-pri-01") < back < first_ok(entries, "Move-ClusterGroup", "clu-pri-01")

    audit_start = len(lab.audit())
    rerun = lab.playbook(play("failback"))
    assert rerun.rc == 0, rerun.stdout[-4000:]
    assert changed_tasks(rerun) == [] and changing_calls(lab, audit_start) == []


def before_modes():
    """The topology's availability and failover modes (lab/topologies/stretch_cluster.yml)."""
    return {"clu-pri-01": ("SYNCHRONOUS_COMMIT", "AUTOMATIC"), "clu-pri-02": ("SYNCHRONOUS_COMMIT", "AUTOMATIC"),
            "clu-sec-01": ("ASYNCHRONOUS_COMMIT", "MANUAL")}


def test_planned_failover_and_failback_round_trip(fresh_lab):
    lab = fresh_lab
    assert state(lab)["modes"] == before_modes()
    audit_start = len(lab.audit())
    run = lab.playbook(play("failover_planned"))
    assert run.rc == 0, run.stdout[-6000:]
    end = state(lab)
    assert end["ag_primary"] == "clu-sec-01"
    assert end["role"][0] in SECONDARY_NODES and end["role"][1] == "Online" and end["vmm"] == (end["role"][0], "Running")
    assert end["modes"]["clu-sec-01"][0] == "SYNCHRONOUS_COMMIT"
    # No data lost: a planned failover, the old primary a SYNCHRONIZED secondary, nothing suspended.
    entries = lab.audit()[audit_start:]
    switch = first_ok(entries, "Switch-SqlAvailabilityGroup", "clu-sec-01")
    assert "AllowDataLoss" not in entries[switch]["params"]
    assert first_ok(entries, "Set-SqlAvailabilityReplica", "clu-pri-01") < switch
    assert end["copies"][("clu-pri-01", DB)] == ("SYNCHRONIZED", None)
    assert all(suspended is None for dummy, suspended in end["copies"].values())
    assert not end["forced"] and set(end["nodes"].values()) == {"Up"}

    audit_start = len(lab.audit())
    rerun = lab.playbook(play("failover_planned"))
    assert rerun.rc == 0, rerun.stdout[-4000:]
    assert changed_tasks(rerun) == [] and changing_calls(lab, audit_start) == []

    back = lab.playbook(play("failback"))
    assert back.rc == 0, back.stdout[-6000:]
    home = state(lab)
    assert home["ag_primary"] == "clu-pri-01" and home["role"] == ("clu-pri-01", "Online") and home["vmm"] == ("clu-pri-01", "Running")
    assert home["modes"] == before_modes()
    assert all(suspended is None for dummy, suspended in home["copies"].values())


def test_failover_with_ignore_persistent_state_brings_the_vmm_role_online_after_its_database(fresh_lab):
    """Forced quorum with -IgnorePersistentState keeps the roles offline; the role starts VMM's once the AG is primary."""
    lab = fresh_lab
    lose_primary_site(lab)
    audit_start = len(lab.audit())
    run = lab.playbook(play("failover"), *OPT_INS, "-e", "vmm_stretch_cluster_ignore_persistent_state=true")
    assert run.rc == 0, run.stdout[-6000:]
    entries = lab.audit()[audit_start:]
    forced = first_ok(entries, "Start-ClusterNode", "clu-sec-01", ForceQuorum=True, IgnorePersistentState=True)
    switch = first_ok(entries, "Switch-SqlAvailabilityGroup", "clu-sec-01", AllowDataLoss=True)
    start = first_ok(entries, "Start-ClusterGroup", "clu-sec-01")
    assert forced < switch < start
    assert outcomes(run)["failover.vmm_role"] == "changed"
    end = state(lab)
    assert end["ag_primary"] == "clu-sec-01" and end["role"][1] == "Online" and end["vmm"] == (end["role"][0], "Running")
