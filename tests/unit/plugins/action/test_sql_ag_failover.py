# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.site_recovery.hyperv.plugins.action import sql_ag_failover
from ansible_collections.site_recovery.hyperv.plugins.action.sql_ag_failover import FORCED, PLANNED, ActionModule, PlanError, plan_failover
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils import _sqlag
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.action.test_sql_ag_info import STEADY, copy, reply, scenario
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.action_harness import make_action, runner_reply, sent_calls

PATH = "SQLSERVER:\\SQL\\localhost\\DEFAULT\\AvailabilityGroups\\VMM-AG"
OLD = "2026-11-25T20:04:00.000Z"
LOST_SITE = {"CLU-SEC-01": "RESOLVING"}  # forced quorum at the DR site: the AG has no primary there
BEHIND = {("CLU-SEC-01", "VirtualManagerDB"): copy("NOT SYNCHRONIZING", OLD), ("CLU-SEC-01", "SUSDB"): copy("NOT SYNCHRONIZING", OLD)}
# The primary was lost while CLU-PRI-02 was synchronized: the cluster keeps its copies marked failover ready.
READY_02 = {("CLU-PRI-02", "VirtualManagerDB"): True, ("CLU-PRI-02", "SUSDB"): True}
AFTER_FORCED = {"CLU-SEC-01": "PRIMARY", "CLU-PRI-02": "SECONDARY"}
SUSPENDED = {(s, d): copy("NOT SYNCHRONIZING", OLD, suspended=True, reason="SUSPEND_FROM_PARTNER")
             for s in ("CLU-PRI-01", "CLU-PRI-02") for d in ("VirtualManagerDB", "SUSDB")}


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(_sqlag.time, "sleep", lambda seconds: None)


def view_of(results):
    return _sqlag.shape(results, "2026-11-25T20:10:00.0000000Z")["vmm-ag"]


def run(args, replies, host="clu-sec-01", **kwargs):
    action, connection = make_action(ActionModule, dict({"name": "VMM-AG"}, **args), replies, **kwargs)
    return action.run(task_vars={"inventory_hostname": host}), connection


def cmdlets(connection):
    return [[c["cmdlet"] for c in batch] for batch in sent_calls(connection)]


# ---- the decision ------------------------------------------------------------------------------------
DECISIONS = [
    # local, roles, extra scenario arguments, allow_data_loss, expected kind or refusal text
    ("CLU-PRI-01", STEADY, {}, False, None),
    ("CLU-PRI-02", STEADY, {}, False, PLANNED),
    ("CLU-PRI-02", STEADY, {}, True, PLANNED),  # ready and connected: planned even with the opt-in
    ("CLU-SEC-01", STEADY, {}, True, "connected to a running primary"),
    ("CLU-SEC-01", STEADY, {}, False, "it uses ASYNCHRONOUS_COMMIT"),
    ("CLU-SEC-01", LOST_SITE, {"copies": BEHIND, "operational": "OFFLINE", "connected": "DISCONNECTED"}, False,
     "VirtualManagerDB: NOT SYNCHRONIZING, last commit 2026-11-25T20:04:00.000Z (360.0 s ago)"),
    ("CLU-SEC-01", LOST_SITE, {"copies": BEHIND, "operational": "OFFLINE", "connected": "DISCONNECTED"}, True, FORCED),
    ("CLU-SEC-01", LOST_SITE, {"operational": "FAILED_NO_QUORUM", "connected": "DISCONNECTED", "quorum": False}, True,
     "needs quorum"),
    ("CLU-PRI-02", {"CLU-PRI-02": "RESOLVING"}, {"operational": "OFFLINE", "connected": "DISCONNECTED", "ready": READY_02}, False, PLANNED),
    ("CLU-PRI-02", {"CLU-PRI-02": "RESOLVING"}, {"operational": "OFFLINE", "connected": "DISCONNECTED", "ready": READY_02}, True, FORCED),
    ("CLU-SEC-01", LOST_SITE, {"copies": {("CLU-SEC-01", "SUSDB"): copy("REVERTING", OLD)}, "operational": "OFFLINE",
                               "connected": "DISCONNECTED"}, True, "SUSDB (REVERTING)"),
]


@pytest.mark.parametrize("local, roles, extra, allow, expected", DECISIONS)
def test_plan_failover(local, roles, extra, allow, expected):
    view = view_of(scenario(local, roles, **extra))
    if isinstance(expected, str) and expected not in (PLANNED, FORCED):
        with pytest.raises(PlanError) as info:
            plan_failover(view, allow)
        assert expected in str(info.value)
    else:
        assert plan_failover(view, allow) == expected


# ---- the action ----------------------------------------------------------------------------------------
def test_already_primary_changes_nothing():
    result, connection = run({}, [reply(scenario("CLU-PRI-01", STEADY))], host="clu-pri-01")
    assert result["changed"] is False and result["failover"] is None and "already the primary replica" in result["msg"]
    assert cmdlets(connection) == [["Invoke-Sqlcmd"] * 5]


def test_planned_failover_runs_on_the_target_and_waits_for_the_role():
    replies = [reply(scenario("CLU-PRI-02", STEADY)), runner_reply([[]]),
               reply(scenario("CLU-PRI-02", {"CLU-PRI-02": "RESOLVING"}, operational="PENDING_FAILOVER", recovery="ONLINE_IN_PROGRESS")),
               reply(scenario("CLU-PRI-02", {"CLU-PRI-02": "PRIMARY", "CLU-PRI-01": "SECONDARY"}))]
    result, connection = run({}, replies, host="clu-pri-02", diff=True)
    assert not result.get("failed"), result
    assert (result["changed"], result["failover"]) == (True, PLANNED)
    switch = sent_calls(connection, 1)
    assert switch == [{"cmdlet": "Switch-SqlAvailabilityGroup", "params": {"Path": PATH}, "select": []}]
    assert result["after"]["local_role"] == "PRIMARY" and "suspended_databases" not in result
    # A secondary does not see the primary's rows (VCS §C.1): the diff says so rather than guessing.
    assert result["diff"]["before"]["primary_replica"] is None and result["diff"]["after"]["primary_replica"] == "CLU-PRI-02"


def test_forced_failover_only_with_the_opt_in_and_reports_the_window():
    before = scenario("CLU-SEC-01", LOST_SITE, BEHIND, operational="OFFLINE", connected="DISCONNECTED")
    refused, connection = run({}, [reply(before)])
    assert refused["failed"] and refused["msg"].startswith("Nothing was changed on clu-sec-01:")
    assert "Set allow_data_loss=true" in refused["msg"] and cmdlets(connection) == [["Invoke-Sqlcmd"] * 5]
    assert [(w["database"], w["last_commit_time"], w["last_commit_age_seconds"]) for w in refused["data_loss_window"]] == [
        ("SUSDB", OLD, 360.0), ("VirtualManagerDB", OLD, 360.0)]
    after = scenario("CLU-SEC-01", AFTER_FORCED, SUSPENDED)
    result, connection = run({"allow_data_loss": True}, [reply(before), runner_reply([[]]), reply(after)])
    assert not result.get("failed"), result
    assert result["failover"] == FORCED
    assert sent_calls(connection, 1)[0]["params"] == {"Path": PATH, "AllowDataLoss": True, "Force": True}
    assert sorted((s["replica"], s["database"]) for s in result["suspended_databases"]) == [
        ("CLU-PRI-01", "SUSDB"), ("CLU-PRI-01", "VirtualManagerDB"), ("CLU-PRI-02", "SUSDB"), ("CLU-PRI-02", "VirtualManagerDB")]
    assert {w["database"]: w["is_failover_ready"] for w in result["data_loss_window"]} == {"SUSDB": False, "VirtualManagerDB": False}


def test_check_mode_predicts_and_sends_nothing():
    before = scenario("CLU-SEC-01", LOST_SITE, BEHIND, operational="OFFLINE", connected="DISCONNECTED")
    result, connection = run({"allow_data_loss": True}, [reply(before)], check_mode=True, diff=True)
    assert (result["changed"], result["failover"]) == (True, FORCED)
    assert cmdlets(connection) == [["Invoke-Sqlcmd"] * 5]
    assert result["after"]["local_role"] == "PRIMARY"
    assert result["diff"]["after"]["primary_replica"] == "CLU-SEC-01"


def test_a_refused_planned_failover_in_forced_quorum_points_to_the_opt_in():
    before = scenario("CLU-PRI-02", {"CLU-PRI-02": "RESOLVING"}, operational="OFFLINE", connected="DISCONNECTED", ready=READY_02)
    error = {"index": 0, "cmdlet": "Switch-SqlAvailabilityGroup", "message": "... the WSFC cluster was started in Force Quorum mode ...",
             "fqid": "ExecutionFailed,Microsoft.SqlServer.Management.PowerShell.Hadr.SwitchSqlAvailabilityGroupCommand",
             "category": "InvalidOperation", "target": None}
    result, dummy = run({}, [reply(before), runner_reply([], error)], host="clu-pri-02")
    assert result["failed"] and "forcing should lose no data: set allow_data_loss=true" in result["msg"]


def test_timeout_reports_the_role_it_got_stuck_in(monkeypatch):
    clock = iter(range(0, 10000, 100))
    monkeypatch.setattr(_sqlag.time, "monotonic", lambda: next(clock))
    pending = scenario("CLU-PRI-02", {"CLU-PRI-02": "RESOLVING"}, operational="PENDING_FAILOVER")
    result, dummy = run({"timeout": 150}, [reply(scenario("CLU-PRI-02", STEADY)), runner_reply([[]]), reply(pending), reply(pending)],
                        host="clu-pri-02")
    assert result["failed"] and "after 150 s the replica is still RESOLVING (PENDING_FAILOVER)" in result["msg"]


def test_a_failover_already_under_way_is_waited_for():
    pending = scenario("CLU-PRI-02", {"CLU-PRI-02": "RESOLVING"}, operational="PENDING_FAILOVER")
    result, connection = run({}, [reply(pending), reply(scenario("CLU-PRI-02", {"CLU-PRI-02": "PRIMARY"}))], host="clu-pri-02")
    assert result["changed"] is False and "already the primary replica" in result["msg"]
    assert cmdlets(connection) == [["Invoke-Sqlcmd"] * 5] * 2


# ---- resume (VCS §C.4) ----------------------------------------------------------------------------------
OLD_PRIMARY_BACK = {"CLU-SEC-01": "SECONDARY", "CLU-PRI-01": "SECONDARY"}


def test_resume_after_a_forced_failover_needs_the_opt_in_on_a_secondary():
    before = scenario("CLU-PRI-01", OLD_PRIMARY_BACK, SUSPENDED)
    refused, connection = run({"state": "resumed"}, [reply(before)], host="clu-pri-01")
    assert refused["failed"] and "SUSPEND_FROM_PARTNER" in refused["msg"] and cmdlets(connection) == [["Invoke-Sqlcmd"] * 5]
    moving = scenario("CLU-PRI-01", OLD_PRIMARY_BACK, {("CLU-PRI-01", d): copy("SYNCHRONIZING") for d in ("VirtualManagerDB", "SUSDB")})
    reverting = scenario("CLU-PRI-01", OLD_PRIMARY_BACK, {("CLU-PRI-01", d): copy("REVERTING") for d in ("VirtualManagerDB", "SUSDB")})
    replies = [reply(before), runner_reply([[], []]), reply(reverting), reply(moving)]
    result, connection = run({"state": "resumed", "allow_data_loss": True}, replies, host="clu-pri-01")
    assert not result.get("failed"), result
    assert result["changed"] is True and result["resumed"] == ["SUSDB", "VirtualManagerDB"]
    assert [c["params"]["Path"] for c in sent_calls(connection, 1)] == [
        PATH + "\\AvailabilityDatabases\\SUSDB", PATH + "\\AvailabilityDatabases\\VirtualManagerDB"]
    assert len(sent_calls(connection)) == 4  # read, resume, and two reads until both move data again


def test_resume_is_idempotent_and_checks_database_names():
    steady = scenario("CLU-PRI-02", STEADY)
    result, dummy = run({"state": "resumed"}, [reply(steady)], host="clu-pri-02")
    assert result["changed"] is False and "No database of availability group 'VMM-AG' is suspended" in result["msg"]
    result, dummy = run({"state": "resumed", "databases": ["ReportServer"]}, [reply(steady)], host="clu-pri-02")
    assert result["failed"] and "has no database ReportServer" in result["msg"]
    result, dummy = run({"databases": ["SUSDB"]}, [], host="clu-pri-02")
    assert result["failed"] and "databases applies to state=resumed only" in result["msg"]


def test_resume_user_suspension_in_check_mode_and_wait_for_synchronized():
    before = scenario("CLU-PRI-02", STEADY, {("CLU-PRI-02", "SUSDB"): copy("NOT SYNCHRONIZING", suspended=True, reason="SUSPEND_FROM_USER")})
    result, connection = run({"state": "resumed"}, [reply(before)], host="clu-pri-02", check_mode=True)
    assert result["changed"] and result["resumed"] == ["SUSDB"] and cmdlets(connection) == [["Invoke-Sqlcmd"] * 5]
    local = _sqlag.local_replica(result["after"])
    assert {d["name"]: d["is_suspended"] for d in local["databases"]} == {"SUSDB": False, "VirtualManagerDB": False}
    # This reply is from the secondary's view; the primary row scenario() adds is not visible there.
    secondary = {"CLU-PRI-02": "SECONDARY"}
    syncing = scenario("CLU-PRI-02", secondary, {("CLU-PRI-02", "SUSDB"): copy("SYNCHRONIZING")})
    synced = scenario("CLU-PRI-02", secondary)
    result, connection = run({"state": "resumed", "wait_synchronized": True},
                             [reply(before), runner_reply([[]]), reply(syncing), reply(synced)], host="clu-pri-02")
    assert not result.get("failed"), result
    assert len(sent_calls(connection)) == 4


def test_resume_refused_on_a_resolving_replica():
    before = scenario("CLU-SEC-01", LOST_SITE, SUSPENDED, operational="OFFLINE", connected="DISCONNECTED")
    result, dummy = run({"state": "resumed", "allow_data_loss": True}, [reply(before)])
    assert result["failed"] and "only on a PRIMARY or SECONDARY replica" in result["msg"]


def test_module_constants_match_the_docs():
    assert sql_ag_failover.ActionModule.argument_spec["state"]["choices"] == ["primary", "resumed"]
