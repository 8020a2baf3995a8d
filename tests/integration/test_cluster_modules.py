"""cluster_info, cluster_group and cluster_quorum against the stretch_cluster lab, over real WinRM.

The tests run in order on one lab (module scope): a healthy cluster, a role moved between sites, quorum lost while
the primary nodes still answer (forcing refused), then the primary site lost (quorum forced at the secondary site),
and the primary site back (nodes rejoin, forced quorum ends, the role moves home).
"""

from __future__ import annotations

import json
import time

import yaml

from lab.world import cluster as wc

LAB_TOPOLOGY = "stretch_cluster"
PRIMARY = ["clu-pri-01", "clu-pri-02"]

PLAY = """
- hosts: {hosts}
  gather_facts: false
  tasks:
    - name: task
      site_recovery.hyperv.{module}: {args}
"""


def run(lab, module, args, *extra, hosts="clu-sec-01", **kwargs):
    return lab.playbook(PLAY.format(hosts=hosts, module=module, args=json.dumps(args)), *extra, **kwargs)


def result_of(run_, host="clu-sec-01"):
    return run_.results("task")[host]


def cluster_calls(lab, since, host=None):
    return [e for e in lab.audit()[since:] if e["kind"] == "cmdlet" and "Cluster" in e["cmdlet"] and host in (None, e["host"])]


def wait_for(predicate, what, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def drclu(lab):
    return lab.world.clusters["drclu"]


def test_inventory_describes_the_stretch_layout(lab):
    with open(lab.inventory, encoding="utf-8") as f:
        inv = yaml.safe_load(f)["all"]
    groups = inv["children"]
    assert sorted(groups["cluster_nodes"]["hosts"]) == ["clu-pri-01", "clu-pri-02", "clu-sec-01", "clu-sec-02"]
    assert sorted(groups["cluster_primary_nodes"]["hosts"]) == PRIMARY
    assert sorted(groups["cluster_secondary_nodes"]["hosts"]) == ["clu-sec-01", "clu-sec-02"]
    assert sorted(groups["vmm_servers"]["hosts"]) == ["vmm-ha"]
    assert sorted(groups["primary_site"]["hosts"]) == ["hv-pri-01", "hv-pri-02", "hv-pri-03"]  # Hyper-V hosts only
    assert len(groups["hyperv_hosts"]["hosts"]) == 6
    node = groups["cluster_nodes"]["hosts"]["clu-sec-02"]
    assert (node["site_recovery_site"], node["site_recovery_cluster"]) == ("secondary", "drclu")
    assert {k: inv["vars"][k] for k in ("site_recovery_layout", "site_recovery_engine", "site_recovery_cluster",
                                        "site_recovery_vmm_server", "site_recovery_vmm_role")} == {
        "site_recovery_layout": "stretch_cluster", "site_recovery_engine": "replica", "site_recovery_cluster": "drclu",
        "site_recovery_vmm_server": "vmm-ha", "site_recovery_vmm_role": "vmm-ha"}


def test_cluster_info_reports_nodes_sites_roles_and_quorum(lab):
    before = len(lab.audit())
    r = run(lab, "cluster_info", {"probe_nodes": ["clu-pri-01", "clu-sec-01"]})
    assert r.rc == 0, r.stdout + r.stderr
    res = result_of(r)
    assert res["changed"] is False
    assert res["cluster"]["name"] == "drclu" and res["cluster"]["forced_quorum"] is False
    assert {n["name"]: (n["site"], n["state"]) for n in res["nodes"]} == {
        n.name: (n.site, "Up") for n in drclu(lab).nodes.values()}
    assert res["node"] == {"name": "clu-sec-01", "state": "Up", "site": "secondary", "member": True, "cluster_service": "answering",
                           "reason": None}
    roles = {g["name"]: g for g in res["groups"]}
    assert (roles["vmm-ha"]["owner_node"], roles["vmm-ha"]["state"]) == ("clu-pri-01", "Online")
    assert roles["vmm-ha"]["preferred_owners"] == ["clu-pri-01", "clu-pri-02", "clu-sec-01", "clu-sec-02"]
    assert {r_["name"] for r_ in roles["vmm-ha"]["resources"]} == {"vmm-ha", "vmm-ha IP Address", "SCVMM vmm-ha"}
    assert res["quorum"]["has_quorum"] is True and res["quorum"]["votes"] == {"total": 5, "present": 5, "needed": 3}
    assert (res["quorum"]["witness"], res["quorum"]["witness_state"]) == ("File Share Witness", "Online")
    # The running primary node answers the probe (it refuses the undelegated second hop); the task's own node is skipped.
    assert [(p["node"], p["answered"], p["result"]) for p in res["probes"]] == [("clu-pri-01", True, "denied")]
    assert {c["cmdlet"] for c in cluster_calls(lab, before)} == {"Get-Cluster", "Get-ClusterNode", "Get-ClusterGroup",
                                                                 "Get-ClusterResource", "Get-ClusterQuorum", "Get-ClusterOwnerNode"}


def test_cluster_group_moves_the_vmm_role_to_a_site_idempotently(lab):
    args = {"name": "vmm-ha", "site": "secondary"}
    before = len(lab.audit())
    check = result_of(run(lab, "cluster_group", args, "--diff", check=True))
    assert check["changed"] is True and check["group_after"]["owner_node"] == "clu-sec-01"
    assert check["diff"] == {"before": {"owner_node": "clu-pri-01", "state": "Online"},
                             "after": {"owner_node": "clu-sec-01", "state": "Online"}}
    assert drclu(lab).groups["vmm-ha"].owner == "clu-pri-01"
    assert not [c for c in cluster_calls(lab, before) if not c["cmdlet"].startswith("Get-")]
    res = result_of(run(lab, "cluster_group", args))
    assert res["changed"] is True, res
    assert res["actions"] == ["Move-ClusterGroup -Name 'vmm-ha' -Node clu-sec-01"]
    assert (res["group_after"]["owner_node"], res["group_after"]["state"]) == ("clu-sec-01", "Online")
    assert drclu(lab).groups["vmm-ha"].owner == "clu-sec-01" and lab.world.vmm_server.active_node() == "clu-sec-01"
    again = result_of(run(lab, "cluster_group", args))
    assert again["changed"] is False and "already Online on clu-sec-01" in again["msg"]
    unknown = run(lab, "cluster_group", {"name": "vmm-ha", "node": "clu-xyz"})
    assert unknown.rc == 2 and "node 'clu-xyz' is not a node of the cluster" in result_of(unknown)["msg"]
    home = result_of(run(lab, "cluster_group", {"name": "vmm-ha", "node": "clu-pri-01"}))
    assert home["changed"] is True and drclu(lab).groups["vmm-ha"].owner == "clu-pri-01"


def test_forcing_quorum_is_refused_while_the_primary_nodes_answer(lab):
    lab.service.apply_fault({"kind": "quorum-lost", "cluster": "drclu"})
    try:
        lab.service.clock.advance(wc.DETECTION_S)
        assert not drclu(lab).has_quorum()
        info = result_of(run(lab, "cluster_info", {"probe_nodes": PRIMARY}))
        assert info["quorum"]["has_quorum"] is False and info["node"]["cluster_service"] == "not_answering"
        assert info["nodes"] == [] and info["node"]["state"] is None
        assert [(p["node"], p["answered"], p["result"]) for p in info["probes"]] == [
            ("clu-pri-01", True, "service_not_running"), ("clu-pri-02", True, "service_not_running")]
        group = run(lab, "cluster_group", {"name": "vmm-ha", "site": "secondary"})
        assert group.rc == 2 and "force quorum first with site_recovery.hyperv.cluster_quorum" in result_of(group)["msg"]
        no_opt_in = run(lab, "cluster_quorum", {"state": "forced", "lost_nodes": PRIMARY})
        assert no_opt_in.rc == 2 and "Set allow_forced_quorum: true" in result_of(no_opt_in)["msg"]
        before = len(lab.audit())
        refused = run(lab, "cluster_quorum", {"state": "forced", "allow_forced_quorum": True, "lost_nodes": PRIMARY})
        assert refused.rc == 2
        res = result_of(refused)
        assert "refusing to force quorum: node clu-pri-01 answers" in res["msg"] and "split brain" in res["msg"]
        assert [c["cmdlet"] for c in cluster_calls(lab, before)] == ["Get-Cluster", "Get-ClusterNode", "Get-ClusterNode"]
        assert not drclu(lab).has_quorum() and not drclu(lab).forced_quorum
    finally:
        lab.service.apply_fault({"kind": "quorum-lost", "cluster": "drclu", "clear": True})
    lab.service.clock.advance(wc.NODE_START_S + wc.GROUP_ONLINE_S)
    wait_for(lambda: all(drclu(lab).node_state(n) == "Up" for n in drclu(lab).nodes), "the cluster to re-form")


def test_primary_site_loss_then_forced_quorum_at_the_secondary_site(lab):
    lab.service.apply_fault({"kind": "site-down", "site": "primary"})
    lab.service.clock.advance(wc.DETECTION_S)
    assert not drclu(lab).has_quorum()
    forced = {"state": "forced", "allow_forced_quorum": True, "lost_nodes": PRIMARY}
    before = len(lab.audit())
    check = result_of(run(lab, "cluster_quorum", forced, "--diff", check=True))
    assert check["changed"] is True and check["action"] == "forced" and check["after"]["forced_quorum"] is True
    assert check["diff"]["before"] == {"answering": False, "state": None, "forced_quorum": False}
    assert not [c for c in cluster_calls(lab, before) if c["cmdlet"] in ("Stop-ClusterNode", "Start-ClusterNode")]
    assert not drclu(lab).has_quorum()
    res = result_of(run(lab, "cluster_quorum", forced))
    assert res["changed"] is True and res["action"] == "forced", res
    assert [(p["node"], p["result"]) for p in res["probes"]] == [("clu-pri-01", "unreachable"), ("clu-pri-02", "unreachable")]
    assert res["after"]["state"] == "Up" and res["after"]["forced_quorum"] is True
    starts = [c for c in cluster_calls(lab, before, "clu-sec-01") if c["cmdlet"] in ("Stop-ClusterNode", "Start-ClusterNode")]
    assert [(c["cmdlet"], c["params"].get("ForceQuorum")) for c in starts] == [("Stop-ClusterNode", None), ("Start-ClusterNode", True)]
    assert drclu(lab).forced_quorum and drclu(lab).node_state("clu-sec-01") == "Up"
    again = result_of(run(lab, "cluster_quorum", forced))
    assert again["changed"] is False and again["action"] == "none" and "forced-quorum mode" in again["msg"]
    # The other surviving node: its service had stopped; started normally, it joins the forced cluster.
    with lab.world.lock:
        drclu(lab).stop_node(drclu(lab).nodes["clu-sec-02"], lab.world.clock.now())
    joined = result_of(run(lab, "cluster_quorum", {"state": "started"}, hosts="clu-sec-02"), "clu-sec-02")
    assert joined["changed"] is True and joined["action"] == "joined" and joined["after"]["state"] == "Up", joined
    # The VMM role came online at the secondary site with the forced cluster (its persistent state).
    lab.service.clock.advance(wc.GROUP_ONLINE_S)
    group = result_of(run(lab, "cluster_group", {"name": "vmm-ha", "site": "secondary"}))
    assert group["changed"] is False and group["group"]["owner_node"] == "clu-sec-01"


def test_primary_nodes_rejoin_and_the_role_moves_home(lab):
    lab.service.apply_fault({"kind": "site-down", "site": "primary", "clear": True})
    lab.service.clock.advance(wc.NODE_START_S)
    wait_for(lambda: drclu(lab).node_state("clu-pri-01") == "Up", "clu-pri-01 to rejoin")
    back = result_of(run(lab, "cluster_quorum", {"state": "started"}, hosts="clu-pri-01"), "clu-pri-01")
    assert back["changed"] is False and back["action"] == "none" and back["after"]["forced_quorum"] is False
    info = result_of(run(lab, "cluster_info", {}, hosts="clu-pri-01"), "clu-pri-01")
    assert info["quorum"]["forced"] is False and info["quorum"]["votes"]["present"] == 5
    home = result_of(run(lab, "cluster_group", {"name": "vmm-ha", "site": "primary"}, hosts="clu-pri-01"), "clu-pri-01")
    assert home["changed"] is True and home["group_after"]["owner_node"] == "clu-pri-01"
    status = lab.service.status()["clusters"][0]
    assert status["has_quorum"] and not status["forced_quorum"]
    assert {g["name"]: g["owner"] for g in status["groups"]}["vmm-ha"] == "clu-pri-01"
