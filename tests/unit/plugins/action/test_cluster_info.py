# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.site_recovery.hyperv.plugins.action.cluster_info import ActionModule
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.action_harness import make_action, payload_calls, runner_reply, sent_calls

CLUSTER = [{"Name": "drclu", "Domain": "lab.test", "Id": "c1", "FixQuorum": 1, "DynamicQuorum": 0}]
NODES = [{"Name": "clu-pri-01", "State": "Down", "NodeWeight": 1, "DynamicWeight": 1},
         {"Name": "clu-pri-02", "State": "Down", "NodeWeight": 1, "DynamicWeight": 1},
         {"Name": "clu-sec-01", "State": "Up", "NodeWeight": 1, "DynamicWeight": 1},
         {"Name": "clu-sec-02", "State": "Joining", "NodeWeight": 1, "DynamicWeight": 1}]
GROUPS = [{"Name": "Cluster Group", "OwnerNode": "clu-sec-01", "State": "Failed", "GroupType": "Cluster", "IsCoreGroup": True},
          {"Name": "vmm-ha", "OwnerNode": "clu-sec-01", "State": "Online", "GroupType": "GenericService", "IsCoreGroup": False}]
RESOURCES = [{"Name": "File Share Witness", "State": "Failed", "OwnerGroup": "Cluster Group", "ResourceType": "File Share Witness"},
             {"Name": "SCVMM vmm-ha", "State": "Online", "OwnerGroup": "vmm-ha", "ResourceType": "Generic Service"}]
QUORUM = [{"Cluster": "drclu", "QuorumResource": "File Share Witness", "QuorumType": "Majority"}]
NOT_RUNNING = {"index": 0, "cmdlet": "Get-Cluster", "category": "ConnectionError",
               "fqid": "ClusterEndpointNotRegistered,Microsoft.FailoverClusters.PowerShell.GetClusterCommand",
               "message": "The cluster service is not running.  Make sure that the service is running on all nodes in the cluster."}
UNREACHABLE = {"index": 0, "cmdlet": "Get-ClusterNode", "category": "ConnectionError",
               "fqid": "ClusterRpcConnection,Microsoft.FailoverClusters.PowerShell.GetClusterNodeCommand",
               "message": "Check the spelling of the cluster name.\n    The RPC server is unavailable"}


def answering(cmd, in_data):
    del cmd
    calls = payload_calls(in_data)
    if calls[0]["cmdlet"] == "Get-ClusterOwnerNode":
        return runner_reply([[{"ClusterObject": c["params"]["Group"], "OwnerNodes": ["clu-pri-01", "clu-sec-01"]}] for c in calls])
    if "Cluster" in calls[0]["params"]:
        return runner_reply([], UNREACHABLE)
    return runner_reply([CLUSTER, NODES, GROUPS, RESOURCES, QUORUM])


class Hostvars(dict):
    """Stands for Ansible's HostVars: host name -> that host's variables."""


def run(args, host, hostvars=None):
    action, connection = make_action(ActionModule, args, host)
    task_vars = {"inventory_hostname": "clu-sec-01.lab.test", "hostvars": Hostvars(hostvars or {})}
    return action.run(task_vars=task_vars), connection


def test_a_quorate_node_reports_the_cluster_votes_sites_and_preferred_owners():
    hostvars = {"clu-pri-01": {"site_recovery_site": "primary"}, "clu-sec-01": {"site_recovery_site": "secondary"}}
    result, connection = run({"node_sites": {"clu-sec-02": "dr"}}, answering, hostvars)
    assert result["changed"] is False and result.get("failed") is not True, result
    assert result["cluster"]["forced_quorum"] is True
    assert {n["name"]: n["site"] for n in result["nodes"]} == {"clu-pri-01": "primary", "clu-pri-02": None, "clu-sec-01": "secondary",
                                                               "clu-sec-02": "dr"}
    assert result["node"]["state"] == "Up" and result["node"]["member"] is True and result["node"]["site"] == "secondary"
    # 5 votes configured; present: clu-sec-01 only (the witness resource failed, clu-sec-02 is still joining).
    assert result["quorum"]["votes"] == {"total": 5, "present": 1, "needed": 3}
    assert result["quorum"]["has_quorum"] is True and result["quorum"]["forced"] is True
    assert result["quorum"]["witness_state"] == "Failed"
    vmm = next(g for g in result["groups"] if g["name"] == "vmm-ha")
    assert vmm["preferred_owners"] == ["clu-pri-01", "clu-sec-01"]
    assert vmm["resources"] == [{"name": "SCVMM vmm-ha", "state": "Online", "resource_type": "Generic Service"}]
    assert "quorum FORCED (FixQuorum), 1 of 5 votes present (3 needed)" in result["msg"]
    assert len(sent_calls(connection)) == 2  # the reads, then the owner lists


def test_a_node_without_quorum_reports_what_it_knows_instead_of_failing():
    def not_running(cmd, in_data):
        calls = payload_calls(in_data)
        return answering(cmd, in_data) if "Cluster" in calls[0]["params"] else runner_reply([], NOT_RUNNING)

    result, connection = run({"probe_nodes": ["clu-pri-01", "clu-sec-01"]}, not_running, {"clu-sec-01": {"site_recovery_site": "secondary"}})
    assert result.get("failed") is not True and result["changed"] is False
    assert result["quorum"]["has_quorum"] is False and "ClusterEndpointNotRegistered" in result["quorum"]["reason"]
    assert result["node"] == {"name": "clu-sec-01", "state": None, "site": "secondary", "member": False,
                              "cluster_service": "not_answering", "reason": NOT_RUNNING["message"] + " [" + NOT_RUNNING["fqid"] + "]"}
    assert result["nodes"] == [] and result["groups"] == [] and result["cluster"] is None
    assert [(p["node"], p["answered"], p["result"]) for p in result["probes"]] == [("clu-pri-01", False, "unreachable")]
    probe = sent_calls(connection, -1)
    assert probe == [{"cmdlet": "Get-ClusterNode", "params": {"Cluster": "clu-pri-01", "Name": ["clu-pri-01"]}, "select": ["Name", "State"]}]


def test_other_errors_still_fail_the_task():
    error = {"index": 2, "cmdlet": "Get-ClusterGroup", "category": "NotSpecified", "fqid": "Boom", "message": "boom"}
    result, dummy = run({"preferred_owners": False}, lambda cmd, in_data: runner_reply([[], []], error))
    assert result["failed"] is True and "Get-ClusterGroup failed on cluster node clu-sec-01.lab.test: boom" in result["msg"]
