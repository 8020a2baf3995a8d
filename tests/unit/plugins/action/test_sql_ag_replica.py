# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.site_recovery.hyperv.plugins.action.sql_ag_replica import ActionModule
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.action.test_sql_ag_info import MODES, STEADY, reply, scenario
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.action_harness import make_action, runner_reply, sent_calls

PATH = "SQLSERVER:\\SQL\\localhost\\DEFAULT\\AvailabilityGroups\\VMM-AG\\AvailabilityReplicas\\"


def run(args, replies, host="clu-pri-01", **kwargs):
    action, connection = make_action(ActionModule, dict({"name": "VMM-AG"}, **args), replies, **kwargs)
    return action.run(task_vars={"inventory_hostname": host}), connection


def with_modes(**changes):
    modes = dict(MODES)
    modes.update(changes)
    return modes


def test_sync_and_automatic_sets_synchronous_commit_first():
    after = scenario("CLU-PRI-01", STEADY, modes=with_modes(**{"CLU-SEC-01": ("SYNCHRONOUS_COMMIT", "AUTOMATIC")}))
    result, connection = run({"replica": "clu-sec-01", "availability_mode": "synchronous_commit", "failover_mode": "automatic"},
                             [reply(scenario("CLU-PRI-01", STEADY)), runner_reply([[], []]), reply(after)], diff=True)
    assert not result.get("failed"), result
    assert [c["params"] for c in sent_calls(connection, 1)] == [
        {"AvailabilityMode": "SynchronousCommit", "Path": PATH + "CLU-SEC-01"}, {"FailoverMode": "Automatic", "Path": PATH + "CLU-SEC-01"}]
    assert result["before"] == {"availability_mode": "ASYNCHRONOUS_COMMIT", "failover_mode": "MANUAL"}
    assert result["after"] == {"availability_mode": "SYNCHRONOUS_COMMIT", "failover_mode": "AUTOMATIC"} == result["diff"]["after"]


def test_leaving_synchronous_commit_drops_automatic_failover_first():
    after = scenario("CLU-PRI-01", STEADY, modes=with_modes(**{"CLU-PRI-02": ("ASYNCHRONOUS_COMMIT", "MANUAL")}))
    result, connection = run({"replica": "CLU-PRI-02", "availability_mode": "asynchronous_commit", "failover_mode": "manual"},
                             [reply(scenario("CLU-PRI-01", STEADY)), runner_reply([[], []]), reply(after)])
    assert [list(c["params"])[0] for c in sent_calls(connection, 1)] == ["FailoverMode", "AvailabilityMode"]
    assert result["changed"] is True


def test_refusals_before_any_change():
    steady = scenario("CLU-PRI-01", STEADY)
    result, connection = run({"replica": "CLU-PRI-02", "availability_mode": "asynchronous_commit"}, [reply(steady)])
    assert result["failed"] and "automatic failover needs synchronous commit" in result["msg"] and len(sent_calls(connection)) == 1
    result, connection = run({"replica": "CLU-DR-09", "failover_mode": "manual"}, [reply(steady)])
    assert result["failed"] and "has no replica 'CLU-DR-09'" in result["msg"]
    on_secondary = scenario("CLU-SEC-01", STEADY)
    result, connection = run({"availability_mode": "synchronous_commit"}, [reply(on_secondary)], host="clu-sec-01")
    assert result["failed"] and "only on the primary replica" in result["msg"] and len(sent_calls(connection)) == 1
    result, connection = run({}, [])
    assert result["failed"] and "one of the following is required: availability_mode, failover_mode" in result["msg"]


def test_idempotent_and_check_mode():
    steady = scenario("CLU-PRI-01", STEADY)
    result, connection = run({"replica": "CLU-SEC-01", "availability_mode": "asynchronous_commit", "failover_mode": "manual"}, [reply(steady)])
    assert result["changed"] is False and "already has availability mode ASYNCHRONOUS_COMMIT" in result["msg"]
    result, connection = run({"replica": "CLU-SEC-01", "availability_mode": "synchronous_commit"}, [reply(steady)], check_mode=True)
    assert result["changed"] is True and result["after"]["availability_mode"] == "SYNCHRONOUS_COMMIT" and len(sent_calls(connection)) == 1
