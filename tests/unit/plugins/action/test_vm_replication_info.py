# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import functools

import pytest
from ansible.errors import AnsibleConnectionFailure

from ansible_collections.site_recovery.hyperv.plugins.action.vm_replication_info import ActionModule, assemble
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._runner import BOOTSTRAP
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.action_harness import NTLM_HTTP, make_action, runner_reply, sent_calls

VM_ID = "6b3c0a55-0000-4000-8000-000000000001"
VMS = [
    {"Name": "web01", "Id": VM_ID, "State": "Running", "Status": "Operating normally", "ComputerName": "HV-PRI-02"},
    {"Name": "Apache", "Id": "x-2", "State": "Off", "Status": "Operating normally", "ComputerName": "HV-PRI-02"},
]
REPLICATION = [
    {"VMName": "web01", "VMId": VM_ID, "ReplicationMode": "Replica", "ReplicationState": "Replicating",
     "ReplicationHealth": "Warning", "ReplicationRelationshipType": "Simple", "PrimaryServerName": "hv-pri-02.lab.test",
     "ReplicaServerName": "hv-sec-02.lab.test", "ReplicaServerPort": 80, "AuthenticationType": "Kerberos",
     "ReplicationFrequencySec": 300, "RecoveryHistory": 4, "VSSSnapshotFrequencyHour": 0,
     "LastReplicationTime": "2026-11-25T20:05:00.000Z"},
    {"VMName": "web01", "VMId": VM_ID, "ReplicationMode": "ExtendedReplica", "ReplicationState": "Replicating",
     "ReplicationHealth": "Normal", "ReplicationRelationshipType": "Extended", "PrimaryServerName": "hv-sec-02.lab.test",
     "ReplicaServerName": "hv-dr-02.lab.test", "ReplicaServerPort": 80, "AuthenticationType": "Kerberos",
     "ReplicationFrequencySec": 900, "RecoveryHistory": 0, "VSSSnapshotFrequencyHour": 0, "LastReplicationTime": None},
]
MEASURES = [{"VMId": VM_ID, "ReplicationRelationshipType": "Simple", "ReplicationHealthDetails": ["Replication missed 3 cycles"],
             "LastReplicationType": "Regular", "PendingReplicationSize": 4096, "AverageReplicationLatency": 2.5,
             "SuccessfulReplicationCount": 9, "MissedReplicationCount": 3}]
SNAPSHOTS = [
    {"VMId": VM_ID, "Name": "web01 - Standard Replica - (11/25/2026 - 7:00:00 PM)", "Id": "s1", "SnapshotType": "Replica",
     "CreationTime": "2026-11-25T19:00:00.000Z"},
    {"VMId": VM_ID, "Name": "web01 - Standard Replica - (11/25/2026 - 8:00:00 PM)", "Id": "s2", "SnapshotType": "AppConsistentReplica",
     "CreationTime": "2026-11-25T20:00:00.000Z"},
    {"VMId": VM_ID, "Name": "before patching", "Id": "s3", "SnapshotType": "Standard", "CreationTime": "2026-11-25T20:01:00.000Z"},
]


def test_assemble_joins_on_vm_id_and_sorts_by_name():
    vms = assemble(VMS, REPLICATION, MEASURES)
    assert [v["name"] for v in vms] == ["Apache", "web01"]
    assert vms[0]["replication"] is None
    repl = vms[1]["replication"]
    # The simple relationship is reported, not the extended one.
    assert (repl["mode"], repl["health"], repl["replica_server"]) == ("Replica", "Warning", "hv-sec-02.lab.test")
    assert repl["health_details"] == ["Replication missed 3 cycles"]
    assert repl["missed_replication_count"] == 3
    assert "recovery_points" not in vms[1]


def test_lag_is_measured_on_the_host_clock():
    vms = assemble(VMS, REPLICATION, MEASURES, host_time="2026-11-25T20:09:05.1234567Z")
    assert vms[1]["replication"]["lag_seconds"] == 245
    # no host clock (an older runner) or no cycle yet: unknown, not zero
    assert assemble(VMS, REPLICATION, MEASURES)[1]["replication"]["lag_seconds"] is None
    never = [dict(REPLICATION[0], LastReplicationTime=None)]
    assert assemble(VMS, never, MEASURES, host_time="2026-11-25T20:09:05Z")[1]["replication"]["lag_seconds"] is None


def test_assemble_recovery_points_newest_first_and_only_replica_types():
    vms = assemble(VMS, REPLICATION, MEASURES, SNAPSHOTS)
    assert [p["id"] for p in vms[1]["recovery_points"]] == ["s2", "s1"]
    assert vms[0]["recovery_points"] == []


_action = functools.partial(make_action, ActionModule, connection_options=NTLM_HTTP)


def test_run_sends_one_batch_and_returns_vms():
    action, connection = _action({"name": ["web01"], "recovery_points": True},
                                 [runner_reply([VMS[:1], REPLICATION, MEASURES, SNAPSHOTS], now="2026-11-25T20:06:00.0000000Z")])
    result = action.run(task_vars={"inventory_hostname": "hv-sec-02"})
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert [v["name"] for v in result["vms"]] == ["web01"]
    assert result["host_time"] == "2026-11-25T20:06:00.0000000Z"
    assert result["vms"][0]["replication"]["lag_seconds"] == 60
    assert connection.exec_command.call_count == 1
    cmd, = connection.exec_command.call_args.args
    assert cmd == BOOTSTRAP
    calls = sent_calls(connection, -1)
    assert [c["cmdlet"] for c in calls] == ["Get-VM", "Get-VMReplication", "Measure-VMReplication", "Get-VMSnapshot"]
    assert calls[0]["params"] == {"Name": ["web01"]}
    assert calls[3]["params"] == {"VMName": ["web01"]}


def test_unknown_vm_names_the_vm_and_host():
    error = {"index": 0, "cmdlet": "Get-VM", "message": 'Hyper-V was unable to find a virtual machine with name "nope".',
             "fqid": "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM", "category": "InvalidArgument", "target": "nope"}
    action, dummy = _action({"name": ["nope"]}, [runner_reply([], error)])
    result = action.run(task_vars={"inventory_hostname": "hv-pri-01"})
    assert result["failed"] is True
    assert "No virtual machine named 'nope' on Hyper-V host hv-pri-01" in result["msg"]
    assert result["error"]["fully_qualified_error_id"] == error["fqid"]


def test_bad_argument_fails_before_contacting_the_host():
    action, connection = _action({"recovery_points": "maybe"}, [])
    result = action.run(task_vars={"inventory_hostname": "hv-pri-01"})
    assert result["failed"] is True
    assert "recovery_points" in result["msg"]
    connection.exec_command.assert_not_called()


def test_non_windows_connection_is_refused_clearly():
    action, connection = _action({}, [], transport="ssh")
    result = action.run(task_vars={"inventory_hostname": "hv-pri-01"})
    assert result["failed"] is True
    assert "ansible_connection=winrm" in result["msg"]
    connection.exec_command.assert_not_called()


@pytest.mark.parametrize("options, message, hint", [
    ({"transport": ["basic"], "scheme": "http"}, "basic: the specified credentials were rejected by the server",
     "Basic authentication over plain HTTP is refused"),
    ({"transport": ["ntlm"], "scheme": "http"}, "ntlm: the specified credentials were rejected by the server",
     "check ansible_user and ansible_password"),
    ({"transport": ["ntlm"], "scheme": "http"}, "ntlm: HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded",
     "did not answer"),
])
def test_connection_failures_stay_unreachable_with_a_hint(options, message, hint):
    action, dummy = make_action(ActionModule, {}, AnsibleConnectionFailure(message), connection_options=options)
    with pytest.raises(AnsibleConnectionFailure) as info:
        action.run(task_vars={"inventory_hostname": "hv-pri-01"})
    assert message in str(info.value)
    assert hint in str(info.value)
