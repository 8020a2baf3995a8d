"""The runbook playbooks on the stretch_cluster topology, layout picked from the inventory: with the primary site cut off,
failover_unplanned stops before the forced AG failover without the data-loss opt-in, then (opted in) brings VMM and then
the workloads up at the secondary site; failback restores the original primaries."""

from __future__ import annotations

import json

from test_crash_resume import FastClock, SplitBrainWatch, relationships

LAB_TOPOLOGY = "stretch_cluster"
QUORUM = ("-e", "vmm_stretch_cluster_allow_forced_quorum=true")
DATA_LOSS = ("-e", "vmm_stretch_cluster_allow_data_loss=true")
CHANGING = {"Start-VMFailover", "Complete-VMFailover", "Set-VMReplication", "Start-VM", "Stop-VM", "Start-ClusterNode",
            "Stop-ClusterNode", "Move-ClusterGroup", "Start-ClusterGroup", "Switch-SqlAvailabilityGroup", "Resume-SqlAvailabilityDatabase"}


def plane(lab):
    status = lab.service.status()
    ag = status["availability_groups"][0]
    role = next(g for g in status["clusters"][0]["groups"] if g["name"] == "vmm-ha")
    return ag["primary"], role["owner"], status["vmm"]["service"]


def at(world, vm_name, site):
    rel = next(r for r in world.replications() if r.vm_name == vm_name)
    host = next(h for h in (rel.primary_host, rel.replica_host) if world.host(h).site == site)
    return world.vm(host, vm_name).state, rel.mode_on(host)


def changes(entries):
    return [e for e in entries if e.get("kind") == "cmdlet" and e.get("cmdlet") in CHANGING and e.get("outcome") == "ok"]


def test_failover_without_the_data_loss_opt_in_stops_before_the_forced_ag_failover(lab):
    lab.service.apply_fault({"kind": "site-down", "site": "primary"})
    lab.service.clock.advance(60)
    before = plane(lab)
    since = len(lab.audit())
    run = lab.playbook("site_recovery.hyperv.failover_unplanned", *QUORUM)
    assert run.rc != 0
    assert "vmm_stretch_cluster_allow_data_loss" in run.stdout and "VirtualManagerDB" in run.stdout, run.stdout[-3000:]
    # Nothing irreversible: the AG was not forced over, no workload VM was touched.
    assert not [e for e in changes(lab.audit()[since:]) if e["cmdlet"] in ("Switch-SqlAvailabilityGroup", "Start-VMFailover")]
    assert plane(lab)[0] == before[0]


def test_failover_brings_vmm_then_the_workloads_up_at_the_secondary_site(lab):
    since = len(lab.audit())
    with SplitBrainWatch(lab.world) as watch:
        run = lab.playbook("site_recovery.hyperv.failover_unplanned", *QUORUM, *DATA_LOSS)
    assert run.rc == 0, run.stdout[-6000:]
    assert watch.seen == []
    ag_primary, role_owner, service = plane(lab)
    assert ag_primary == "clu-sec-01" and role_owner.startswith("clu-sec") and service == "Running"
    for name in relationships(lab.world):
        assert at(lab.world, name, "secondary")[0] == "Running", name
    # Runbook order: the AG moved and VMM answered before the first workload VM failed over.
    entries = changes(lab.audit()[since:])
    switch = next(i for i, e in enumerate(entries) if e["cmdlet"] == "Switch-SqlAvailabilityGroup")
    first_vm = next(i for i, e in enumerate(entries) if e["cmdlet"] == "Start-VMFailover")
    assert switch < first_vm
    assert json.dumps(entries[switch]["params"]).find("AllowDataLoss") >= 0


def test_failback_restores_the_original_primaries(lab):
    lab.service.apply_fault({"kind": "site-down", "site": "primary", "clear": True})
    with FastClock(lab.world), SplitBrainWatch(lab.world) as watch:
        run = lab.playbook("site_recovery.hyperv.failback", *DATA_LOSS)
    assert run.rc == 0, run.stdout[-6000:]
    assert watch.seen == []
    ag_primary, role_owner, service = plane(lab)
    assert (ag_primary, role_owner, service) == ("clu-pri-01", "clu-pri-01", "Running")
    for name in relationships(lab.world):
        assert at(lab.world, name, "primary") == ("Running", "Primary"), name
        assert at(lab.world, name, "secondary") == ("Off", "Replica"), name
