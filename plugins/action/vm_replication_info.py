# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import datetime
import re

from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._runner import RunnerCall
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._windows_action import WindowsActionBase

VM_PROPERTIES = ["Name", "Id", "State", "Status", "ComputerName"]
REPLICATION_PROPERTIES = [
    "VMName", "VMId", "ReplicationMode", "ReplicationState", "ReplicationHealth", "ReplicationRelationshipType",
    "PrimaryServerName", "ReplicaServerName", "ReplicaServerPort", "AuthenticationType", "ReplicationFrequencySec",
    "RecoveryHistory", "VSSSnapshotFrequencyHour", "LastReplicationTime",
]
MEASURE_PROPERTIES = [
    "VMId", "ReplicationRelationshipType", "ReplicationHealthDetails", "LastReplicationType", "PendingReplicationSize",
    "AverageReplicationLatency", "SuccessfulReplicationCount", "MissedReplicationCount",
]
SNAPSHOT_PROPERTIES = ["VMId", "Name", "Id", "SnapshotType", "CreationTime"]
RECOVERY_POINT_TYPES = ("Replica", "AppConsistentReplica", "SyncedReplica")


def parse_utc(text):
    """An ISO-8601 UTC time as the runner prints it (up to 7 fraction digits, Z) -> aware datetime, or None."""
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(?:Z|[+]00:?00)?$", str(text or ""))
    if not match:
        return None
    stamp = datetime.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return stamp + datetime.timedelta(microseconds=int((match.group(2) or "0")[:6].ljust(6, "0")))


def lag_seconds(last_replication_time, host_time):
    """Age of the last applied replication cycle on the host's own clock: the data a failover now would lose at most."""
    last, now = parse_utc(last_replication_time), parse_utc(host_time)
    if last is None or now is None:
        return None
    return max(0, int((now - last).total_seconds()))


def shape_replication(relationship, measure, host_time=None):
    """The module's view of one VMReplication object (+ its Measure-VMReplication statistics)."""
    measure = measure or {}
    return {
        "mode": relationship["ReplicationMode"],
        "state": relationship["ReplicationState"],
        "health": relationship["ReplicationHealth"],
        "health_details": list(measure.get("ReplicationHealthDetails") or []),
        "primary_server": relationship["PrimaryServerName"],
        "replica_server": relationship["ReplicaServerName"],
        "replica_port": relationship["ReplicaServerPort"],
        "authentication_type": relationship["AuthenticationType"],
        "frequency_sec": relationship["ReplicationFrequencySec"],
        "recovery_history": relationship["RecoveryHistory"],
        "vss_snapshot_frequency_hours": relationship["VSSSnapshotFrequencyHour"],
        "last_replication_time": relationship["LastReplicationTime"],
        "lag_seconds": lag_seconds(relationship["LastReplicationTime"], host_time),
        "last_replication_type": measure.get("LastReplicationType"),
        "pending_replication_size": measure.get("PendingReplicationSize"),
        "average_replication_latency_seconds": measure.get("AverageReplicationLatency"),
        "successful_replication_count": measure.get("SuccessfulReplicationCount"),
        "missed_replication_count": measure.get("MissedReplicationCount"),
    }


def assemble(vms, relationships, measures, snapshots=None, host_time=None):
    """Join the four cmdlet outputs on the VM ID. Only the simple (not extended) relationship is reported."""
    simple = {r["VMId"]: r for r in relationships if r.get("ReplicationRelationshipType", "Simple") == "Simple"}
    stats = {m["VMId"]: m for m in measures if m.get("ReplicationRelationshipType", "Simple") == "Simple"}
    points = {}
    for snap in snapshots or []:
        if snap["SnapshotType"] in RECOVERY_POINT_TYPES:
            points.setdefault(snap["VMId"], []).append(
                {"name": snap["Name"], "id": snap["Id"], "type": snap["SnapshotType"], "creation_time": snap["CreationTime"]}
            )
    out = []
    for vm in sorted(vms, key=lambda v: v["Name"].lower()):
        relationship = simple.get(vm["Id"])
        entry = {
            "name": vm["Name"],
            "id": vm["Id"],
            "state": vm["State"],
            "status": vm["Status"],
            "computer_name": vm["ComputerName"],
            "replication": shape_replication(relationship, stats.get(vm["Id"]), host_time) if relationship else None,
        }
        if snapshots is not None:
            # ISO-8601 UTC strings of one format sort chronologically.
            entry["recovery_points"] = sorted(points.get(vm["Id"], []), key=lambda p: p["creation_time"] or "", reverse=True)
        out.append(entry)
    return out


class ActionModule(WindowsActionBase):

    argument_spec = {
        "name": {"type": "list", "elements": "str", "aliases": ["vm_name"]},
        "recovery_points": {"type": "bool", "default": False},
    }

    def run_module(self, args):
        names = args["name"]
        calls = [
            RunnerCall("Get-VM", {"Name": names} if names else {}, VM_PROPERTIES),
            RunnerCall("Get-VMReplication", {}, REPLICATION_PROPERTIES),
            RunnerCall("Measure-VMReplication", {}, MEASURE_PROPERTIES),
        ]
        if args["recovery_points"]:
            calls.append(RunnerCall("Get-VMSnapshot", {"VMName": names or ["*"]}, SNAPSHOT_PROPERTIES))
        results = self.run_calls(calls)
        snapshots = results[3] if args["recovery_points"] else None
        return {"changed": False, "host_time": self.host_time,
                "vms": assemble(results[0], results[1], results[2], snapshots, self.host_time)}

    def explain_error(self, error):
        if error.cmdlet == "Get-VM" and error.target:
            return (
                "No virtual machine named '%s' on Hyper-V host %s (Get-VM: %s). Check the name, or run the task "
                "against the host that holds the VM." % (error.target, self.host_name, error.message)
            )
        return "%s failed on Hyper-V host %s: %s [%s]" % (error.cmdlet, self.host_name, error.message, error.fqid)
