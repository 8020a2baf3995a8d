"""The lab's availability groups (lab/world/sqlag.py) and SqlServer cmdlets (lab/cmdlets/sql.py), driven with the
collection's real runner strings on the stretch_cluster topology, on a frozen clock moved by hand."""

from __future__ import annotations

import datetime
import json

import pytest
import yaml

from lab.audit import AuditLog
from lab.clock import Clock
from lab.runner_host import LabExecutor
from lab.world import TopologyError, World, sqlag, topology
from tests.lab.runner_harness import START, call
from tests.lab.runner_harness import run as run_batch

AG = "VMM-AG"
AG_PATH = "SQLSERVER:\\SQL\\localhost\\DEFAULT\\AvailabilityGroups\\VMM-AG"
DB = "VirtualManagerDB"
REPLICA_STATES = ("SELECT replica_id, is_local, role_desc, operational_state_desc, connected_state_desc, synchronization_health_desc "
                  "FROM sys.dm_hadr_availability_replica_states")
DB_STATES = ("SELECT replica_id, group_database_id, is_local, is_primary_replica, synchronization_state_desc, synchronization_health_desc, "
             "database_state_desc, is_suspended, suspend_reason_desc, end_of_log_lsn, last_commit_time, secondary_lag_seconds "
             "FROM sys.dm_hadr_database_replica_states")
REPLICAS = "SELECT replica_id, replica_server_name, availability_mode_desc, failover_mode_desc, endpoint_url FROM sys.availability_replicas"
CLUSTER_STATES = "SELECT replica_id, group_database_id, database_name, is_failover_ready, is_database_joined FROM sys.dm_hadr_database_replica_cluster_states"


@pytest.fixture(name="lab")
def lab_fixture(tmp_path):
    clock = Clock(scale=1e-6, start=START)
    audit = AuditLog(str(tmp_path / "audit.jsonl"))
    world = World.load("stretch_cluster", clock, audit)
    world.durations.mode = "advance"
    return LabExecutor(world, audit), world


def batch(executor, host, calls):
    return json.loads(run_batch(executor, host, calls).stdout)


def columns_of(query):
    return [c.strip().split()[-1] for c in query[len("SELECT "):query.upper().index(" FROM ")].split(",")]


def sql(executor, host, query):
    """Rows of one query through Invoke-Sqlcmd, the columns projected with the runner's select."""
    doc = batch(executor, host, [call("Invoke-Sqlcmd", {"ServerInstance": "localhost", "Query": query}, columns_of(query))])
    assert doc["error"] is None, doc["error"]
    return doc["results"][0]


def sql_error(executor, host, params):
    return batch(executor, host, [call("Invoke-Sqlcmd", params, [])])["error"]


def names(executor, host):
    """replica_id -> server name, from sys.availability_replicas on that host."""
    return {r["replica_id"]: r["replica_server_name"] for r in sql(executor, host, REPLICAS)}


def roles(executor, host):
    ids = {r.replica_id: r.server_name for r in executor.world.availability_groups[AG].replicas.values()}
    return {ids[r["replica_id"]]: r for r in sql(executor, host, REPLICA_STATES)}


def copies(executor, host, world):
    """(server, database) -> row of sys.dm_hadr_database_replica_states on that host."""
    group = world.availability_groups[AG]
    ids = {r.replica_id: r.server_name for r in group.replicas.values()}
    dbs = {r["group_database_id"]: r["database_name"] for r in sql(executor, host, CLUSTER_STATES)}
    return {(ids[r["replica_id"]], dbs[r["group_database_id"]]): r for r in sql(executor, host, DB_STATES)}


def switch(executor, host, **params):
    return batch(executor, host, [call("Switch-SqlAvailabilityGroup", dict({"Path": AG_PATH}, **params), [])])["error"]


def resume(executor, host, db=DB, cmdlet="Resume-SqlAvailabilityDatabase"):
    return batch(executor, host, [call(cmdlet, {"Path": AG_PATH + "\\AvailabilityDatabases\\" + db}, [])])["error"]


def set_replica(executor, host, replica, **params):
    path = AG_PATH + "\\AvailabilityReplicas\\" + replica
    return batch(executor, host, [call("Set-SqlAvailabilityReplica", dict({"Path": path}, **params), [])])["error"]


def at(value):
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def force_quorum(world, node_name="clu-sec-01"):
    """What the runbook's cluster step does after losing the primary site (VCS §B.3): stop, then -FixQuorum."""
    cluster = world.clusters["drclu"]
    with world.lock:
        node = cluster.node(node_name)
        cluster.stop_node(node, world.clock.now())
        cluster.start_node(node, world.clock.now(), force=True)
    world.clock.advance(45)  # the node forms the cluster 30 s later; the AG's role then tries to come online (10 s)


# ---- topology --------------------------------------------------------------------------------------------
def test_topology_builds_the_ag_on_the_cluster_nodes(lab):
    dummy, world = lab
    group = world.availability_groups[AG]
    assert sorted(group.replicas) == ["clu-pri-01", "clu-pri-02", "clu-sec-01"]
    assert group.primary == "clu-pri-01" and group.online_primary() == "clu-pri-01"
    assert group.databases == [DB, "SUSDB"]
    assert world.clusters["drclu"].hooks[AG] is group
    assert group.database_writable(DB) and world.vmm_server.database_writable()


@pytest.mark.parametrize("change, message", [
    (lambda ag: ag["replicas"].update({"hv-pri-01": {}}), "replica host 'hv-pri-01' is not a node of cluster 'drclu'"),
    (lambda ag: ag.update(cluster="other"), "cluster 'other' is not a cluster of the topology"),
    (lambda ag: ag["replicas"]["clu-pri-02"].update(role="primary"), "exactly one replica must have role primary"),
    (lambda ag: ag["replicas"]["clu-sec-01"].update(failover_mode="automatic"), "automatic failover needs synchronous_commit"),
    (lambda ag: ag["replicas"]["clu-sec-01"].update(lag_seconds=-1), "lag_seconds must be a number >= 0"),
    (lambda ag: ag.update(databases=[DB, DB.upper()]), "databases must list at least one database, each once"),
    (lambda ag: ag.update(listener="x"), "unknown keys ['listener']"),
    (lambda ag: ag["replicas"]["clu-pri-01"].update(role="secondary") or ag["replicas"]["clu-pri-02"].update(role="primary"),
     "its role in cluster 'drclu' is owned by 'clu-pri-01', but the primary replica is 'clu-pri-02'"),
])
def test_topology_refuses_an_inconsistent_ag(change, message):
    with open(topology.resolve_path("stretch_cluster"), encoding="utf-8") as f:
        data = yaml.safe_load(f)
    change(data["availability_groups"][AG])
    with pytest.raises(TopologyError) as info:
        topology.validate(data, "stretch_cluster")
    assert message in str(info.value)


# ---- reading: DMV semantics (VCS §C.1) ---------------------------------------------------------------------
def test_primary_sees_every_replica_a_secondary_only_itself(lab):
    executor, world = lab
    on_primary = roles(executor, "clu-pri-01")
    assert {s: (r["role_desc"], r["is_local"], r["connected_state_desc"]) for s, r in on_primary.items()} == {
        "CLU-PRI-01": ("PRIMARY", True, "CONNECTED"), "CLU-PRI-02": ("SECONDARY", False, "CONNECTED"),
        "CLU-SEC-01": ("SECONDARY", False, "CONNECTED")}
    # [SQLDOCS:dm-ar-states]: operational state is NULL for remote rows; DBNull reaches the runner as "".
    assert on_primary["CLU-PRI-02"]["operational_state_desc"] == ""
    on_secondary = roles(executor, "clu-sec-01")
    assert list(on_secondary) == ["CLU-SEC-01"]
    assert on_secondary["CLU-SEC-01"]["role_desc"] == "SECONDARY" and on_secondary["CLU-SEC-01"]["operational_state_desc"] == "ONLINE"
    assert sorted(copies(executor, "clu-sec-01", world)) == [("CLU-SEC-01", "SUSDB"), ("CLU-SEC-01", DB)]
    assert len(copies(executor, "clu-pri-01", world)) == 6
    # The cluster-states view comes from the cluster's store: every replica x database, on any replica.
    assert len(sql(executor, "clu-sec-01", CLUSTER_STATES)) == 6


def test_synchronous_secondary_is_synchronized_the_asynchronous_one_lags(lab):
    executor, world = lab
    world.clock.advance(120)
    rows = copies(executor, "clu-pri-01", world)
    primary, sync, lagging = rows[("CLU-PRI-01", DB)], rows[("CLU-PRI-02", DB)], rows[("CLU-SEC-01", DB)]
    assert primary["synchronization_state_desc"] == "SYNCHRONIZED" and primary["is_primary_replica"] is True
    assert (sync["synchronization_state_desc"], sync["synchronization_health_desc"]) == ("SYNCHRONIZED", "HEALTHY")
    assert sync["last_commit_time"] == primary["last_commit_time"] and sync["end_of_log_lsn"] == primary["end_of_log_lsn"]
    # Asynchronous commit: SYNCHRONIZING is its healthy state; it runs the topology's 8 s behind.
    assert (lagging["synchronization_state_desc"], lagging["synchronization_health_desc"]) == ("SYNCHRONIZING", "HEALTHY")
    assert (at(primary["last_commit_time"]) - at(lagging["last_commit_time"])).total_seconds() == 8
    assert lagging["secondary_lag_seconds"] == 8 and lagging["end_of_log_lsn"] < primary["end_of_log_lsn"]
    assert primary["secondary_lag_seconds"] == ""
    ready = {(r["replica_id"], r["database_name"]): r["is_failover_ready"] for r in sql(executor, "clu-sec-01", CLUSTER_STATES)}
    group = world.availability_groups[AG]
    assert ready[(group.replicas["clu-pri-02"].replica_id, DB)] is True
    assert ready[(group.replicas["clu-sec-01"].replica_id, DB)] is False


def test_queries_the_lab_does_not_understand_fail_as_sql_server_or_as_not_modelled(lab):
    executor, dummy = lab
    error = sql_error(executor, "clu-pri-01", {"Query": "SELECT * FROM sys.dm_hadr_nope"})
    assert error["message"].startswith("Invalid object name 'sys.dm_hadr_nope'.") and "Msg 208" in error["message"]
    assert error["fqid"] == "SqlError,Microsoft.SqlServer.Management.PowerShell.GetScriptCommand"
    error = sql_error(executor, "clu-pri-01", {"Query": "SELECT role_desc, nope FROM sys.dm_hadr_availability_replica_states"})
    assert error["message"].startswith("Invalid column name 'nope'.") and "Msg 207" in error["message"]
    for query in ("SELECT name FROM sys.availability_groups WHERE name = 'VMM-AG'", "UPDATE sys.availability_groups SET name = 'x'",
                  "SELECT COUNT(*) FROM sys.availability_groups", "SELECT ar.replica_server_name FROM sys.availability_replicas ar "
                  "JOIN sys.dm_hadr_availability_replica_states rs ON rs.replica_id = ar.replica_id"):
        assert sql_error(executor, "clu-pri-01", {"Query": query})["fqid"].startswith("LabNotModelled,"), query
    # Brackets, aliases and SELECT * are ordinary SQL the lab answers.
    rows = sql(executor, "clu-pri-01", "SELECT [ag].[name] AS ag_name FROM [master].[sys].[availability_groups] AS ag")
    assert rows == [{"ag_name": AG}]


def test_invoke_sqlcmd_connects_to_the_local_default_instance_only(lab):
    executor, dummy = lab
    query = {"Query": "SELECT name FROM sys.availability_groups"}
    assert sql_error(executor, "hv-pri-01", query)["fqid"] == "CommandNotFoundException"
    error = sql_error(executor, "clu-pri-01", dict(query, ServerInstance="clu-pri-02"))
    assert "Login failed for user 'NT AUTHORITY\\ANONYMOUS LOGON'." in error["message"] and error["fqid"].startswith("SqlExectionError,")
    assert "error: 26" in sql_error(executor, "clu-pri-01", dict(query, ServerInstance="localhost\\SQL2019"))["message"]
    assert sql_error(executor, "clu-pri-01", dict(query, Username="sa", Password="x"))["fqid"].startswith("LabNotModelled,")
    assert "not accessible for queries" in sql_error(executor, "clu-sec-01", dict(query, Database=DB))["message"]
    for instance in ("localhost", ".", "clu-pri-01", "CLU-PRI-01.lab.test,1433", "tcp:localhost"):
        assert sql_error(executor, "clu-pri-01", dict(query, ServerInstance=instance)) is None, instance


# ---- planned failover (VCS §C.2) ---------------------------------------------------------------------------
def test_planned_failover_to_the_synchronized_secondary(lab):
    executor, world = lab
    group = world.availability_groups[AG]
    assert switch(executor, "clu-pri-02") is None
    # The command returns once accepted; the role change takes TIM §7.4's 10 s.
    assert roles(executor, "clu-pri-02")["CLU-PRI-02"]["operational_state_desc"] == "PENDING_FAILOVER"
    assert not group.database_writable(DB)
    world.clock.advance(10)
    on_new = roles(executor, "clu-pri-02")
    assert on_new["CLU-PRI-02"]["role_desc"] == "PRIMARY" and on_new["CLU-PRI-01"]["role_desc"] == "SECONDARY"
    assert world.clusters["drclu"].group(AG).owner == "clu-pri-02"
    rows = copies(executor, "clu-pri-02", world)
    # No data loss and no suspension; the old primary resynchronizes (VCS §C.2) after a catch-up (TIM §7.4: 30 s + backlog).
    assert not any(r["is_suspended"] for r in rows.values())
    assert rows[("CLU-PRI-01", DB)]["synchronization_state_desc"] == "SYNCHRONIZING"
    world.clock.advance(31)
    assert copies(executor, "clu-pri-02", world)[("CLU-PRI-01", DB)]["synchronization_state_desc"] == "SYNCHRONIZED"
    assert group.database_writable(DB)
    assert [e["change"] for e in executor.audit.entries() if e["kind"] == "sqlag"] == ["failover"]


@pytest.mark.parametrize("host, number", [("clu-sec-01", "cannot become the primary replica"), ("clu-pri-01", "is already the primary replica")])
def test_planned_failover_refusals(lab, host, number):
    executor, world = lab
    error = switch(executor, host)
    assert number in error["message"] and error["fqid"] == "ExecutionFailed,Microsoft.SqlServer.Management.PowerShell.Hadr.SwitchSqlAvailabilityGroupCommand"
    assert world.availability_groups[AG].transition is None and world.availability_groups[AG].primary == "clu-pri-01"


def test_planned_failover_needs_every_database_synchronized(lab):
    executor, world = lab
    assert resume(executor, "clu-pri-02", "SUSDB", cmdlet="Suspend-SqlAvailabilityDatabase") is None
    rows = copies(executor, "clu-pri-01", world)
    assert (rows[("CLU-PRI-02", "SUSDB")]["is_suspended"], rows[("CLU-PRI-02", "SUSDB")]["suspend_reason_desc"]) == (True, "SUSPEND_FROM_USER")
    assert rows[("CLU-PRI-02", DB)]["synchronization_state_desc"] == "SYNCHRONIZED"  # the other database is not affected
    assert "cannot become the primary replica" in switch(executor, "clu-pri-02")["message"]
    assert resume(executor, "clu-pri-02", "SUSDB") is None
    world.clock.advance(31)
    assert switch(executor, "clu-pri-02") is None


def test_script_and_whatif_change_nothing(lab):
    executor, world = lab
    doc = batch(executor, "clu-sec-01", [call("Switch-SqlAvailabilityGroup", {"Path": AG_PATH, "AllowDataLoss": True, "Script": True}, [])])
    assert doc["error"] is None and doc["results"] == [[{}]]
    assert batch(executor, "clu-pri-02", [call("Switch-SqlAvailabilityGroup", {"Path": AG_PATH, "WhatIf": True}, [])])["error"] is None
    assert world.availability_groups[AG].transition is None and world.availability_groups[AG].primary == "clu-pri-01"


@pytest.mark.parametrize("path, fragment", [
    ("SQLSERVER:\\SQL\\localhost\\DEFAULT\\AvailabilityGroups\\OTHER-AG", "Cannot find path"),
    ("SQLSERVER:\\SQL\\localhost\\SQL2019\\AvailabilityGroups\\VMM-AG", "Cannot find path"),
    ("C:\\AvailabilityGroups\\VMM-AG", "Cannot find path"),
    ("SQLSERVER:\\SQL\\clu-pri-01\\DEFAULT\\AvailabilityGroups\\VMM-AG", "ANONYMOUS LOGON"),
])
def test_switch_validates_its_path(lab, path, fragment):
    executor, dummy = lab
    assert fragment in batch(executor, "clu-pri-02", [call("Switch-SqlAvailabilityGroup", {"Path": path}, [])])["error"]["message"]


# ---- disaster: quorum, forced failover, follow-up (VCS §B.3, §C.3, §C.4) -----------------------------------
def test_forced_failover_after_losing_the_primary_site(lab):
    forced_failover_to_the_dr_replica(*lab)


def forced_failover_to_the_dr_replica(executor, world):
    group = world.availability_groups[AG]
    world.clock.advance(60)
    lagging_commit = copies(executor, "clu-pri-01", world)[("CLU-SEC-01", DB)]["last_commit_time"]
    world.set_site_down("primary", True)
    world.clock.advance(30)
    local = roles(executor, "clu-sec-01")["CLU-SEC-01"]
    assert (local["role_desc"], local["operational_state_desc"]) == ("RESOLVING", "FAILED_NO_QUORUM")
    assert not group.database_writable(DB) and not world.vmm_server.database_writable()
    # No quorum: the one case a forced failover is impossible.
    assert "does not have quorum" in switch(executor, "clu-sec-01", AllowDataLoss=True, Force=True)["message"]
    force_quorum(world)
    assert roles(executor, "clu-sec-01")["CLU-SEC-01"]["operational_state_desc"] == "OFFLINE"
    # The cluster does not bring the AG back by itself in forced quorum, and a planned failover is refused.
    assert world.clusters["drclu"].group(AG).state() == "Failed"
    assert "Force Quorum mode" in switch(executor, "clu-sec-01")["message"]
    # -AllowDataLoss prompts; the runner's session is non-interactive.
    error = switch(executor, "clu-sec-01", AllowDataLoss=True)
    assert error["message"] == "Windows PowerShell is in NonInteractive mode. Read and Prompt functionality is not available."
    assert group.transition is None
    assert switch(executor, "clu-sec-01", AllowDataLoss=True, Force=True) is None
    world.clock.advance(15)
    rows = copies(executor, "clu-sec-01", world)
    assert roles(executor, "clu-sec-01")["CLU-SEC-01"]["role_desc"] == "PRIMARY"
    assert group.database_writable(DB) and world.clusters["drclu"].group(AG).state() == "Online"
    # Every other copy is suspended by the forced failover; the new primary continued from what it held.
    assert {k: (r["is_suspended"], r["suspend_reason_desc"]) for k, r in rows.items() if k[0] != "CLU-SEC-01"} == {
        (s, d): (True, "SUSPEND_FROM_PARTNER") for s in ("CLU-PRI-01", "CLU-PRI-02") for d in (DB, "SUSDB")}
    assert at(rows[("CLU-PRI-01", DB)]["last_commit_time"]) > at(lagging_commit)
    assert [e["failover"] for e in executor.audit.entries() if e["kind"] == "sqlag" and e.get("change") == "failover"] == ["forced"]


def test_after_a_forced_failover_the_old_primary_returns_suspended_and_resumes_by_reverting(lab):
    executor, world = lab
    forced_failover_to_the_dr_replica(executor, world)
    world.set_site_down("primary", False)
    world.clock.advance(120)  # nodes boot and join (cluster.py); forced quorum ends with the majority back
    assert not world.clusters["drclu"].forced_quorum
    assert roles(executor, "clu-pri-01")["CLU-PRI-01"]["role_desc"] == "SECONDARY"
    local = copies(executor, "clu-pri-01", world)
    assert local[("CLU-PRI-01", DB)]["suspend_reason_desc"] == "SUSPEND_FROM_PARTNER"
    assert local[("CLU-PRI-01", DB)]["synchronization_state_desc"] == "NOT SYNCHRONIZING"
    assert resume(executor, "clu-pri-01") is None
    world.clock.advance(5)
    # VCS §C.4: the resumed copy rolls back what the new primary never had, then catches up.
    assert copies(executor, "clu-pri-01", world)[("CLU-PRI-01", DB)]["synchronization_state_desc"] == "REVERTING"
    world.clock.advance(10)
    assert copies(executor, "clu-pri-01", world)[("CLU-PRI-01", DB)]["synchronization_state_desc"] == "SYNCHRONIZING"
    world.clock.advance(120)
    # Synchronous on both sides is needed for SYNCHRONIZED: the new primary (clu-sec-01) is asynchronous.
    assert copies(executor, "clu-pri-01", world)[("CLU-PRI-01", DB)]["synchronization_state_desc"] == "SYNCHRONIZING"
    assert "not the primary replica" in set_replica(executor, "clu-pri-01", "CLU-SEC-01", AvailabilityMode="SynchronousCommit")["message"]
    assert set_replica(executor, "clu-sec-01", "CLU-SEC-01", AvailabilityMode="SynchronousCommit") is None
    world.clock.advance(40)
    assert copies(executor, "clu-sec-01", world)[("CLU-PRI-01", DB)]["synchronization_state_desc"] == "SYNCHRONIZED"
    # Planned failback needs every database of the target synchronized: SUSDB is still suspended there.
    assert "cannot become the primary replica" in switch(executor, "clu-pri-01")["message"]
    assert resume(executor, "clu-pri-01", "SUSDB") is None
    world.clock.advance(60)
    assert switch(executor, "clu-pri-01") is None
    world.clock.advance(10)
    assert roles(executor, "clu-pri-01")["CLU-PRI-01"]["role_desc"] == "PRIMARY"
    assert world.clusters["drclu"].group(AG).owner == "clu-pri-01"


def test_wsfc_fails_over_automatically_to_the_synchronized_partner(lab):
    executor, world = lab
    group = world.availability_groups[AG]
    world.set_host_down("clu-pri-01", True)
    world.clock.advance(10)
    assert not group.database_writable(DB)
    world.clock.advance(25)  # node loss noticed after 20 s, the role online on clu-pri-02 10 s later (cluster.py)
    assert roles(executor, "clu-pri-02")["CLU-PRI-02"]["role_desc"] == "PRIMARY"
    assert not any(r["is_suspended"] for r in copies(executor, "clu-pri-02", world).values())
    world.set_host_down("clu-pri-01", False)
    world.clock.advance(80)
    assert copies(executor, "clu-pri-02", world)[("CLU-PRI-01", DB)]["synchronization_state_desc"] == "SYNCHRONIZED"


def test_no_automatic_failover_to_a_partner_that_was_not_synchronized(lab):
    executor, world = lab
    assert resume(executor, "clu-pri-02", cmdlet="Suspend-SqlAvailabilityDatabase") is None
    world.set_host_down("clu-pri-01", True)
    world.clock.advance(40)
    local = roles(executor, "clu-pri-02")["CLU-PRI-02"]
    assert world.clusters["drclu"].group(AG).state() == "Failed"
    assert (local["role_desc"], local["operational_state_desc"]) == ("RESOLVING", "OFFLINE")
    # With quorum, a forced failover from a RESOLVING replica is allowed.
    assert switch(executor, "clu-pri-02", AllowDataLoss=True, Force=True) is None


# ---- settings and faults -------------------------------------------------------------------------------------
def test_set_replica_modes(lab):
    executor, world = lab
    assert "requires the SYNCHRONOUS_COMMIT" in set_replica(executor, "clu-pri-01", "CLU-SEC-01", FailoverMode="Automatic")["message"]
    error = set_replica(executor, "clu-pri-01", "CLU-SEC-01", AvailabilityMode="Synchronous")
    assert error["fqid"].startswith("CannotConvertArgumentNoMessage") and "SynchronousCommit" in error["message"]
    assert set_replica(executor, "clu-pri-01", "CLU-SEC-01", AvailabilityMode="SynchronousCommit", FailoverMode="Automatic") is None
    rows = {r["replica_server_name"]: r for r in sql(executor, "clu-pri-01", REPLICAS)}
    assert (rows["CLU-SEC-01"]["availability_mode_desc"], rows["CLU-SEC-01"]["failover_mode_desc"]) == ("SYNCHRONOUS_COMMIT", "AUTOMATIC")
    assert copies(executor, "clu-pri-01", world)[("CLU-SEC-01", DB)]["synchronization_state_desc"] == "SYNCHRONIZING"
    world.clock.advance(31)
    assert copies(executor, "clu-pri-01", world)[("CLU-SEC-01", DB)]["synchronization_state_desc"] == "SYNCHRONIZED"


def test_fault_ag_resolving_and_quorum_loss_make_every_replica_resolving(lab):
    executor, world = lab
    group = world.availability_groups[AG]
    sqlag.apply_fault(world, {"kind": "ag-resolving", "ag": AG})
    # While the role goes offline (OfflinePending) the primary already stops serving; the world's summary says so.
    assert world.status()["availability_groups"][0]["primary"] is None and not group.database_writable(DB)
    world.clock.advance(6)
    assert {r["role_desc"] for r in roles(executor, "clu-pri-01").values()} == {"RESOLVING"}
    assert roles(executor, "clu-pri-01")["CLU-PRI-01"]["operational_state_desc"] == "OFFLINE"
    assert not group.database_writable(DB)
    sqlag.apply_fault(world, {"kind": "ag-resolving", "ag": AG, "clear": True})
    world.clock.advance(11)
    assert roles(executor, "clu-pri-01")["CLU-PRI-01"]["role_desc"] == "PRIMARY"
    world.clusters["drclu"].set_quorum_lost(True)
    world.clock.advance(25)
    assert roles(executor, "clu-sec-01")["CLU-SEC-01"]["operational_state_desc"] == "FAILED_NO_QUORUM"
    # Without quorum a replica only sees its own rows in sys.availability_replicas, without the cluster's columns.
    assert [(r["replica_server_name"], r["endpoint_url"]) for r in sql(executor, "clu-sec-01", REPLICAS)] == [("CLU-SEC-01", "")]


def test_fault_ag_lag_and_ag_suspend(lab):
    executor, world = lab
    sqlag.apply_fault(world, {"kind": "ag-lag", "host": "clu-sec-01", "seconds": 300})
    world.clock.advance(600)
    assert copies(executor, "clu-pri-01", world)[("CLU-SEC-01", DB)]["secondary_lag_seconds"] == 300
    sqlag.apply_fault(world, {"kind": "ag-suspend", "host": "clu-pri-01", "database": "SUSDB"})
    rows = copies(executor, "clu-pri-01", world)
    # Suspending the primary database stops data movement to every secondary of that database only (VCS §C.4).
    assert {k[0]: r["synchronization_state_desc"] for k, r in rows.items() if k[1] == "SUSDB"} == {
        "CLU-PRI-01": "NOT SYNCHRONIZING", "CLU-PRI-02": "NOT SYNCHRONIZING", "CLU-SEC-01": "NOT SYNCHRONIZING"}
    assert rows[("CLU-PRI-02", DB)]["synchronization_state_desc"] == "SYNCHRONIZED"
    with pytest.raises(ValueError):
        sqlag.apply_fault(world, {"kind": "ag-suspend", "host": "hv-pri-01", "database": "SUSDB"})


def test_resume_on_a_resolving_replica_fails(lab):
    executor, world = lab
    world.set_site_down("primary", True)
    world.clock.advance(30)
    assert "not in the PRIMARY or SECONDARY role" in resume(executor, "clu-sec-01")["message"]


def test_unmodelled_sqlserver_cmdlets_say_so(lab):
    executor, dummy = lab
    error = batch(executor, "clu-pri-01", [call("Test-SqlAvailabilityGroup", {"Path": AG_PATH}, [])])["error"]
    assert error["fqid"].startswith("LabNotModelled,")
