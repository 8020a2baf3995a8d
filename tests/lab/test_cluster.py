"""The lab's failover cluster (lab/world/cluster.py, lab/cmdlets/cluster.py) on the stretch_cluster topology, driven with
the collection's real runner strings. The clock jumps (advance mode), so every simulated duration is exact."""

from __future__ import annotations

import datetime
import json
import re

import pytest
import yaml

from lab.audit import AuditLog
from lab.clock import Clock
from lab.runner_host import LabExecutor
from lab.world import TopologyError, World, topology
from lab.world import cluster as wc
from tests.lab.runner_harness import START, call
from tests.lab.runner_harness import run as run_batch

NODE = ["Name", "State", "NodeWeight", "DynamicWeight"]
GROUP = ["Name", "OwnerNode", "State"]
NOT_RUNNING = "ClusterEndpointNotRegistered,Microsoft.FailoverClusters.PowerShell.GetClusterNodeCommand"


@pytest.fixture(name="lab")
def lab_fixture(tmp_path):
    clock = Clock(scale=1e-6, start=START)
    audit = AuditLog(str(tmp_path / "audit.jsonl"))
    world = World.load("stretch_cluster", clock, audit)
    world.durations.mode = "advance"  # cmdlets that wait jump the clock instead of sleeping
    return LabExecutor(world, audit), world


def run(executor, host, calls):
    return json.loads(run_batch(executor, host, calls).stdout)


def ok(executor, host, calls):
    doc = run(executor, host, calls)
    assert doc["error"] is None, doc["error"]
    return doc["results"]


def err(executor, host, calls):
    doc = run(executor, host, calls)
    assert doc["error"] is not None, doc
    return doc["error"]


def states(executor, host="clu-sec-01"):
    return {n["Name"]: n["State"] for n in ok(executor, host, [call("Get-ClusterNode", {}, NODE)])[0]}


def groups(executor, host="clu-sec-01"):
    return {g["Name"]: (g["OwnerNode"], g["State"]) for g in ok(executor, host, [call("Get-ClusterGroup", {}, GROUP)])[0]}


def lose_primary_site(world):
    world.set_site_down("primary", True)
    world.clock.advance(wc.DETECTION_S)


def force_quorum(executor, node="clu-sec-01"):
    """Microsoft's procedure (vmm-cluster-sql-notes.md §B.3): Stop-ClusterNode, then Start-ClusterNode -FixQuorum."""
    return ok(executor, node, [call("Stop-ClusterNode", {"Name": node}, NODE), call("Start-ClusterNode", {"FixQuorum": True}, NODE)])


# ---- topology --------------------------------------------------------------------------------------
def test_stretch_topology_builds_nodes_roles_and_the_vmm_role_endpoint(lab):
    executor, world = lab
    cluster = world.clusters["drclu"]
    names = ["clu-pri-01", "clu-pri-02", "clu-sec-01", "clu-sec-02"]
    assert {n: world.host(n).role for n in cluster.nodes} == dict.fromkeys(names, "cluster_node")
    assert {n.name: n.site for n in cluster.nodes.values()} == {"clu-pri-01": "primary", "clu-pri-02": "primary",
                                                                "clu-sec-01": "secondary", "clu-sec-02": "secondary"}
    assert world.cluster_of("clu-sec-02.lab.test") is cluster and world.cluster_of("hv-pri-01") is None
    assert cluster.total_votes() == 5 and cluster.has_quorum() and not cluster.forced_quorum
    assert world.host("vmm-ha").role == "vmm" and world.host("vmm-ha").site == "primary"
    assert "vmm01" not in world.hosts and world.layout == "stretch_cluster" and world.engine == "replica"
    assert world.vmm_server.highly_available and world.vmm_server.active_node() == "clu-pri-01"
    assert world.vmm_server.service_answering(world.clock.now())  # the role has been online for days
    assert groups(executor) == {"Cluster Group": ("clu-pri-01", "Online"), "vmm-ha": ("clu-pri-01", "Online"),
                                "VMM-AG": ("clu-pri-01", "Online")}
    nodes = ok(executor, "clu-pri-02", [call("Get-ClusterNode", {"Name": ["clu-sec-01", "clu-pri-01"]}, NODE)])[0]
    assert nodes == [{"Name": "clu-sec-01", "State": "Up", "NodeWeight": 1, "DynamicWeight": 1},
                     {"Name": "clu-pri-01", "State": "Up", "NodeWeight": 1, "DynamicWeight": 1}]


@pytest.mark.parametrize("change, message", [
    (lambda d: d["clusters"]["drclu"]["nodes"].update({"hv-pri-01": {"site": "primary"}}), "has the name of another host"),
    (lambda d: d["clusters"]["drclu"]["nodes"]["clu-sec-01"].update(site="mars"), "needs a site of the topology"),
    (lambda d: d["clusters"]["drclu"]["groups"]["vmm-ha"].update(owner="hv-sec-01"), "is not a node of the cluster"),
    (lambda d: d["clusters"]["drclu"]["witness"].update(type="CloudWitness"), "witness type must be one of"),
    (lambda d: d["vmm"].update(cluster_role="nope"), "is not a role (group) of cluster 'drclu'"),
    (lambda d: d["vmm"].update(server_vm="sql01"), "not both"),
    (lambda d: d.update(site_recovery_layout="stretched"), "site_recovery_layout must be one of"),
])
def test_topology_refuses_inconsistent_clusters(change, message):
    with open(topology.resolve_path("stretch_cluster"), encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    change(data)
    with pytest.raises(TopologyError, match=re.escape(message)):
        topology.validate(data, "stretch_cluster")


def test_cluster_cmdlets_exist_on_cluster_nodes_only(lab):
    executor, dummy = lab
    error = err(executor, "hv-pri-01", [call("Get-ClusterNode", {}, NODE)])
    assert error["fqid"] == "CommandNotFoundException"
    # The VMM role's network name reaches the role's owner node (a client access point).
    assert ok(executor, "vmm-ha", [call("Get-Cluster", {}, ["Name", "FixQuorum", "DynamicQuorum"])])[0] == [
        {"Name": "drclu", "FixQuorum": 0, "DynamicQuorum": 0}]


# ---- losing the primary site ----------------------------------------------------------------------------
def test_primary_site_loss_takes_quorum_roles_and_vmm_after_detection(lab):
    executor, world = lab
    world.set_site_down("primary", True)
    # timings.md §7.4: the others notice a lost node 20 s later; until then the cluster runs (4 of 5 votes counted).
    world.clock.advance(wc.DETECTION_S - 1)
    assert states(executor)["clu-pri-01"] == "Up"
    assert not world.host_reachable("vmm-ha")  # the role's owner is gone at once
    world.clock.advance(1)
    error = err(executor, "clu-sec-01", [call("Get-ClusterNode", {}, NODE)])
    assert (error["fqid"], error["category"]) == (NOT_RUNNING, "ConnectionError")
    assert error["message"].startswith("The cluster service is not running.")
    cluster = world.clusters["drclu"]
    assert not cluster.has_quorum() and cluster.node_running("clu-sec-01") and not cluster.node_active("clu-sec-01")
    assert {g.name: g.state() for g in cluster.groups.values()} == dict.fromkeys(["Cluster Group", "vmm-ha", "VMM-AG"], "Offline")
    assert cluster.nodes["clu-sec-02"].state == "Joining" and cluster.nodes["clu-pri-01"].state == "Down"
    assert not world.vmm_server.service_answering(world.clock.now())
    world.clock.advance(3600)  # 2 of 5 votes: it waits for quorum, however long
    assert not cluster.has_quorum()
    events = [e for e in _audit(world) if e["kind"] == "cluster" and e.get("event") == "quorum-lost"]
    assert events and events[0]["votes"] == 2 and events[0]["total"] == 5


def _audit(world):
    with open(world.audit.path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_force_quorum_needs_a_stopped_service_and_then_runs_the_cluster_on_one_node(lab):
    executor, world = lab
    lose_primary_site(world)
    # The service is running (waiting for quorum): -ForceQuorum needs it stopped first (§B.3 force-quorum step 1).
    error = err(executor, "clu-sec-01", [call("Start-ClusterNode", {"fq": True}, NODE)])
    assert error["message"].endswith("An instance of the service is already running.")
    started = world.clock.now()
    stopped, forced = force_quorum(executor)
    assert stopped == [{"Name": "clu-sec-01", "State": "Down", "NodeWeight": 1, "DynamicWeight": 1}]
    assert forced[0]["State"] == "Up"  # without -Wait the cmdlet waited for the start (timings.md §7.4: 30 s)
    assert (world.clock.now() - started).total_seconds() == wc.NODE_START_S
    assert ok(executor, "clu-sec-01", [call("Get-Cluster", {}, ["FixQuorum"])])[0] == [{"FixQuorum": 1}]
    assert states(executor) == {"clu-pri-01": "Down", "clu-pri-02": "Down", "clu-sec-01": "Up", "clu-sec-02": "Joining"}
    # Roles come online on the first preferred owner that is up (persistent state), the witness resource fails, and the
    # availability group's role refuses to (lab/world/sqlag.py: after forced quorum the AG is failed over by hand).
    world.clock.advance(wc.GROUP_ONLINE_S)
    assert groups(executor) == {"Cluster Group": ("clu-sec-01", "Failed"), "vmm-ha": ("clu-sec-01", "Online"),
                                "VMM-AG": ("clu-sec-01", "Failed")}
    witness = ok(executor, "clu-sec-01", [call("Get-ClusterResource", {"Name": "File Share Witness"}, ["Name", "State", "OwnerGroup"])])
    assert witness[0] == [{"Name": "File Share Witness", "State": "Failed", "OwnerGroup": "Cluster Group"}]
    # The other surviving node joins normally (its service kept trying) - still forced: 2 of 5 votes.
    world.clock.advance(wc.NODE_START_S)
    assert states(executor, "clu-sec-02")["clu-sec-02"] == "Up"
    assert world.clusters["drclu"].forced_quorum
    # The VMM role's network name answers at the secondary site; its service needs its database writable too.
    assert world.host_reachable("vmm-ha") and world.host("vmm-ha").site == "secondary"
    world.clock.advance(180)
    assert not world.vmm_server.database_writable() and not world.vmm_server.service_answering(world.clock.now())
    # The runbook's next step (DESIGN.md): the AG's forced failover to the secondary site; then VMM answers.
    world.availability_groups["VMM-AG"].failover("clu-sec-01", True, world.clock.now())
    world.clock.advance(60)
    assert world.vmm_server.database_writable() and world.vmm_server.service_answering(world.clock.now())
    assert world.vmm_server.active_node() == "clu-sec-01" and groups(executor)["VMM-AG"] == ("clu-sec-01", "Online")


def test_returning_primary_nodes_rejoin_and_forced_quorum_ends_by_itself(lab):
    executor, world = lab
    lose_primary_site(world)
    force_quorum(executor)
    world.clock.advance(60)
    world.set_site_down("primary", False)
    # The witness answers again at once: 2 nodes + witness = 3 of 5, a real majority, so forced quorum ends (§B.3).
    assert ok(executor, "clu-sec-01", [call("Get-Cluster", {}, ["FixQuorum"])])[0] == [{"FixQuorum": 0}]
    assert states(executor)["clu-pri-01"] == "Joining"
    world.clock.advance(wc.NODE_START_S)
    assert set(states(executor).values()) == {"Up"}
    assert ok(executor, "clu-pri-01", [call("Get-ClusterQuorum", {}, ["Cluster", "QuorumResource", "QuorumType"])])[0] == [
        {"Cluster": "drclu", "QuorumResource": "File Share Witness", "QuorumType": "Majority"}]
    assert groups(executor, "clu-pri-01")["vmm-ha"] == ("clu-sec-01", "Online")  # no automatic failback
    assert groups(executor)["Cluster Group"] == ("clu-sec-01", "Online")  # the witness resource recovered


def test_losing_two_nodes_with_the_witness_up_keeps_quorum(lab):
    executor, world = lab
    world.set_host_down("clu-pri-01", True)
    world.set_host_down("clu-pri-02", True)
    cluster = world.clusters["drclu"]
    world.clock.advance(wc.DETECTION_S)
    # Two nodes lost, witness up: 2 + 1 = 3 of 5, still quorate.
    assert cluster.has_quorum() and not cluster.forced_quorum
    assert groups(executor)["vmm-ha"][0] == "clu-sec-01"  # the role failed over to its next preferred owner that is up


# ---- roles: move, start, stop, -Wait -------------------------------------------------------------------
def test_move_cluster_group_waits_for_offline_and_online_by_default(lab):
    executor, world = lab
    before = world.clock.now()
    moved = ok(executor, "clu-pri-01", [call("Move-ClusterGroup", {"Name": "vmm-ha", "Node": "clu-sec-02"}, GROUP)])[0]
    assert moved == [{"Name": "vmm-ha", "OwnerNode": "clu-sec-02", "State": "Online"}]
    # timings.md §7.4: the VMM role goes offline in 30 s, then online (INFERRED 10 s) on the target.
    assert (world.clock.now() - before).total_seconds() == 30 + wc.GROUP_ONLINE_S
    assert world.vmm_server.active_node() == "clu-sec-02" and not world.vmm_server.service_answering(world.clock.now())
    world.clock.advance(180)
    assert world.vmm_server.service_answering(world.clock.now())


def test_move_with_wait_zero_returns_pending_and_the_move_finishes_later(lab):
    executor, world = lab
    before = world.clock.now()
    moved = ok(executor, "clu-pri-01", [call("Move-ClusterGroup", {"Name": "VMM-AG", "Node": "clu-pri-02", "Wait": 0}, GROUP)])[0]
    assert moved == [{"Name": "VMM-AG", "OwnerNode": "clu-pri-01", "State": "Pending"}] and world.clock.now() == before
    world.clock.advance(wc.GROUP_OFFLINE_S + wc.GROUP_ONLINE_S)
    assert groups(executor)["VMM-AG"] == ("clu-pri-02", "Online")
    # -Wait n returns after n seconds even when the move has not finished.
    part = ok(executor, "clu-pri-01", [call("Move-ClusterGroup", {"Name": "VMM-AG", "Node": "clu-pri-01", "Wait": 3}, GROUP)])[0]
    assert part[0]["State"] == "Pending"


def test_move_refuses_nodes_that_cannot_host_the_role(lab):
    executor, world = lab
    world.set_host_down("clu-sec-02", True)
    world.clock.advance(wc.DETECTION_S)
    error = err(executor, "clu-pri-01", [call("Move-ClusterGroup", {"Name": "vmm-ha", "Node": "clu-sec-02"}, GROUP)])
    assert error["message"] == "An error occurred while moving the clustered role 'vmm-ha'.\nA cluster node is not available for this operation."
    assert error["fqid"] == "Move-ClusterGroup,Microsoft.FailoverClusters.PowerShell.MoveClusterGroupCommand"
    assert error["category"] == "NotSpecified"
    ok(executor, "clu-pri-01", [call("Suspend-ClusterNode", {"Name": "clu-sec-01"}, NODE)])
    error = err(executor, "clu-pri-01", [call("Move-ClusterGroup", {"Name": "vmm-ha", "Node": "clu-sec-01"}, GROUP)])
    assert error["message"].endswith("The cluster node is paused.")
    error = err(executor, "clu-pri-01", [call("Move-ClusterGroup", {"Name": "vmm-ha", "Node": "clu-xyz"}, GROUP)])
    assert error["message"].endswith("The cluster node was not found.")
    error = err(executor, "clu-pri-01", [call("Get-ClusterGroup", {"Name": "nope"}, GROUP)])
    assert error["fqid"].startswith("ClusterObjectNotFound,") and error["category"] == "ObjectNotFound"
    assert groups(executor, "clu-pri-01")["vmm-ha"] == ("clu-pri-01", "Online")  # nothing moved


def test_stop_and_start_group_change_its_state_and_vmm_follows(lab):
    executor, world = lab
    stopped = ok(executor, "clu-pri-02", [call("Stop-ClusterGroup", {"Name": "vmm-ha"}, GROUP)])[0]
    assert stopped == [{"Name": "vmm-ha", "OwnerNode": "clu-pri-01", "State": "Offline"}]
    assert not world.host_reachable("vmm-ha") and not world.vmm_server.service_answering(world.clock.now())
    started = ok(executor, "clu-pri-02", [call("Start-ClusterGroup", {"Name": "vmm-ha"}, GROUP)])[0]
    assert started == [{"Name": "vmm-ha", "OwnerNode": "clu-pri-01", "State": "Online"}]
    assert world.host_reachable("vmm-ha") and not world.vmm_server.service_answering(world.clock.now())
    world.clock.advance(180)
    assert world.vmm_server.service_answering(world.clock.now())
    # One resource offline: the role is PartialOnline (§B.1) and the VMM service stops answering.
    res = ok(executor, "clu-pri-02", [call("Stop-ClusterResource", {"Name": "SCVMM vmm-ha"}, ["Name", "State", "OwnerGroup"])])[0]
    assert res == [{"Name": "SCVMM vmm-ha", "State": "Offline", "OwnerGroup": "vmm-ha"}]
    assert groups(executor)["vmm-ha"] == ("clu-pri-01", "PartialOnline") and not world.vmm_server.service_answering(world.clock.now())


def test_owner_loss_fails_the_role_over_to_the_next_preferred_owner(lab):
    executor, world = lab
    world.set_host_down("clu-pri-01", True)
    world.clock.advance(wc.DETECTION_S)
    assert groups(executor)["vmm-ha"] == ("clu-pri-02", "Pending")
    world.clock.advance(wc.GROUP_ONLINE_S)
    assert groups(executor)["vmm-ha"] == ("clu-pri-02", "Online")
    assert ok(executor, "clu-sec-01", [call("Get-ClusterOwnerNode", {"Group": "vmm-ha"}, ["ClusterObject", "OwnerNodes"])])[0] == [
        {"ClusterObject": "vmm-ha", "OwnerNodes": ["clu-pri-01", "clu-pri-02", "clu-sec-01", "clu-sec-02"]}]


def test_drain_and_failback(lab):
    executor, world = lab
    paused = ok(executor, "clu-sec-01", [call("Suspend-ClusterNode", {"Name": "clu-pri-01", "Drain": True}, NODE)])[0]
    assert paused[0]["State"] == "Paused"
    world.clock.advance(60)
    assert groups(executor)["vmm-ha"] == ("clu-pri-02", "Online")
    ok(executor, "clu-sec-01", [call("Resume-ClusterNode", {"Name": "clu-pri-01", "Failback": "Immediate"}, NODE)])
    world.clock.advance(60)
    assert groups(executor)["vmm-ha"] == ("clu-pri-01", "Online") and states(executor)["clu-pri-01"] == "Up"


# ---- second hop and the quorum-lost fault -----------------------------------------------------------------------
def test_other_nodes_are_a_second_hop(lab):
    executor, world = lab
    denied = err(executor, "clu-sec-01", [call("Get-ClusterNode", {"Cluster": "clu-pri-01"}, NODE)])
    assert denied["message"].endswith("Access is denied") and denied["fqid"].startswith("ClusterAccessDenied,")
    assert ok(executor, "clu-sec-01", [call("Get-ClusterNode", {"Cluster": "clu-sec-01", "Name": "clu-sec-01"}, NODE)])[0][0]["State"] == "Up"
    world.set_host_down("clu-pri-01", True)
    gone = err(executor, "clu-sec-01", [call("Get-ClusterNode", {"Cluster": "clu-pri-01"}, NODE)])
    assert gone["fqid"].startswith("ClusterRpcConnection,") and gone["message"].endswith("The RPC server is unavailable")
    error = err(executor, "clu-sec-01", [call("Start-ClusterNode", {"Name": "clu-pri-02"}, NODE)])
    assert error["fqid"].startswith("ClusterAccessDenied,")  # "cannot be run remotely without CredSSP" (§B.3)


def test_quorum_lost_fault_keeps_hosts_up_and_clearing_it_reforms_the_cluster(lab):
    executor, world = lab
    cluster = world.clusters["drclu"]
    cluster.set_quorum_lost(True)
    world.clock.advance(wc.DETECTION_S)
    assert not cluster.has_quorum() and all(world.host_reachable(n) for n in cluster.nodes)
    assert err(executor, "clu-pri-01", [call("Get-ClusterNode", {}, NODE)])["fqid"] == NOT_RUNNING
    # The primary nodes answer (their service crashed, the host did not): no cluster endpoint there, but not unreachable.
    assert err(executor, "clu-sec-01", [call("Get-ClusterNode", {"Cluster": "clu-pri-01"}, NODE)])["fqid"] == NOT_RUNNING
    cluster.set_quorum_lost(False)
    # The witness is back: the waiting secondary nodes have 3 of 5 votes and form the cluster; the others join later.
    assert cluster.has_quorum() and not cluster.forced_quorum
    world.clock.advance(wc.NODE_START_S)
    assert set(states(executor).values()) == {"Up"}
    world.clock.advance(wc.GROUP_ONLINE_S)
    assert groups(executor)["vmm-ha"][1] == "Online"


def test_start_cluster_node_without_quorum_returns_joining(lab):
    executor, world = lab
    lose_primary_site(world)
    stopped_at = world.clock.now()
    node = ok(executor, "clu-sec-02", [call("Stop-ClusterNode", {}, NODE), call("Start-ClusterNode", {}, NODE)])[1]
    assert node == [{"Name": "clu-sec-02", "State": "Joining", "NodeWeight": 1, "DynamicWeight": 1}]
    assert world.clock.now() - stopped_at == datetime.timedelta(seconds=wc.NODE_START_S)
    assert not world.clusters["drclu"].has_quorum()
    assert ok(executor, "clu-sec-02", [call("Stop-ClusterNode", {"WhatIf": True}, NODE)])[0] == []
    assert world.clusters["drclu"].node_state("clu-sec-02") == "Joining"  # -WhatIf stopped nothing
