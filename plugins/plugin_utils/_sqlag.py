# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the SQL Server availability group modules share: the fixed DMV queries, the shape of an AG as one
instance sees it, the provider paths and the wait for a change to settle.

PRIVATE to the collection: no compatibility promise.

Reading. The SqlServer module has no Get- cmdlet for availability groups; the modules read them with
``Invoke-Sqlcmd`` and five fixed single-view queries (below), one round trip for all five. Each
query is ``SELECT <columns> FROM <view>``: no filter and no join, so the text never carries a
user value (the controller filters by AG name and joins on replica_id / group_database_id).
``Invoke-Sqlcmd`` writes DataRow objects; the runner's ``select`` projects their columns, and a
SQL NULL (DBNull) arrives as an empty string, which ``_value`` turns back into None.

What one instance can see (sys.dm_hadr_* pages): the primary returns rows for every replica and
every database copy; a secondary (or a RESOLVING replica) returns only its own rows. Whether a
copy is ready for a failover without data loss comes from
``sys.dm_hadr_database_replica_cluster_states.is_failover_ready``, which every replica reads from
the cluster's store and which keeps its value when the primary or quorum is lost.

Acting goes through the SQL Server PowerShell provider paths the cmdlet docs use:
``SQLSERVER:\\SQL\\<computer>\\<instance>\\AvailabilityGroups\\<AG>[\\AvailabilityDatabases\\<DB>]``.
"""

from __future__ import annotations

import datetime
import re
import time

from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._runner import RunnerCall

DEFAULT_INSTANCE = "MSSQLSERVER"
# The view and the columns of each query; the query text is built from them (and only from them).
QUERIES = (
    ("groups", "sys.availability_groups", ("group_id", "name")),
    ("replicas", "sys.availability_replicas", ("replica_id", "group_id", "replica_server_name", "availability_mode_desc",
                                               "failover_mode_desc")),
    ("replica_states", "sys.dm_hadr_availability_replica_states", ("replica_id", "group_id", "is_local", "role_desc",
                                                                   "operational_state_desc", "connected_state_desc",
                                                                   "recovery_health_desc", "synchronization_health_desc")),
    ("database_states", "sys.dm_hadr_database_replica_states", ("replica_id", "group_id", "group_database_id", "is_local",
                                                                "is_primary_replica", "synchronization_state_desc",
                                                                "synchronization_health_desc", "database_state_desc", "is_suspended",
                                                                "suspend_reason_desc", "end_of_log_lsn", "last_commit_time",
                                                                "secondary_lag_seconds")),
    ("cluster_states", "sys.dm_hadr_database_replica_cluster_states", ("replica_id", "group_database_id", "database_name",
                                                                       "is_failover_ready", "is_database_joined")),
)
QUERY_TIMEOUT_S = 30

SYNCHRONIZED, SYNCHRONIZING, NOT_SYNCHRONIZING = "SYNCHRONIZED", "SYNCHRONIZING", "NOT SYNCHRONIZING"
# [SQLDOCS:forced]: forcing a failover to a copy in these states leaves the database unable to start as primary.
UNSTARTABLE = ("REVERTING", "INITIALIZING")
SYNC_COMMIT = "SYNCHRONOUS_COMMIT"

# The options every AG module takes (documented in each module).
CONNECTION_SPEC = {
    "sql_instance": {"type": "str", "default": DEFAULT_INSTANCE},
    "trust_server_certificate": {"type": "bool", "default": False},
}

_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$")
WAIT_FIRST_DELAY = 1.0
WAIT_MAX_DELAY = 10.0


def query_text(view, columns):
    return "SELECT %s FROM %s" % (", ".join(columns), view)


def server_instance(instance):
    """-ServerInstance of the local instance: the default instance is the computer itself."""
    if not instance or instance.upper() == DEFAULT_INSTANCE:
        return "localhost"
    return "localhost\\" + instance


def connection_params(args):
    return {"TrustServerCertificate": True} if args.get("trust_server_certificate") else {}


def read_calls(args):
    """The five Invoke-Sqlcmd calls that read every AG of the instance (one runner batch)."""
    calls = []
    for dummy, view, columns in QUERIES:
        params = {"ServerInstance": server_instance(args.get("sql_instance")), "Database": "master", "Query": query_text(view, columns),
                  "QueryTimeout": QUERY_TIMEOUT_S}
        params.update(connection_params(args))
        calls.append(RunnerCall("Invoke-Sqlcmd", params, list(columns)))
    return calls


def _encode(segment):
    """The SQL Server provider escapes characters of names that are special in paths as %XX."""
    return "".join("%%%02X" % ord(ch) if ch in "\\/:%<>*?[]|.\"'" else ch for ch in segment)


def provider_path(instance, ag_name, database=None, replica=None):
    """SQLSERVER:\\SQL\\localhost\\<DEFAULT|instance>\\AvailabilityGroups\\<AG>[\\AvailabilityDatabases\\<DB>|...]."""
    name = "DEFAULT" if not instance or instance.upper() == DEFAULT_INSTANCE else instance
    path = "SQLSERVER:\\SQL\\localhost\\%s\\AvailabilityGroups\\%s" % (_encode(name), _encode(ag_name))
    if database is not None:
        path += "\\AvailabilityDatabases\\" + _encode(database)
    if replica is not None:
        path += "\\AvailabilityReplicas\\" + _encode(replica)
    return path


# ---- shaping ---------------------------------------------------------------------------------------------
def _value(value):
    """SQL NULL comes back as "" (DBNull's string form): None."""
    return None if value == "" else value


def _flag(value):
    value = _value(value)
    if value is None:
        return None
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def parse_time(value):
    """The runner's UTC times (milliseconds) and its host clock ([DateTime]::UtcNow.ToString('o'), seven digits)."""
    value = _value(value)
    match = _TIME.match(value or "")
    if not match:
        return None
    stamp = datetime.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return stamp + datetime.timedelta(microseconds=int((match.group(2) or "0").ljust(6, "0")[:6]))


def _seconds_between(later, earlier):
    if later is None or earlier is None:
        return None
    return round((later - earlier).total_seconds(), 3)


def shape(results, host_time=None):
    """The AGs of the instance, by lower-cased name, as this instance sees them (see the module docstring)."""
    rows = dict(zip([q[0] for q in QUERIES], results))
    now = parse_time(host_time) if host_time else None
    replicas = {r["replica_id"]: r for r in rows["replicas"]}
    states = {r["replica_id"]: r for r in rows["replica_states"]}
    cluster = {(r["replica_id"], r["group_database_id"]): r for r in rows["cluster_states"]}
    db_names = {r["group_database_id"]: r["database_name"] for r in rows["cluster_states"]}
    copies = {(r["replica_id"], r["group_database_id"]): r for r in rows["database_states"]}
    out = {}
    for group in rows["groups"]:
        gid = group["group_id"]
        members = {rid for rid, r in replicas.items() if r["group_id"] == gid} | {rid for rid, r in states.items() if r["group_id"] == gid}
        dbs = {db for (rid, db), r in copies.items() if r["group_id"] == gid} | {db for (rid, db) in cluster if rid in members}
        # The cluster's store lists every replica, even those a replica without quorum no longer shows in its catalog.
        members = sorted(members | {rid for (rid, db) in cluster if db in dbs})
        dbs = sorted(dbs, key=lambda d: str(db_names.get(d)).lower())
        local = next((rid for rid in members if _flag(states.get(rid, {}).get("is_local"))), None)
        local_role = _value(states.get(local, {}).get("role_desc"))
        view = {
            "name": group["name"], "group_id": gid,
            "local_replica": _value(replicas.get(local, {}).get("replica_server_name")),
            "local_role": local_role,
            "local_operational_state": _value(states.get(local, {}).get("operational_state_desc")),
            # Only the primary returns rows for every replica and database copy.
            "complete_view": local_role == "PRIMARY",
            "databases": [db_names.get(d, d) for d in dbs],
            "replicas": [],
        }
        primary_commits = {}
        for rid in members:
            for db in dbs:
                row = copies.get((rid, db))
                if row is not None and _flag(row.get("is_primary_replica")):
                    primary_commits[db] = parse_time(row.get("last_commit_time"))
        for rid in members:
            view["replicas"].append(_replica(rid, replicas.get(rid, {}), states.get(rid), dbs, db_names, copies, cluster,
                                             primary_commits, now))
        view["primary_replica"] = next((r["server_name"] for r in view["replicas"] if r["role"] == "PRIMARY"), None)
        out[group["name"].lower()] = view
    return out


def _replica(rid, catalog, state, dbs, db_names, copies, cluster, primary_commits, now):
    state = state or {}
    databases = []
    for db in dbs:
        databases.append(_copy(db_names.get(db, db), copies.get((rid, db)), cluster.get((rid, db)), primary_commits.get(db), now))
    mode = _value(catalog.get("availability_mode_desc"))
    ready = [d["is_failover_ready"] for d in databases]
    return {
        "server_name": _value(catalog.get("replica_server_name")),
        "replica_id": rid,
        "is_local": bool(_flag(state.get("is_local"))),
        "role": _value(state.get("role_desc")),
        "operational_state": _value(state.get("operational_state_desc")),
        "connected_state": _value(state.get("connected_state_desc")),
        "recovery_health": _value(state.get("recovery_health_desc")),
        "synchronization_health": _value(state.get("synchronization_health_desc")),
        "availability_mode": mode,
        "failover_mode": _value(catalog.get("failover_mode_desc")),
        # A planned failover needs synchronous commit and every database marked failover ready in the cluster.
        "planned_failover_ready": None if mode is None or None in ready else (mode == SYNC_COMMIT and all(ready)),
        "databases": databases,
    }


def _copy(name, row, cluster_row, primary_commit, now):
    cluster_row = cluster_row or {}
    seen = row is not None
    row = row or {}
    commit = parse_time(row.get("last_commit_time"))
    primary = _flag(row.get("is_primary_replica"))
    return {
        "name": name,
        "visible": seen,  # False: this instance returns no row for the copy (it is not the primary)
        "synchronization_state": _value(row.get("synchronization_state_desc")),
        "synchronization_health": _value(row.get("synchronization_health_desc")),
        "database_state": _value(row.get("database_state_desc")),
        "is_suspended": _flag(row.get("is_suspended")),
        "suspend_reason": _value(row.get("suspend_reason_desc")),
        "is_failover_ready": _flag(cluster_row.get("is_failover_ready")),
        "is_joined": _flag(cluster_row.get("is_database_joined")),
        "end_of_log_lsn": _value(row.get("end_of_log_lsn")),
        "last_commit_time": _value(row.get("last_commit_time")),
        "secondary_lag_seconds": _value(row.get("secondary_lag_seconds")),
        # The difference to the primary's last commit approximates the RPO ([SQLDOCS:dm-db-states] last_commit_time);
        # known only where the primary's row is visible.
        "estimated_data_loss_seconds": 0.0 if primary else _seconds_between(primary_commit, commit),
        # Age of the last commit this copy holds, on the host's clock: the most a failover to it could lose if the
        # primary kept committing until now.
        "last_commit_age_seconds": _seconds_between(now, commit),
    }


def local_replica(view):
    return next((r for r in view["replicas"] if r["is_local"]), None)


def at_risk(replica):
    """The copies of a failover target that are not marked failover ready: what a forced failover may lose."""
    return [d for d in replica["databases"] if d["is_failover_ready"] is not True]


def describe_copy(copy):
    """One line on a database copy for messages: state, suspension, last commit and its age."""
    parts = [copy["synchronization_state"] or "state unknown"]
    if copy["is_suspended"]:
        parts.append("suspended (%s)" % (copy["suspend_reason"] or "reason unknown"))
    if copy["last_commit_time"]:
        age = copy["last_commit_age_seconds"]
        parts.append("last commit %s%s" % (copy["last_commit_time"], " (%s s ago)" % age if age is not None else ""))
    return "%s: %s" % (copy["name"], ", ".join(parts))


def data_loss_window(replica):
    """Per database of a replica: what a failover to it stands to lose, as far as this instance can tell."""
    return [{"database": d["name"], "is_failover_ready": d["is_failover_ready"], "synchronization_state": d["synchronization_state"],
             "last_commit_time": d["last_commit_time"], "last_commit_age_seconds": d["last_commit_age_seconds"],
             "estimated_data_loss_seconds": d["estimated_data_loss_seconds"]} for d in replica["databases"]]


class AGActionMixin:
    """Reading and waiting shared by the AG action plugins (mixed into WindowsActionBase)."""

    def read_groups(self, args):
        return shape(self.run_calls(read_calls(args)), self.host_time)

    def find_group(self, args, groups):
        """The AG the task names, as the local instance sees it; a message when it has no replica here."""
        view = groups.get(args["name"].lower())
        if view is None:
            hosted = ", ".join(sorted(v["name"] for v in groups.values())) or "none"
            return None, ("The SQL Server instance %s on %s hosts no replica of availability group '%s' (availability groups there: %s). "
                          "Run the task on a node that hosts a replica of it." % (args["sql_instance"], self.host_name, args["name"], hosted))
        return view, None

    def wait_until(self, args, done, timeout):
        """Re-read with backoff until done(groups) is true or timeout seconds passed; (groups, timed_out)."""
        deadline = time.monotonic() + timeout
        delay = WAIT_FIRST_DELAY
        while True:
            groups = self.read_groups(args)
            if done(groups):
                return groups, False
            if timeout <= 0 or time.monotonic() + delay > deadline:
                return groups, timeout > 0
            time.sleep(delay)
            delay = min(delay * 2, WAIT_MAX_DELAY)

    def explain_error(self, error):
        if getattr(error, "explained", False):
            return error.message
        if (error.fqid or "").startswith("CommandNotFoundException"):
            return ("The SqlServer PowerShell module is not available on %s (%s): run the task on a node whose SQL Server instance hosts "
                    "an availability replica." % (self.host_name, error.message))
        return "%s failed on %s: %s [%s]" % (error.cmdlet, self.host_name, error.message, error.fqid or error.category)
