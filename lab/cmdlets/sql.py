"""SqlServer module cmdlets, answered from the lab's availability groups (lab/world/sqlag.py).

Sources: vmm-cluster-sql-notes.md §C (VCS) and the Microsoft pages its legend names; the DMV and catalog-view
columns are those of their pages in MicrosoftDocs/sql-docs (docs/relational-databases/system-dynamic-management-views/
and .../system-catalog-views/, the versions the reference read). Handler signature as in hyperv.py:
(world, host_name, bound) -> list of objects.

Reading (VCS §C.1 names two ways; the lab models one): Invoke-Sqlcmd runs a query against the host's
default instance and writes one System.Data.DataRow per row, whose properties are the result columns. The lab
understands the single-view form the collection sends, `SELECT <columns> FROM <view>` (or `*`), over five views:
sys.availability_groups, sys.availability_replicas, sys.dm_hadr_availability_replica_states,
sys.dm_hadr_database_replica_states and sys.dm_hadr_database_replica_cluster_states, each with the
documented row semantics (a secondary returns only its own rows, VCS §C.1). An unknown object or column gets
SQL Server's error 208 / 207; any other SQL (joins, filters, functions, DML) fails as not modelled.
NULL columns are DBNull values, which the runner renders as "" (DBNull is no ValueType; ToString() is empty).

Acting: Switch-SqlAvailabilityGroup, Resume-/Suspend-SqlAvailabilityDatabase and Set-SqlAvailabilityReplica
with -Path SQLSERVER:\\SQL\\<Computer>\\<Instance>\\AvailabilityGroups\\<AG>[\\AvailabilityDatabases\\<DB> |
\\AvailabilityReplicas\\<Replica>] (VCS §C.1). The SQL Server PowerShell provider names the default instance DEFAULT.
The -InputObject sets need SMO objects from Get-Item on those paths, which the lab does not model.

The SqlServer module (and SQL Server) exist only on the hosts that run a replica's instance; elsewhere the
cmdlets are not recognized (INFERRED: the lab installs them with the instance).
"""

from __future__ import annotations

import datetime
import re
import uuid

from lab._powershell import not_recognized
from lab.cmdlets.errors import CmdletError, not_modelled, record
from lab.cmdlets.objects import PSObject
from lab.world import sqlag

_LOCAL_NAMES = ("localhost", ".", "(local)", "127.0.0.1")
_MASTER_DBS = ("master", "msdb", "model", "tempdb")
# [SQLDOCS:dm-db-states] / [SQLDOCS:dm-ar-states] numeric codes of the *_desc columns.
_SYNC_CODES = {sqlag.NOT_SYNCHRONIZING: 0, sqlag.SYNCHRONIZING: 1, sqlag.SYNCHRONIZED: 2, sqlag.REVERTING: 3, "INITIALIZING": 4}
_HEALTH_CODES = {"NOT_HEALTHY": 0, "PARTIALLY_HEALTHY": 1, "HEALTHY": 2}
_ROLE_CODES = {sqlag.RESOLVING: 0, sqlag.PRIMARY: 1, sqlag.SECONDARY: 2}
_OPERATIONAL_CODES = {"PENDING_FAILOVER": 0, "PENDING": 1, "ONLINE": 2, "OFFLINE": 3, "FAILED": 4, "FAILED_NO_QUORUM": 5}
_DB_STATE_CODES = {"ONLINE": 0, "RESTORING": 1, "RECOVERING": 2, "RECOVERY_PENDING": 3, "SUSPECT": 4, "EMERGENCY": 5, "OFFLINE": 6}
_SUSPEND_CODES = {sqlag.SUSPEND_FROM_USER: 0, sqlag.SUSPEND_FROM_PARTNER: 1}
_MODE_CODES = {sqlag.ASYNC: 0, sqlag.SYNC: 1}
_FAILOVER_CODES = {sqlag.AUTOMATIC: 0, sqlag.MANUAL: 1}
# Set-SqlAvailabilityReplica enum names (SMO) -> the model's.
_SMO_MODES = {"SynchronousCommit": sqlag.SYNC, "AsynchronousCommit": sqlag.ASYNC}
_SMO_FAILOVER = {"Automatic": sqlag.AUTOMATIC, "Manual": sqlag.MANUAL}
ENDPOINT_PORT = 5022  # INFERRED: the database mirroring endpoint's customary port


class DBNull:
    """[System.DBNull]::Value: what a DataRow holds for SQL NULL; its string form is empty."""

    def __str__(self) -> str:
        return ""

    def __repr__(self) -> str:
        return "DBNull"


NULL = DBNull()


def _null(value):
    return NULL if value is None else value


# ---- errors --------------------------------------------------------------------------------------------
def _query_error(bound, number: int, message: str) -> CmdletError:
    """A SQL error in the batch (severity 16): a non-terminating error the runner's ErrorAction Stop makes terminating.
    INFERRED layout of the message (SQL text, then the Msg line), fqid and reason as Invoke-Sqlcmd transcripts show them."""
    text = "{0}\n Msg {1}, Level 16, State 1, Procedure , Line 1.".format(message, number)
    return CmdletError(record(text, "SqlError," + bound.command_type, "InvalidOperation", "SqlPowerShellSqlExecutionException",
                              command=bound.cmdlet), terminating=False)


def _connection_error(bound, message: str, target: str) -> CmdletError:
    # Invoke-Sqlcmd's connection failures carry the (misspelt) id SqlExectionError in transcripts. INFERRED category.
    return CmdletError(record(message, "SqlExectionError," + bound.command_type, "InvalidOperation", "SqlException", target=target,
                              command=bound.cmdlet))


def _not_found(bound, path: str) -> CmdletError:
    """PowerShell's ItemNotFoundException for a provider path that does not exist."""
    return CmdletError(record("Cannot find path '{0}' because it does not exist.".format(path), "PathNotFound," + bound.command_type,
                              "ObjectNotFound", "ItemNotFoundException", target=path, command=bound.cmdlet))


def _sql_failed(bound, exc: sqlag.AgError) -> CmdletError:
    # INFERRED: the Hadr cmdlets report SQL Server's message (the innermost SqlException); fqid as their other failures.
    return CmdletError(record(exc.message, "ExecutionFailed," + bound.command_type, "InvalidOperation", "SqlException",
                              command=bound.cmdlet))


def _no_prompt(bound) -> CmdletError:
    """The runner's powershell.exe runs -NonInteractive: a confirmation prompt fails (wording of Read-Host's transcript)."""
    return CmdletError(record("Windows PowerShell is in NonInteractive mode. Read and Prompt functionality is not available.",
                              "System.Management.Automation.PSInvalidOperationException," + bound.command_type, "InvalidOperation",
                              "PSInvalidOperationException", command=bound.cmdlet))


def _unsupported(bound, *pnames: str) -> None:
    for pname in pnames:
        if bound.params.get(pname) not in (None, False):
            raise not_modelled(bound.cmdlet, bound.command_type, "-" + pname)


# ---- the instance on this host -------------------------------------------------------------------------
def _groups(world, host_name: str, bound) -> list:
    groups = sqlag.groups_on(world, host_name)
    if not groups:
        raise CmdletError(not_recognized(bound.cmdlet))
    now = world.clock.now()
    for group in groups:
        group.sync(now)
    return groups


def _is_local(world, host_name: str, computer: str) -> bool:
    host = world.host(host_name)
    return computer.lower() in (host.name.lower(), host.fqdn.lower()) + _LOCAL_NAMES


def _check_server_instance(world, host_name: str, bound) -> None:
    """-ServerInstance: the local default instance ('localhost', '.', the host's name, optionally ',port')."""
    raw = bound.params.get("ServerInstance")
    if isinstance(raw, list):
        if len(raw) != 1:
            raise not_modelled(bound.cmdlet, bound.command_type, "with several -ServerInstance values")
        raw = raw[0]
    text = str(raw or "localhost").strip()
    if text.lower().startswith(("tcp:", "np:", "lpc:")):
        text = text.split(":", 1)[1]
    server, dummy, instance = text.partition("\\")
    server = server.split(",", 1)[0]
    if _is_local(world, host_name, server):
        if instance:
            # INFERRED: only a default instance runs on the lab's nodes; a named instance is not found.
            raise _connection_error(bound, "A network-related or instance-specific error occurred while establishing a connection to "
                                           "SQL Server. The server was not found or was not accessible. Verify that the instance name is "
                                           "correct and that SQL Server is configured to allow remote connections. (provider: SQL Network "
                                           "Interfaces, error: 26 - Error Locating Server/Instance Specified)", text)
        return
    try:
        world.host(server)
    except KeyError:
        raise _connection_error(bound, "A network-related or instance-specific error occurred while establishing a connection to SQL "
                                       "Server. The server was not found or was not accessible. Verify that the instance name is correct "
                                       "and that SQL Server is configured to allow remote connections. (provider: Named Pipes Provider, "
                                       "error: 40 - Could not open a connection to SQL Server)", text) from None
    # A WinRM session opened with NTLM carries no delegable credentials: the second hop logs in anonymously (INFERRED,
    # the classic double-hop symptom).
    raise _connection_error(bound, "Login failed for user 'NT AUTHORITY\\ANONYMOUS LOGON'.", text)


# ---- the SQL the lab understands ------------------------------------------------------------------------
_IDENT = r"(?:\[[^\]]+\]|[A-Za-z_][\w$#@]*)"
_SELECT = re.compile(r"^\s*SELECT\s+(?P<cols>.+?)\s+FROM\s+(?P<view>{0}(?:\s*\.\s*{0}){{0,2}})(?:\s+(?:AS\s+)?(?P<alias>{0}))?\s*;?\s*$"
                     .format(_IDENT), re.IGNORECASE | re.DOTALL)
_COLUMN = re.compile(r"^(?:(?P<qual>{0})\s*\.\s*)?(?P<name>{0}|\*)(?:\s+(?:AS\s+)?(?P<alias>{0}))?$".format(_IDENT), re.IGNORECASE)
_KEYWORDS = ("where", "join", "order", "group", "union", "top", "distinct", "into", "having", "with", "apply")


def _unbracket(name: str) -> str:
    return name[1:-1] if name.startswith("[") and name.endswith("]") else name


def parse_query(text: str) -> tuple[str, list[tuple[str, str]]] | None:
    """(view, [(column, output name)]) for `SELECT cols FROM view`; None for any other SQL."""
    if "--" in text or "/*" in text or "$(" in text:
        return None
    match = _SELECT.match(text)
    if match is None:
        return None
    view = ".".join(_unbracket(part.strip()) for part in match.group("view").split(".")).lower()
    if match.group("alias") and match.group("alias").lower() in _KEYWORDS:
        return None
    view_alias = (match.group("alias") or "").lower()
    columns = []
    for raw in match.group("cols").split(","):
        col = _COLUMN.match(raw.strip())
        if col is None or (col.group("alias") or "").lower() in _KEYWORDS:
            return None
        qual = _unbracket(col.group("qual") or "").lower()
        if qual and qual not in (view_alias, view.rsplit(".", maxsplit=1)[-1]):
            return None
        name = _unbracket(col.group("name"))
        columns.append((name, _unbracket(col.group("alias") or name)))
    return view, columns


# ---- views ----------------------------------------------------------------------------------------------
def _ts(moment: datetime.datetime | None):
    return _null(moment)


def _local_replica(group, host_name: str):
    return group.replica_on(host_name)


def _lsn(value):
    return _null(sqlag.lsn(value))


def availability_groups_rows(world, host_name: str, now) -> list[dict]:
    """sys.availability_groups: a row per AG the local instance hosts a replica of (cached metadata, quorum or not)."""
    rows = []
    for group in sqlag.groups_on(world, host_name):
        rows.append({
            "group_id": group.group_id, "name": group.name, "resource_id": group.resource_id,
            "resource_group_id": group.resource_group_id, "failure_condition_level": 3, "health_check_timeout": 30000,
            "automated_backup_preference": 2, "automated_backup_preference_desc": "SECONDARY", "version": 1,
            "basic_features": False, "dtc_support": False, "db_failover": False, "is_distributed": False, "cluster_type": 0,
            "cluster_type_desc": "WSFC", "required_synchronized_secondaries_to_commit": 0, "sequence_number": group.sequence,
            "is_contained": False,
        })
    return rows


def availability_replicas_rows(world, host_name: str, now) -> list[dict]:
    """sys.availability_replicas: every replica of the local instance's AGs; without quorum only the local one, with
    only the locally cached columns (INFERRED which: ids, names, owner, dates; endpoint_url NULL as documented)."""
    rows = []
    for group in sqlag.groups_on(world, host_name):
        local = _local_replica(group, host_name)
        talks = group.has_quorum(local.server)
        for index, (server, replica) in enumerate(sorted(group.replicas.items())):
            is_local = replica is local
            if not talks and not is_local:
                continue
            row = {
                "replica_id": replica.replica_id, "group_id": group.group_id, "replica_metadata_id": 65536 + index,
                "replica_server_name": replica.server_name,
                "owner_sid": [1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0] if is_local else NULL,
                "endpoint_url": "TCP://{0}:{1}".format(world.host(server).fqdn, ENDPOINT_PORT) if talks else NULL,
                "availability_mode": _MODE_CODES[replica.availability_mode], "availability_mode_desc": replica.availability_mode,
                "failover_mode": _FAILOVER_CODES[replica.failover_mode], "failover_mode_desc": replica.failover_mode,
                "session_timeout": 10,  # TIM §3.2: 10,000 ms
                "primary_role_allow_connections": 2, "primary_role_allow_connections_desc": "ALL",
                "secondary_role_allow_connections": 0, "secondary_role_allow_connections_desc": "NO",
                "create_date": replica.created if is_local else NULL, "modify_date": replica.modified if is_local else NULL,
                "backup_priority": 50, "read_only_routing_url": NULL,
            }
            if not talks:
                for key in ("availability_mode", "availability_mode_desc", "failover_mode", "failover_mode_desc", "session_timeout",
                            "primary_role_allow_connections", "primary_role_allow_connections_desc", "secondary_role_allow_connections",
                            "secondary_role_allow_connections_desc", "backup_priority"):
                    row[key] = NULL
            rows.append(row)
    return rows


def _worst_health(healths: list[str]) -> str | None:
    if not healths:
        return None
    return min(healths, key=lambda h: _HEALTH_CODES[h])


def _copy_health(group, copy, now) -> str:
    return group.health(copy.replica, group.sync_state(copy, now))


def _connected(group, server: str) -> bool:
    """[SQLDOCS:dm-ar-states] connected_state: a secondary tracks its link to the primary, the primary each secondary's."""
    primary = group.online_primary()
    return primary is not None and group.has_quorum(server)


def replica_states_rows(world, host_name: str, now) -> list[dict]:
    """sys.dm_hadr_availability_replica_states: the local row; on the primary also a row per remote replica (VCS §C.1)."""
    rows = []
    for group in sqlag.groups_on(world, host_name):
        local = _local_replica(group, host_name)
        role, operational = group.role(local.server)
        servers = sorted(group.replicas) if role == sqlag.PRIMARY else [local.server]
        for server in servers:
            rows.append(_replica_state_row(group, server, server == local.server, now))
    return rows


def _replica_state_row(group, server: str, is_local: bool, now) -> dict:
    replica = group.replicas[server]
    copies = [group.copies[(server, db)] for db in group.databases]
    health = _worst_health([_copy_health(group, c, now) for c in copies])
    connected = _connected(group, server)
    if is_local:
        role, operational = group.role(server)
        states = [group.database_state(c) for c in copies]
        recovery = "ONLINE" if all(s == "ONLINE" for s in states) else "ONLINE_IN_PROGRESS"
    else:
        # Remote rows: operational state and recovery health are NULL; the role is known only while connected.
        role = group.role(server)[0] if connected else None
        operational = recovery = None
    return {
        "replica_id": replica.replica_id, "group_id": group.group_id, "is_local": is_local,
        "role": _null(_ROLE_CODES.get(role)), "role_desc": _null(role),
        "operational_state": _null(_OPERATIONAL_CODES.get(operational)), "operational_state_desc": _null(operational),
        "recovery_health": _null({"ONLINE_IN_PROGRESS": 0, "ONLINE": 1}.get(recovery)), "recovery_health_desc": _null(recovery),
        "synchronization_health": _null(_HEALTH_CODES.get(health)), "synchronization_health_desc": _null(health),
        "connected_state": 1 if connected else 0, "connected_state_desc": "CONNECTED" if connected else "DISCONNECTED",
        "last_connect_error_number": NULL, "last_connect_error_description": NULL, "last_connect_error_timestamp": NULL,
    }


def database_states_rows(world, host_name: str, now) -> list[dict]:
    """sys.dm_hadr_database_replica_states: local copies; on the primary also every secondary copy as last reported."""
    rows = []
    for group in sqlag.groups_on(world, host_name):
        local = _local_replica(group, host_name)
        role, dummy = group.role(local.server)
        servers = sorted(group.replicas) if role == sqlag.PRIMARY else [local.server]
        for db_index, db in enumerate(group.databases):
            for server in servers:
                rows.append(_database_state_row(group, group.copies[(server, db)], server == local.server, 5 + db_index, now))
    return rows


def _database_state_row(group, copy, is_local: bool, database_id: int, now) -> dict:
    timeline = group.timelines[copy.database]
    primary = group.online_primary()
    is_primary = copy.replica == primary
    state = group.sync_state(copy, now)
    health = group.health(copy.replica, state)
    commit = group.commit_of(copy, now)
    pos = group.pos_of(copy, now)
    primary_pos = timeline.pos(timeline.last_commit(now))
    flowing = copy.mode == "flowing"
    db_state = group.database_state(copy) if is_local else None
    lag = None
    if flowing and primary is not None and not is_local:
        # [SQLDOCS:dm-db-states] secondary_lag_seconds: how far the secondary is behind "during synchronization";
        # INFERRED: NULL on the primary's own row, on a secondary's local row and for copies not synchronizing.
        lag = int(round((timeline.last_commit(now) - commit).total_seconds()))
    secondary = not is_primary
    truncation = min(group.pos_of(c, now) for (s, d), c in group.copies.items() if d == copy.database)
    return {
        "database_id": database_id, "group_id": group.group_id, "replica_id": group.replicas[copy.replica].replica_id,
        "group_database_id": group_database_id(group, copy.database), "is_local": is_local, "is_primary_replica": is_primary,
        "synchronization_state": _SYNC_CODES[state], "synchronization_state_desc": state,
        "is_commit_participant": bool(flowing and state == sqlag.SYNCHRONIZED),
        "synchronization_health": _HEALTH_CODES[health], "synchronization_health_desc": health,
        "database_state": _null(_DB_STATE_CODES.get(db_state)), "database_state_desc": _null(db_state),
        "is_suspended": copy.suspended, "suspend_reason": _null(_SUSPEND_CODES.get(copy.suspend_reason)),
        "suspend_reason_desc": _null(copy.suspend_reason),
        "recovery_lsn": _lsn(timeline.spans[-1][2]), "truncation_lsn": _lsn(truncation),
        "last_sent_lsn": _lsn(pos) if secondary else NULL, "last_sent_time": _ts(commit) if secondary else NULL,
        "last_received_lsn": _lsn(pos) if secondary else NULL, "last_received_time": _ts(commit) if secondary else NULL,
        "last_hardened_lsn": _lsn(pos) if secondary else NULL, "last_hardened_time": _ts(commit) if secondary else NULL,
        "last_redone_lsn": _lsn(pos) if secondary else NULL, "last_redone_time": _ts(commit) if secondary else NULL,
        "log_send_queue_size": int(max(0.0, primary_pos - pos) * sqlag.LOG_BYTES_PER_S / 1024) if secondary else NULL,
        "log_send_rate": int(sqlag.SEND_BYTES_PER_S / 1024) if flowing else 0,
        "redo_queue_size": 0 if secondary else NULL, "redo_rate": int(sqlag.SEND_BYTES_PER_S / 1024) if flowing else 0,
        "filestream_send_rate": 0, "end_of_log_lsn": _lsn(pos), "last_commit_lsn": _lsn(pos), "last_commit_time": commit,
        "low_water_mark_for_ghosts": int(pos), "secondary_lag_seconds": _null(lag),
    }


def group_database_id(group, db: str) -> str:
    return str(uuid.uuid5(uuid.UUID(group.group_id), db.lower()))


def cluster_states_rows(world, host_name: str, now) -> list[dict]:
    """sys.dm_hadr_database_replica_cluster_states: every replica x database of the local instance's AGs, from the
    cluster's store; is_failover_ready keeps its value without quorum, the other flags are NULL then (documented)."""
    rows = []
    for group in sqlag.groups_on(world, host_name):
        local = _local_replica(group, host_name)
        quorum = group.has_quorum(local.server)
        is_primary = group.online_primary() == local.server
        for db in group.databases:
            timeline = group.timelines[db]
            truncation = min(group.pos_of(c, now) for (s, d), c in group.copies.items() if d == db)
            for server, replica in sorted(group.replicas.items()):
                rows.append({
                    "replica_id": replica.replica_id, "group_database_id": group_database_id(group, db), "database_name": db,
                    "is_failover_ready": group.ready[(server, db)],
                    "is_pending_secondary_suspend": False if quorum else NULL, "is_database_joined": True if quorum else NULL,
                    "recovery_lsn": _lsn(timeline.spans[-1][2]) if is_primary and server != local.server else NULL,
                    "truncation_lsn": _lsn(truncation),
                })
    return rows


# View name -> (documented columns, in the pages' order; rows).
VIEWS = {
    "sys.availability_groups": (
        ("group_id", "name", "resource_id", "resource_group_id", "failure_condition_level", "health_check_timeout",
         "automated_backup_preference", "automated_backup_preference_desc", "version", "basic_features", "dtc_support", "db_failover",
         "is_distributed", "cluster_type", "cluster_type_desc", "required_synchronized_secondaries_to_commit", "sequence_number",
         "is_contained"), availability_groups_rows),
    "sys.availability_replicas": (
        ("replica_id", "group_id", "replica_metadata_id", "replica_server_name", "owner_sid", "endpoint_url", "availability_mode",
         "availability_mode_desc", "failover_mode", "failover_mode_desc", "session_timeout", "primary_role_allow_connections",
         "primary_role_allow_connections_desc", "secondary_role_allow_connections", "secondary_role_allow_connections_desc",
         "create_date", "modify_date", "backup_priority", "read_only_routing_url"), availability_replicas_rows),
    "sys.dm_hadr_availability_replica_states": (
        ("replica_id", "group_id", "is_local", "role", "role_desc", "operational_state", "operational_state_desc", "recovery_health",
         "recovery_health_desc", "synchronization_health", "synchronization_health_desc", "connected_state", "connected_state_desc",
         "last_connect_error_number", "last_connect_error_description", "last_connect_error_timestamp"), replica_states_rows),
    "sys.dm_hadr_database_replica_states": (
        ("database_id", "group_id", "replica_id", "group_database_id", "is_local", "is_primary_replica", "synchronization_state",
         "synchronization_state_desc", "is_commit_participant", "synchronization_health", "synchronization_health_desc",
         "database_state", "database_state_desc", "is_suspended", "suspend_reason", "suspend_reason_desc", "recovery_lsn",
         "truncation_lsn", "last_sent_lsn", "last_sent_time", "last_received_lsn", "last_received_time", "last_hardened_lsn",
         "last_hardened_time", "last_redone_lsn", "last_redone_time", "log_send_queue_size", "log_send_rate", "redo_queue_size",
         "redo_rate", "filestream_send_rate", "end_of_log_lsn", "last_commit_lsn", "last_commit_time", "low_water_mark_for_ghosts",
         "secondary_lag_seconds"), database_states_rows),
    "sys.dm_hadr_database_replica_cluster_states": (
        ("replica_id", "group_database_id", "database_name", "is_failover_ready", "is_pending_secondary_suspend",
         "is_database_joined", "recovery_lsn", "truncation_lsn"), cluster_states_rows),
}


def _data_row(columns: list[tuple[str, str]], row: dict) -> PSObject:
    """A System.Data.DataRow: the result columns as properties, then the DataRow's own."""
    props = {}
    for name, output in columns:
        props[output] = row[name.lower()]
    values = list(props.values())
    props.update({"RowError": "", "RowState": "Unchanged", "Table": "", "ItemArray": values, "HasErrors": False})
    return PSObject("System.Data.DataRow", props, "System.Data.DataRow")


def run_query(world, host_name: str, bound, text: str) -> list[PSObject]:
    parsed = parse_query(text)
    if parsed is None:
        raise not_modelled(bound.cmdlet, bound.command_type, "for this query (the lab answers SELECT <columns> FROM <one AG view>)")
    view, wanted = parsed
    name = view[len("master."):] if view.startswith("master.") else view
    if name not in VIEWS:
        raise _query_error(bound, 208, "Invalid object name '{0}'.".format(view))
    documented, rows_of = VIEWS[name]
    columns = []
    for column, output in wanted:
        if column == "*":
            columns.extend((c, c) for c in documented)
        elif column.lower() in documented:
            columns.append((column.lower(), output))
        else:
            raise _query_error(bound, 207, "Invalid column name '{0}'.".format(column))
    return [_data_row(columns, row) for row in rows_of(world, host_name, world.clock.now())]


# ---- handlers ---------------------------------------------------------------------------------------------
def invoke_sqlcmd(world, host_name: str, bound) -> list:
    groups = _groups(world, host_name, bound)
    if bound.parameter_set != "ByConnectionParameters":
        raise not_modelled(bound.cmdlet, bound.command_type, "-ConnectionString")
    # The lab models Windows (integrated) authentication only.
    _unsupported(bound, "Username", "Password", "Credential", "AccessToken", "NewPassword", "InputFile", "Variable",
                 "DedicatedAdministratorConnection", "StatisticsVariable")
    output = bound.params.get("OutputAs")
    if output not in (None, "DataRows"):
        raise not_modelled(bound.cmdlet, bound.command_type, "-OutputAs " + output)
    _check_server_instance(world, host_name, bound)
    _check_database(world, bound, groups, host_name)
    query = bound.params.get("Query")
    if not query:
        raise not_modelled(bound.cmdlet, bound.command_type, "without -Query")
    return run_query(world, host_name, bound, query)


def _check_database(world, bound, groups, host_name: str) -> None:
    database = bound.params.get("Database")
    if not database or database.lower() in _MASTER_DBS:
        return
    for group in groups:
        db = group.database_name(database)
        if db is None:
            continue
        copy = group.copies[(group.replica_on(host_name).server, db)]
        if group.online_primary() == copy.replica and group.database_state(copy) == "ONLINE":
            return
        # Error 976 (text as SQL Server writes it): a non-readable secondary's database does not accept connections.
        raise _connection_error(bound, "The target database, '{0}', is participating in an availability group and is currently not "
                                       "accessible for queries. Either data movement is suspended or the availability replica is not "
                                       "enabled for read access. To allow read-only access to this and other databases in the "
                                       "availability group, enable read access to one or more secondary availability replicas in the "
                                       "group.  For more information, see the ALTER AVAILABILITY GROUP statement in SQL Server Books "
                                       "Online.".format(db), database)
    raise _connection_error(bound, "Cannot open database \"{0}\" requested by the login. The login failed.\nLogin failed for user "
                                   "'{1}'.".format(database, world.credentials["username"]), database)


def _decode(segment: str) -> str:
    """The SQL Server provider escapes \\ / : % . and friends as %XX in path segments."""
    return re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), segment)


def resolve_path(world, host_name: str, bound, path: str, leaf: str):
    """-Path -> (group, local replica, leaf name): leaf "group", "database" or "replica" (VCS §C.1 path shapes)."""
    parts = path.strip().replace("/", "\\").rstrip("\\").split("\\")
    want = {"group": 6, "database": 8, "replica": 8}[leaf]
    if len(parts) != want or parts[0].lower() != "sqlserver:" or parts[1].lower() != "sql":
        raise _not_found(bound, path)
    computer, instance = _decode(parts[2]), _decode(parts[3])
    if not _is_local(world, host_name, computer):
        try:
            world.host(computer)
        except KeyError:
            raise _not_found(bound, path) from None
        # INFERRED: the provider connects to the other computer's instance and the second hop logs in anonymously.
        raise _connection_error(bound, "Failed to connect to server {0}. --> Login failed for user 'NT AUTHORITY\\ANONYMOUS "
                                       "LOGON'.".format(computer), computer)
    if instance.upper() != "DEFAULT" or parts[4].lower() != "availabilitygroups":
        raise _not_found(bound, path)
    group = next((g for g in sqlag.groups_on(world, host_name) if g.name.lower() == _decode(parts[5]).lower()), None)
    if group is None:
        raise _not_found(bound, path)
    local = group.replica_on(host_name)
    if leaf == "group":
        return group, local, None
    container, name = parts[6].lower(), _decode(parts[7])
    if leaf == "database" and container == "availabilitydatabases" and group.database_name(name):
        return group, local, group.database_name(name)
    if leaf == "replica" and container == "availabilityreplicas":
        found = next((s for s, r in group.replicas.items() if r.server_name.lower() == name.lower()), None)
        if found:
            return group, local, found
    raise _not_found(bound, path)


def _paths(bound) -> list[str]:
    if bound.parameter_set == "ByObject":
        raise not_modelled(bound.cmdlet, bound.command_type, "-InputObject (SMO objects from Get-Item on SQLSERVER: paths)")
    paths = bound.params.get("Path")
    if not paths:
        raise not_modelled(bound.cmdlet, bound.command_type, "without -Path (the current SQLSERVER: location)")
    return paths if isinstance(paths, list) else [paths]


def _whatif(bound) -> bool:
    return bool(bound.params.get("WhatIf") or bound.common.get("WhatIf"))


def switch_availability_group(world, host_name: str, bound) -> list:
    """VCS §C.2/§C.3: run on the target; -AllowDataLoss forces, and prompts unless -Force (or -Script)."""
    _groups(world, host_name, bound)
    targets = [resolve_path(world, host_name, bound, path, "group") for path in _paths(bound)]
    allow = bool(bound.params.get("AllowDataLoss"))
    if bound.params.get("Script"):
        verb = "FORCE_FAILOVER_ALLOW_DATA_LOSS" if allow else "FAILOVER"
        return ["ALTER AVAILABILITY GROUP [{0}] {1};".format(group.name, verb) for group, dummy, dummy2 in targets]
    if _whatif(bound):
        return []
    if bound.params.get("Confirm") or (allow and not bound.params.get("Force")):
        raise _no_prompt(bound)
    now = world.clock.now()
    for group, local, dummy in targets:
        try:
            group.failover(local.server, allow, now)
        except sqlag.AgError as exc:
            raise _sql_failed(bound, exc) from None
    return []  # the documented OUTPUTS are empty: the command returns once the target accepted it (VCS §C.2)


def _set_hadr(world, host_name: str, bound, suspended: bool) -> list:
    _groups(world, host_name, bound)
    targets = [resolve_path(world, host_name, bound, path, "database") for path in _paths(bound)]
    if bound.params.get("Script"):
        return ["ALTER DATABASE [{0}] SET HADR {1};".format(db, "SUSPEND" if suspended else "RESUME") for dummy, dummy2, db in targets]
    if _whatif(bound):
        return []
    if bound.params.get("Confirm"):
        raise _no_prompt(bound)
    now = world.clock.now()
    for group, local, db in targets:
        try:
            group.set_suspended(local.server, db, suspended, now)
        except sqlag.AgError as exc:
            raise _sql_failed(bound, exc) from None
    return []


def resume_availability_database(world, host_name: str, bound) -> list:
    """VCS §C.4: resumes data movement of the database copy on this instance."""
    return _set_hadr(world, host_name, bound, False)


def suspend_availability_database(world, host_name: str, bound) -> list:
    """VCS §C.4: on a secondary the copy falls behind; on the primary every secondary stops receiving."""
    return _set_hadr(world, host_name, bound, True)


def set_availability_replica(world, host_name: str, bound) -> list:
    """VCS §C.4: availability and failover mode of a replica, run on the primary."""
    _groups(world, host_name, bound)
    _unsupported(bound, "EndpointUrl", "SessionTimeout", "ConnectionModeInPrimaryRole", "ConnectionModeInSecondaryRole",
                 "BackupPriority", "ReadOnlyRoutingList", "ReadonlyRoutingConnectionUrl", "SeedingMode", "LoadBalancedReadOnlyRoutingList")
    (group, local, server), = [resolve_path(world, host_name, bound, path, "replica") for path in _paths(bound)]
    mode, failover = bound.params.get("AvailabilityMode"), bound.params.get("FailoverMode")
    if bound.params.get("Script"):
        parts = []
        if mode:
            parts.append("AVAILABILITY_MODE = {0}".format(_SMO_MODES.get(mode, mode.upper())))
        if failover:
            parts.append("FAILOVER_MODE = {0}".format(failover.upper()))
        return ["ALTER AVAILABILITY GROUP [{0}] MODIFY REPLICA ON N'{1}' WITH ({2});".format(
            group.name, group.replicas[server].server_name, part) for part in parts]
    if _whatif(bound):
        return []
    if bound.params.get("Confirm"):
        raise _no_prompt(bound)
    try:
        if mode is not None and mode not in _SMO_MODES:
            # sys.availability_replicas: "You cannot change the availability mode of a replica to CONFIGURATION_ONLY". INFERRED text.
            raise sqlag.AgError("The availability mode of availability replica '{0}' cannot be changed to {1}.".format(
                group.replicas[server].server_name, mode))
        if failover is not None and failover not in _SMO_FAILOVER:
            raise sqlag.AgError("The failover mode {0} is not supported by availability group '{1}' (cluster type WSFC).".format(
                failover, group.name))  # INFERRED text
        group.set_replica(server, _SMO_MODES.get(mode), _SMO_FAILOVER.get(failover), world.clock.now(), on=local.server)
    except sqlag.AgError as exc:
        raise _sql_failed(bound, exc) from None
    return []


HANDLERS = {
    "Invoke-Sqlcmd": invoke_sqlcmd,
    "Switch-SqlAvailabilityGroup": switch_availability_group,
    "Resume-SqlAvailabilityDatabase": resume_availability_database,
    "Suspend-SqlAvailabilityDatabase": suspend_availability_database,
    "Set-SqlAvailabilityReplica": set_availability_replica,
}
