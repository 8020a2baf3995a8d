# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.site_recovery.hyperv.plugins.action.cluster_group import ActionModule, PlanError, candidates, plan_group
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils import _cluster
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.action_harness import make_action, payload_calls, runner_reply, sent_calls

SITES = {"clu-pri-01": "primary", "clu-pri-02": "primary", "clu-sec-01": "secondary", "clu-sec-02": "secondary"}
PREFERRED = ["clu-pri-01", "clu-pri-02", "clu-sec-02", "clu-sec-01"]


def nodes(**states):
    out = []
    for name, site in SITES.items():
        out.append({"name": name, "site": site, "state": states.get(name.replace("-", "_"), "Up")})
    return out


def group(owner="clu-pri-01", state="Online"):
    return {"name": "vmm-ha", "owner_node": owner, "state": state, "preferred_owners": list(PREFERRED), "resources": []}


# ---- the decision table: role x nodes x desired -> calls, nothing, or a refusal ------------------------------------
TABLE = [
    # group, node states, state, node, site, expected calls (or refusal text), expected owner after
    (group(), {}, "online", None, None, [], None),
    (group(), {}, "online", None, "primary", [], None),
    (group(), {}, "online", None, "secondary", [("Move-ClusterGroup", {"Node": "clu-sec-02"})], "clu-sec-02"),
    (group(), {"clu_sec_02": "Down"}, "online", None, "secondary", [("Move-ClusterGroup", {"Node": "clu-sec-01"})], "clu-sec-01"),
    (group(), {"clu_sec_01": "Paused", "clu_sec_02": "Joining"}, "online", None, "secondary", "no node of site 'secondary' is Up", None),
    (group(), {}, "online", "clu-pri-01", None, [], None),
    (group(), {}, "online", "CLU-SEC-01.lab.test", None, [("Move-ClusterGroup", {"Node": "clu-sec-01"})], "clu-sec-01"),
    (group(), {"clu_sec_01": "Down"}, "online", "clu-sec-01", None, "node clu-sec-01 is Down", None),
    (group(), {}, "online", "clu-xyz", None, "node 'clu-xyz' is not a node of the cluster", None),
    (group(state="Offline"), {}, "online", None, None, [("Start-ClusterGroup", {})], "clu-pri-01"),
    (group(state="Offline"), {}, "online", "clu-sec-01", None,
     [("Move-ClusterGroup", {"Node": "clu-sec-01"}), ("Start-ClusterGroup", {})], "clu-sec-01"),
    (group(state="Failed"), {"clu_pri_01": "Down"}, "online", None, None, [("Start-ClusterGroup", {"ChooseBestNode": True})], None),
    (group(), {}, "offline", None, None, [("Stop-ClusterGroup", {})], None),
    (group(state="Offline"), {}, "offline", None, None, [], None),
]


@pytest.mark.parametrize("grp, states, state, node, site, expected, owner", TABLE)
def test_plan_group_decision_table(grp, states, state, node, site, expected, owner):
    if isinstance(expected, str):
        with pytest.raises(PlanError) as info:
            plan_group(grp, nodes(**states), state, node, site)
        assert expected in str(info.value)
        return
    calls, expect = plan_group(grp, nodes(**states), state, node, site)
    assert calls == expected
    if not calls:
        assert expect is None
    elif owner:
        assert expect["owner_node"] == owner


def test_site_candidates_follow_the_preferred_owner_order():
    assert [n["name"] for n in candidates(group(), nodes(), "secondary")] == ["clu-sec-02", "clu-sec-01"]


# ---- the plugin on a mocked node ----------------------------------------------------------------------------
class Node:
    """A node that answers the reads; a Move-ClusterGroup moves the role (Online on the target at the next read)."""

    def __init__(self, owner="clu-pri-01", state="Online", error=None):
        self.owner, self.state, self.error = owner, state, error

    def __call__(self, cmd, in_data):
        del cmd
        calls = payload_calls(in_data)
        if self.error:
            return runner_reply([], self.error)
        if calls[0]["cmdlet"] == "Get-ClusterGroup":
            return runner_reply([
                [{"Name": "vmm-ha", "OwnerNode": self.owner, "State": self.state, "GroupType": "GenericService", "IsCoreGroup": False}],
                [{"Name": n, "State": "Up", "NodeWeight": 1, "DynamicWeight": 1} for n in SITES],
                [{"ClusterObject": "vmm-ha", "OwnerNodes": PREFERRED}],
                [{"Name": "SCVMM vmm-ha", "State": self.state, "OwnerGroup": "vmm-ha", "ResourceType": "Generic Service"}],
            ])
        for call in calls:
            if call["cmdlet"] == "Move-ClusterGroup":
                self.owner = call["params"]["Node"]
        return runner_reply([[{"Name": "vmm-ha", "OwnerNode": self.owner, "State": "Pending"}] for dummy in calls])


def run(args, host, check_mode=False, diff=False):
    action, connection = make_action(ActionModule, dict({"name": "vmm-ha", "node_sites": SITES}, **args), host,
                                     check_mode=check_mode, diff=diff)
    return action.run(task_vars={"inventory_hostname": "clu-sec-01"}), connection


def test_move_to_a_site_runs_one_move_with_wait_zero_and_polls(monkeypatch):
    monkeypatch.setattr(_cluster.time, "sleep", lambda s: None)
    result, connection = run({"site": "secondary"}, Node(), diff=True)
    assert result["changed"] is True and result.get("failed") is not True, result
    moves = [c for batch in sent_calls(connection) for c in batch if c["cmdlet"] == "Move-ClusterGroup"]
    assert moves == [{"cmdlet": "Move-ClusterGroup", "params": {"Name": "vmm-ha", "Wait": 0, "Node": "clu-sec-02"},
                      "select": _cluster.GROUP_PROPERTIES}]
    assert result["group_after"]["owner_node"] == "clu-sec-02"
    assert result["diff"] == {"before": {"owner_node": "clu-pri-01", "state": "Online"}, "after": {"owner_node": "clu-sec-02", "state": "Online"}}


def test_check_mode_predicts_and_sends_only_reads():
    result, connection = run({"node": "clu-sec-01"}, Node(), check_mode=True)
    assert result["changed"] is True and result["group_after"]["owner_node"] == "clu-sec-01"
    assert {c["cmdlet"] for batch in sent_calls(connection) for c in batch} == {
        "Get-ClusterGroup", "Get-ClusterNode", "Get-ClusterOwnerNode", "Get-ClusterResource"}


def test_already_there_is_no_change():
    result, connection = run({"site": "primary"}, Node())
    assert result["changed"] is False and "already Online on clu-pri-01" in result["msg"]
    assert connection.exec_command.call_count == 1


def test_a_node_without_quorum_says_to_force_quorum_first():
    error = {"index": 0, "cmdlet": "Get-ClusterGroup", "category": "ConnectionError",
             "fqid": "ClusterEndpointNotRegistered,Microsoft.FailoverClusters.PowerShell.GetClusterGroupCommand",
             "message": "The cluster service is not running.  Make sure that the service is running on all nodes in the cluster."}
    result, dummy = run({"site": "secondary"}, Node(error=error))
    assert result["failed"] is True and result["changed"] is False
    assert "force quorum first with site_recovery.hyperv.cluster_quorum (state=forced)" in result["msg"]


def test_node_and_site_together_and_offline_with_a_node_are_refused():
    result, connection = run({"site": "secondary", "node": "clu-sec-01"}, Node())
    assert result["failed"] is True and "mutually exclusive" in result["msg"]
    result, connection = run({"state": "offline", "node": "clu-sec-01"}, Node())
    assert result["failed"] is True and "apply to state=online only" in result["msg"]
    assert connection.exec_command.call_count == 0
