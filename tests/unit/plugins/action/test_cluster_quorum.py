# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.site_recovery.hyperv.plugins.action.cluster_quorum import ActionModule, guard_refusal
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils import _cluster
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._runner import RunnerError
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.action_harness import make_action, payload_calls, runner_reply, sent_calls

NOT_RUNNING = {"index": 0, "cmdlet": "Get-Cluster", "fqid": "ClusterEndpointNotRegistered,Microsoft.FailoverClusters.PowerShell.GetClusterCommand",
               "category": "ConnectionError", "target": None,
               "message": "The cluster service is not running.  Make sure that the service is running on all nodes in the cluster.\n"
                          "    There are no more endpoints available from the endpoint mapper"}
UNREACHABLE = {"index": 0, "cmdlet": "Get-ClusterNode", "fqid": "ClusterRpcConnection,Microsoft.FailoverClusters.PowerShell.GetClusterNodeCommand",
               "category": "ConnectionError", "target": "clu-pri-01", "message": "Check the spelling ...\n    The RPC server is unavailable"}
DENIED = {"index": 0, "cmdlet": "Get-ClusterNode", "fqid": "ClusterAccessDenied,Microsoft.FailoverClusters.PowerShell.GetClusterNodeCommand",
          "category": "PermissionDenied", "target": "clu-pri-02", "message": "You do not have administrative privileges ...\n    Access is denied"}
FORCED = {"state": "forced", "allow_forced_quorum": True, "lost_nodes": ["clu-pri-01", "clu-pri-02"]}


def cluster_rows(fix_quorum):
    return [{"Name": "drclu", "Domain": "lab.test", "Id": "c1", "FixQuorum": fix_quorum, "DynamicQuorum": 0}]


def node_rows(**states):
    return [{"Name": name.replace("_", "-"), "Id": name, "State": state, "NodeWeight": 1, "DynamicWeight": 1, "DrainStatus": "NotInitiated"}
            for name, state in states.items()]


class Host:
    """A cluster node as the runner answers: no cluster service until Start-ClusterNode, then Up (forced or not)."""

    def __init__(self, probes=None, joins=True):
        self.probes = dict(probes or {})
        self.joins = joins
        self.forced = None

    def __call__(self, cmd, in_data):
        del cmd
        calls = payload_calls(in_data)
        first = calls[0]
        if first["cmdlet"] == "Get-ClusterNode" and "Cluster" in first["params"]:
            error = self.probes[first["params"]["Cluster"]]
            return runner_reply([], error) if error else runner_reply([[{"Name": first["params"]["Cluster"], "State": "Up"}]])
        if first["cmdlet"] == "Get-Cluster":
            if self.forced is None or not self.joins:
                return runner_reply([], NOT_RUNNING)
            return runner_reply([cluster_rows(1 if self.forced else 0), node_rows(clu_sec_01="Up", clu_sec_02="Joining")])
        self.forced = any(c["params"].get("ForceQuorum") for c in calls)
        return runner_reply([[{"Name": "clu-sec-01", "State": "Down"}] for dummy in calls])


def run(args, host, check_mode=False, diff=False):
    action, connection = make_action(ActionModule, args, host, check_mode=check_mode, diff=diff)
    return action.run(task_vars={"inventory_hostname": "clu-sec-01.lab.test"}), connection


# ---- the split-brain guard -----------------------------------------------------------------------------------
@pytest.mark.parametrize("result, refused_with", [
    ("unreachable", None),
    ("running", "its cluster service runs (state Up): the cluster is running there"),
    ("service_not_running", "the host is up and could start it"),
    ("denied", "it refused this session's credentials on the second hop, so it is up"),
    ("error", "could not tell whether node clu-pri-01 is down"),
])
def test_guard_forces_only_when_every_lost_node_is_unreachable(result, refused_with):
    probes = [{"node": "clu-pri-01", "result": result, "state": "Up" if result == "running" else None, "message": "boom"},
              {"node": "clu-pri-02", "result": "unreachable", "state": None, "message": "RPC"}]
    why = guard_refusal(probes)
    if refused_with is None:
        assert why is None
    else:
        assert refused_with in why and "split brain" in why


@pytest.mark.parametrize("error, kind, answered", [
    (NOT_RUNNING, "service_not_running", True), (UNREACHABLE, "unreachable", False), (DENIED, "denied", True),
    ({"index": 0, "cmdlet": "Get-ClusterNode", "fqid": "Other", "category": "NotSpecified", "message": "x"}, "error", False),
])
def test_probe_outcomes_classify_the_cluster_errors(error, kind, answered):
    exc = RunnerError("clu-sec-01", error["cmdlet"], error["message"], error["fqid"], error["category"], None, 0)
    outcome = _cluster.probe_outcome("clu-pri-01", [], exc)
    assert (outcome["result"], outcome["answered"]) == (kind, answered)


# ---- refusals before anything is sent -------------------------------------------------------------------------
@pytest.mark.parametrize("args, text", [
    ({"state": "forced", "lost_nodes": ["clu-pri-01"]}, "Set allow_forced_quorum: true"),
    ({"state": "forced", "allow_forced_quorum": True}, "lost_nodes must list the nodes of the lost site"),
    ({"state": "forced", "allow_forced_quorum": True, "lost_nodes": ["CLU-SEC-01.lab.test"]}, "lists clu-sec-01, the node this task runs on"),
    ({"state": "started", "allow_forced_quorum": True}, "apply to state=forced only"),
    ({"state": "started", "timeout": 0}, "timeout must be a positive number"),
])
def test_bad_input_is_refused_before_any_call(args, text):
    result, connection = run(args, Host())
    assert result["failed"] is True and result["changed"] is False and text in result["msg"]
    assert connection.exec_command.call_count == 0


def test_an_answering_lost_node_stops_the_task_before_any_change():
    host = Host(probes={"clu-pri-01": UNREACHABLE, "clu-pri-02": DENIED})
    result, connection = run(FORCED, host)
    assert result["failed"] is True and result["changed"] is False
    assert "node clu-pri-02 answers" in result["msg"] and "Nothing was changed on clu-sec-01.lab.test" in result["msg"]
    sent = [c["cmdlet"] for batch in sent_calls(connection) for c in batch]
    assert "Stop-ClusterNode" not in sent and "Start-ClusterNode" not in sent
    assert [p["result"] for p in result["probes"]] == ["unreachable", "denied"]


def test_forcing_stops_then_starts_the_local_node_with_force_quorum_and_waits_for_up(monkeypatch):
    monkeypatch.setattr(_cluster.time, "sleep", lambda s: None)
    host = Host(probes={"clu-pri-01": UNREACHABLE, "clu-pri-02": UNREACHABLE})
    result, connection = run(FORCED, host, diff=True)
    assert result.get("failed") is not True, result
    assert (result["changed"], result["action"]) == (True, "forced")
    change = [b for b in sent_calls(connection) if b[0]["cmdlet"] == "Stop-ClusterNode"]
    assert change == [[{"cmdlet": "Stop-ClusterNode", "params": {}, "select": ["Name", "State"]},
                       {"cmdlet": "Start-ClusterNode", "params": {"ForceQuorum": True, "Wait": 0}, "select": ["Name", "State"]}]]
    assert result["after"]["state"] == "Up" and result["after"]["forced_quorum"] is True
    assert result["diff"] == {"before": {"answering": False, "state": None, "forced_quorum": False},
                              "after": {"answering": True, "state": "Up", "forced_quorum": True}}
    assert "Start the other surviving nodes normally" in result["msg"]


def test_check_mode_probes_but_changes_nothing():
    host = Host(probes={"clu-pri-01": UNREACHABLE, "clu-pri-02": UNREACHABLE})
    result, connection = run(dict(FORCED, ignore_persistent_state=True), host, check_mode=True)
    assert result["changed"] is True and result["after"]["forced_quorum"] is True
    assert result["actions"] == ["Stop-ClusterNode", "Start-ClusterNode -ForceQuorum -IgnorePersistentState"]
    sent = [c["cmdlet"] for batch in sent_calls(connection) for c in batch]
    assert sent == ["Get-Cluster", "Get-ClusterNode", "Get-ClusterNode", "Get-ClusterNode"]


def test_a_member_node_is_left_alone():
    def answering(cmd, in_data):
        del cmd, in_data
        return runner_reply([cluster_rows(1), node_rows(clu_sec_01="Up")])

    result, connection = run(FORCED, answering)
    assert (result["changed"], result["action"]) == (False, "none") and "forced-quorum mode" in result["msg"]
    assert connection.exec_command.call_count == 1  # no probe either: nothing to decide


def test_started_node_that_finds_no_quorum_times_out_with_the_next_step(monkeypatch):
    monkeypatch.setattr(_cluster.time, "sleep", lambda s: None)
    clock = iter(range(0, 10000, 5))
    monkeypatch.setattr(_cluster.time, "monotonic", lambda: next(clock))
    result, connection = run({"state": "started", "timeout": 20}, Host(joins=False))
    assert result["failed"] is True and result["changed"] is True and result["action"] == "joined"
    assert "Force quorum on one surviving node first (state=forced)" in result["msg"]
    starts = [c for batch in sent_calls(connection) for c in batch if c["cmdlet"] == "Start-ClusterNode"]
    assert starts == [{"cmdlet": "Start-ClusterNode", "params": {"Wait": 0}, "select": ["Name", "State"]}]
