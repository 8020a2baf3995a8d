# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sql_ag_info, and the DMV rows the AG action plugin tests share (`scenario` builds what an instance returns)."""

from __future__ import annotations

import pytest

from ansible_collections.site_recovery.hyperv.plugins.action.sql_ag_info import ActionModule
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils import _sqlag
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.action_harness import make_action, runner_reply, sent_calls

GROUP_ID = "6f4a0000-0000-4000-8000-00000000a001"
RIDS = {"CLU-PRI-01": "6f4a0000-0000-4000-8000-000000000001", "CLU-PRI-02": "6f4a0000-0000-4000-8000-000000000002",
        "CLU-SEC-01": "6f4a0000-0000-4000-8000-000000000003"}
GDIDS = {"VirtualManagerDB": "6f4a0000-0000-4000-8000-0000000000d1", "SUSDB": "6f4a0000-0000-4000-8000-0000000000d2"}
MODES = {"CLU-PRI-01": ("SYNCHRONOUS_COMMIT", "AUTOMATIC"), "CLU-PRI-02": ("SYNCHRONOUS_COMMIT", "AUTOMATIC"),
         "CLU-SEC-01": ("ASYNCHRONOUS_COMMIT", "MANUAL")}
HOST_TIME = "2026-11-25T20:10:00.0000000Z"
NOW = "2026-11-25T20:10:00.000Z"
NULL = ""  # SQL NULL, as the runner renders DBNull


def copy(state="SYNCHRONIZED", commit=NOW, suspended=False, reason=NULL, lsn=2066000000000000000, lag=NULL, db_state="ONLINE"):
    return {"synchronization_state_desc": state, "last_commit_time": commit, "is_suspended": suspended, "suspend_reason_desc": reason,
            "end_of_log_lsn": lsn, "secondary_lag_seconds": lag, "database_state_desc": db_state}


def scenario(local, roles, copies=None, ready=None, modes=None, operational="ONLINE", connected="CONNECTED", recovery="ONLINE",
             quorum=True):
    """The five read results as the instance on `local` returns them: every replica's rows when it is PRIMARY, else its own."""
    modes = MODES if modes is None else modes
    copies = copies or {}
    ready = ready or {}
    primary = next((s for s, r in roles.items() if r == "PRIMARY"), None)
    visible = list(RIDS) if roles.get(local) == "PRIMARY" else [local]
    groups = [{"group_id": GROUP_ID, "name": "VMM-AG"}]
    replicas = [{"replica_id": RIDS[s], "group_id": GROUP_ID, "replica_server_name": s,
                 "availability_mode_desc": modes[s][0] if quorum else NULL, "failover_mode_desc": modes[s][1] if quorum else NULL}
                for s in RIDS if quorum or s == local]
    replica_states = [{"replica_id": RIDS[s], "group_id": GROUP_ID, "is_local": s == local, "role_desc": roles.get(s) or NULL,
                       "operational_state_desc": operational if s == local else NULL,
                       "connected_state_desc": connected if s == local else "CONNECTED",
                       "recovery_health_desc": recovery if s == local else NULL, "synchronization_health_desc": "HEALTHY"}
                      for s in visible]
    database_states = []
    for server in visible:
        for db, gdid in GDIDS.items():
            row = dict(copy(), **copies.get((server, db), {}))
            row.update(replica_id=RIDS[server], group_id=GROUP_ID, group_database_id=gdid, is_local=server == local,
                       is_primary_replica=server == primary, synchronization_health_desc="HEALTHY")
            database_states.append(row)
    cluster_states = [{"replica_id": RIDS[s], "group_database_id": gdid, "database_name": db,
                       "is_failover_ready": ready.get((s, db), s == primary or (s == "CLU-PRI-02" and primary == "CLU-PRI-01")),
                       "is_database_joined": True if quorum else NULL} for s in RIDS for db, gdid in GDIDS.items()]
    return [groups, replicas, replica_states, database_states, cluster_states]


def reply(results):
    return runner_reply(results, now=HOST_TIME)


STEADY = {"CLU-PRI-01": "PRIMARY", "CLU-PRI-02": "SECONDARY", "CLU-SEC-01": "SECONDARY"}
LAGGING = {("CLU-SEC-01", "VirtualManagerDB"): copy("SYNCHRONIZING", "2026-11-25T20:09:52.000Z", lag=8, lsn=2065000012697600000),
           ("CLU-SEC-01", "SUSDB"): copy("SYNCHRONIZING", "2026-11-25T20:09:52.000Z", lag=8)}


def run_info(args, replies, host="clu-pri-01", **kwargs):
    action, connection = make_action(ActionModule, args, replies, **kwargs)
    return action.run(task_vars={"inventory_hostname": host}), connection


def test_reads_with_five_fixed_queries_in_one_round_trip():
    result, connection = run_info({}, [reply(scenario("CLU-PRI-01", STEADY, LAGGING))])
    assert not result.get("failed"), result
    calls = sent_calls(connection, 0)
    assert [c["cmdlet"] for c in calls] == ["Invoke-Sqlcmd"] * 5
    assert [c["params"]["Query"] for c in calls] == [
        "SELECT group_id, name FROM sys.availability_groups",
        "SELECT replica_id, group_id, replica_server_name, availability_mode_desc, failover_mode_desc FROM sys.availability_replicas",
        "SELECT replica_id, group_id, is_local, role_desc, operational_state_desc, connected_state_desc, recovery_health_desc, "
        "synchronization_health_desc FROM sys.dm_hadr_availability_replica_states",
        "SELECT replica_id, group_id, group_database_id, is_local, is_primary_replica, synchronization_state_desc, "
        "synchronization_health_desc, database_state_desc, is_suspended, suspend_reason_desc, end_of_log_lsn, last_commit_time, "
        "secondary_lag_seconds FROM sys.dm_hadr_database_replica_states",
        "SELECT replica_id, group_database_id, database_name, is_failover_ready, is_database_joined "
        "FROM sys.dm_hadr_database_replica_cluster_states"]
    # The runner projects exactly the queried columns of each DataRow.
    assert all(c["select"] == c["params"]["Query"][len("SELECT "):c["params"]["Query"].index(" FROM")].split(", ") for c in calls)
    assert {c["params"]["ServerInstance"] for c in calls} == {"localhost"} and "TrustServerCertificate" not in calls[0]["params"]
    assert result["changed"] is False and result["host_time"] == HOST_TIME


def test_the_primary_sees_everything_and_the_data_loss_window():
    result, dummy = run_info({"name": "vmm-ag"}, [reply(scenario("CLU-PRI-01", STEADY, LAGGING))])
    (ag,) = result["availability_groups"]
    assert (ag["name"], ag["local_replica"], ag["local_role"], ag["complete_view"], ag["primary_replica"]) == (
        "VMM-AG", "CLU-PRI-01", "PRIMARY", True, "CLU-PRI-01")
    by_name = {r["server_name"]: r for r in ag["replicas"]}
    assert by_name["CLU-PRI-02"]["planned_failover_ready"] is True
    assert by_name["CLU-SEC-01"]["planned_failover_ready"] is False  # asynchronous commit
    dr = {d["name"]: d for d in by_name["CLU-SEC-01"]["databases"]}["VirtualManagerDB"]
    assert (dr["synchronization_state"], dr["secondary_lag_seconds"], dr["estimated_data_loss_seconds"]) == ("SYNCHRONIZING", 8, 8.0)
    assert dr["last_commit_age_seconds"] == 8.0 and dr["visible"] is True
    own = by_name["CLU-PRI-01"]["databases"][0]
    assert own["estimated_data_loss_seconds"] == 0.0 and own["suspend_reason"] is None and own["secondary_lag_seconds"] is None


def test_a_secondary_sees_only_itself_and_says_so():
    roles = {"CLU-SEC-01": "RESOLVING"}
    copies = {("CLU-SEC-01", "VirtualManagerDB"): copy("NOT SYNCHRONIZING", "2026-11-25T20:04:00.000Z", db_state="RECOVERY_PENDING")}
    results = scenario("CLU-SEC-01", roles, copies, operational="FAILED_NO_QUORUM", connected="DISCONNECTED", quorum=False)
    result, dummy = run_info({}, [reply(results)], host="clu-sec-01")
    (ag,) = result["availability_groups"]
    assert (ag["local_role"], ag["local_operational_state"], ag["complete_view"], ag["primary_replica"]) == (
        "RESOLVING", "FAILED_NO_QUORUM", False, None)
    local = next(r for r in ag["replicas"] if r["is_local"])
    # Without quorum the availability mode is not known (NULL), so neither is planned readiness.
    assert local["availability_mode"] is None and local["planned_failover_ready"] is None
    vmmdb = next(d for d in local["databases"] if d["name"] == "VirtualManagerDB")
    assert vmmdb["last_commit_age_seconds"] == 360.0 and vmmdb["estimated_data_loss_seconds"] is None and vmmdb["is_joined"] is None
    others = [r for r in ag["replicas"] if not r["is_local"]]
    assert others and all(not d["visible"] and d["synchronization_state"] is None for r in others for d in r["databases"])
    # Failover readiness comes from the cluster's store: known for every replica.
    assert {r["replica_id"]: [d["is_failover_ready"] for d in r["databases"]] for r in others}[RIDS["CLU-PRI-02"]] == [False, False]


def test_unknown_ag_names_the_ones_hosted():
    result, dummy = run_info({"name": "Other-AG"}, [reply(scenario("CLU-PRI-01", STEADY))])
    assert result["failed"] and "hosts no replica of availability group 'Other-AG'" in result["msg"] and "VMM-AG" in result["msg"]


def test_named_instance_and_certificate_trust():
    dummy, connection = run_info({"sql_instance": "VMMSQL", "trust_server_certificate": True}, [reply(scenario("CLU-PRI-01", STEADY))])
    params = sent_calls(connection, 0)[0]["params"]
    assert params["ServerInstance"] == "localhost\\VMMSQL" and params["TrustServerCertificate"] is True
    assert _sqlag.provider_path("VMMSQL", "VMM-AG", database="VirtualManagerDB") == (
        "SQLSERVER:\\SQL\\localhost\\VMMSQL\\AvailabilityGroups\\VMM-AG\\AvailabilityDatabases\\VirtualManagerDB")
    assert _sqlag.provider_path("MSSQLSERVER", "a.b/c") == "SQLSERVER:\\SQL\\localhost\\DEFAULT\\AvailabilityGroups\\a%2Eb%2Fc"


def test_no_sqlserver_module_is_explained():
    error = {"index": 0, "cmdlet": "Invoke-Sqlcmd", "message": "The term 'Invoke-Sqlcmd' is not recognized ...",
             "fqid": "CommandNotFoundException", "category": "ObjectNotFound", "target": "Invoke-Sqlcmd"}
    result, dummy = run_info({}, [runner_reply([], error)], host="hv-pri-01")
    assert result["failed"] and "SqlServer PowerShell module is not available on hv-pri-01" in result["msg"]


def test_runs_only_over_winrm():
    result, connection = run_info({}, [], transport="ssh")
    assert result["failed"] and "ansible_connection=winrm" in result["msg"]
    connection.exec_command.assert_not_called()


@pytest.mark.parametrize("value, expected", [
    ("2026-11-25T20:10:00.000Z", "2026-11-25T20:10:00+00:00"), ("2026-11-25T20:10:00.1234567Z", "2026-11-25T20:10:00.123456+00:00"),
    ("", None), (None, None)])
def test_parse_time(value, expected):
    parsed = _sqlag.parse_time(value)
    assert (parsed.isoformat() if parsed else None) == expected
