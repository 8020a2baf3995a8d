"""LabExecutor fed the collection's real BOOTSTRAP and stdin (plugins/plugin_utils/_runner.py)."""

import json

import pytest

from lab._powershell import StdinReader
from lab.audit import AuditLog
from lab.clock import Clock
from lab.runner_host import LabExecutor
from lab.world import World
from tests.lab.runner_harness import RUNNER, START, call, make_lab, run


@pytest.fixture(name="lab")
def lab_fixture(tmp_path):
    return make_lab(tmp_path)


def test_batch_of_reads_on_the_primary(lab):
    executor, world, audit = lab
    result = run(executor, "hv-pri-02", [
        call("Get-VM", {"Name": ["web0*", "sql01"]}, ["Name", "Id", "State", "ReplicationMode", "Uptime", "VMName"]),
        call("Get-VMReplication", {"ReplicationMode": "Primary"}, ["VMName", "ReplicationState", "ReplicationHealth",
                                                                   "LastReplicationTime", "ReplicaServerName", "ReplicationFrequencySec"]),
    ])
    assert result.rc == 0 and result.errors == []
    assert result.stdout.endswith("\r\n") and "\n" not in result.stdout[:-2]
    doc = json.loads(result.stdout)
    assert doc["v"] == 1 and doc["error"] is None
    vms = doc["results"][0]
    assert [v["Name"] for v in vms] == ["web01", "web03", "sql01"]
    assert vms[0]["Id"] == world.vm("hv-pri-02", "web01").id
    assert vms[0]["State"] == "Running" and vms[0]["ReplicationMode"] == "Primary"
    assert vms[0]["Uptime"] >= 3 * 86400 and vms[0]["VMName"] is None  # not a VirtualMachine property
    reps = doc["results"][1]
    assert sorted(r["VMName"] for r in reps) == ["app01", "app03", "sql01", "web01", "web03"]
    assert reps[0]["LastReplicationTime"] == "2026-11-25T20:00:00.000Z"
    assert reps[0]["ReplicaServerName"] == "hv-sec-02.lab.test" and reps[0]["ReplicationFrequencySec"] == 300


def test_recovery_points_and_health_on_the_replica(lab):
    executor, world, audit = lab
    result = run(executor, "hv-sec-02", [
        call("Get-VMSnapshot", {"VMName": "sql01", "SnapshotType": "AppConsistentReplica"}, ["Name", "SnapshotType", "CreationTime", "Id"]),
        call("Measure-VMReplication", {"VMName": "web01"},
             ["VMName", "ReplicationHealth", "ReplicationHealthDetails", "AverageReplicationLatency", "ReplicationMode"]),
        call("Get-VMReplicationServer", {}, ["ReplicationEnabled", "AllowedAuthenticationType", "MonitoringInterval"]),
        call("Get-VMHost", {}, ["Name", "FullyQualifiedDomainName"]),
    ])
    doc = json.loads(result.stdout)
    assert result.rc == 0, doc
    snaps = doc["results"][0]
    assert len(snaps) == 6 and {s["SnapshotType"] for s in snaps} == {"AppConsistentReplica"}
    assert snaps[0]["CreationTime"].endswith(".000Z")
    assert doc["results"][1] == [{"VMName": "web01", "ReplicationHealth": "Normal", "ReplicationHealthDetails": [],
                                  "AverageReplicationLatency": 2, "ReplicationMode": "Replica"}]
    assert doc["results"][2] == [{"ReplicationEnabled": True, "AllowedAuthenticationType": "Kerberos", "MonitoringInterval": 43200}]
    assert doc["results"][3] == [{"Name": "hv-sec-02", "FullyQualifiedDomainName": "hv-sec-02.lab.test"}]


def test_first_error_stops_the_batch(lab):
    executor, world, audit = lab
    result = run(executor, "hv-pri-02", [
        call("Get-VM", {"Name": "web01"}, ["Name"]),
        call("Get-VM", {"Name": "web99"}, ["Name"]),
        call("Get-VMHost", {}, ["Name"]),
    ])
    assert result.rc == 1
    doc = json.loads(result.stdout)
    assert doc["results"] == [[{"Name": "web01"}]]
    assert doc["error"] == {"index": 1, "cmdlet": "Get-VM", "message": 'Hyper-V was unable to find a virtual machine with name "web99".',
                            "fqid": "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM", "category": "InvalidArgument",
                            "target": "web99"}
    calls = [e for e in audit.entries() if e["kind"] == "cmdlet"]
    assert [(e["cmdlet"], e["outcome"]) for e in calls] == [("Get-VM", "ok"), ("Get-VM", "error")]
    assert calls[1]["fqid"] == "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM"
    assert calls[0]["parameter_set"] == "Name" and calls[0]["objects"] == 1 and calls[0]["host"] == "hv-pri-02"
    assert calls[0]["ts"].startswith("2026-11-25T20:00")


def test_error_action_silently_continue_drops_the_miss(lab):
    executor, world, audit = lab
    result = run(executor, "hv-pri-02", [call("Get-VM", {"Name": ["web01", "web99"], "ErrorAction": "SilentlyContinue"}, ["Name"])])
    assert result.rc == 0 and json.loads(result.stdout)["results"] == [[{"Name": "web01"}]]


def test_binding_errors_and_unknown_cmdlets_come_back_with_powershell_ids(lab):
    executor, world, audit = lab
    result = run(executor, "hv-pri-02", [call("Get-VM", {"Force": True}, ["Name"])])
    err = json.loads(result.stdout)["error"]
    assert err["fqid"] == "NamedParameterNotFound,Microsoft.HyperV.PowerShell.Commands.GetVM" and err["target"] is None
    # ConvertTo-Json in Windows PowerShell 5.1 escapes the apostrophes.
    assert "\\u0027Force\\u0027" in result.stdout
    result = run(executor, "hv-pri-02", [call("Get-Nothing", {}, [])])
    err = json.loads(result.stdout)["error"]
    assert err["fqid"] == "CommandNotFoundException" and err["category"] == "ObjectNotFound" and err["target"] == "Get-Nothing"


def test_documented_but_unmodelled_cmdlet_does_not_pretend(lab):
    executor, world, audit = lab
    result = run(executor, "hv-sec-02", [call("Import-VMInitialReplication", {"VMName": "web01", "Path": "E:\\ir"}, [])])
    err = json.loads(result.stdout)["error"]
    assert result.rc == 1
    assert err["message"] == "The DR lab does not model Import-VMInitialReplication yet."
    assert err["fqid"].startswith("LabNotModelled")
    assert world.vm("hv-sec-02", "web01").replication.state == "Replicating"


def test_replication_filters_and_missing_replication(lab, tmp_path):
    executor, world, audit = lab
    result = run(executor, "hv-sec-03", [
        call("Get-VMReplication", {"ReplicationHealth": "Warning"}, ["VMName"]),
        call("Get-VMReplication", {"PrimaryServerName": "hv-pri-03.lab.test", "VMName": "sql*"}, ["VMName", "PrimaryServerName"]),
    ])
    doc = json.loads(result.stdout)
    assert doc["results"] == [[], [{"VMName": "sql02", "PrimaryServerName": "hv-pri-03.lab.test"}]]
    topo = tmp_path / "t.yml"
    topo.write_text("domain: lab.test\ncredentials: {username: 'LAB\\x'}\nsites: {a: {hosts: [h1]}, b: {hosts: [h2]}}\n"
                    "vms: [{name: solo, host: h1}]\n")
    clock = Clock(scale=1e-6, start=START)
    other = LabExecutor(World.load(str(topo), clock, AuditLog(None)), AuditLog(None))
    err = json.loads(run(other, "h1", [call("Get-VMReplication", {"VMName": "solo"}, ["VMName"])]).stdout)["error"]
    assert err["fqid"] == "InvalidOperation,Microsoft.HyperV.PowerShell.Commands.GetVMReplication" and err["target"] == "solo"


def test_not_the_bootstrap_is_not_recognized(lab):
    executor, world, audit = lab
    stdin = StdinReader()
    stdin.close()
    result = executor.run_powershell("hv-pri-01", "Get-Process | Select-Object -First 1", stdin)
    assert result.rc == 1 and result.stdout == ""
    assert result.errors[0].fqid == "CommandNotFoundException"
    assert result.errors[0].message.startswith("The term 'Get-Process' is not recognized")
    entry = audit.entries()[-1]
    assert entry["kind"] == "script" and entry["recognized"] is False and entry["script"].startswith("Get-Process")


def test_bootstrap_with_a_foreign_runner_is_refused(lab):
    executor, world, audit = lab
    stdin = StdinReader()
    stdin.feed(b"Write-Output 'hi'\n\0\0\0\0\n{}\n", True)
    result = executor.run_powershell("hv-pri-01", RUNNER.BOOTSTRAP, stdin)
    assert result.rc == 1 and result.errors[0].fqid == "LabNotModelled"


def test_secrets_are_masked_in_the_audit(lab):
    executor, world, audit = lab
    run(executor, "hv-pri-01", [call("Get-VM", {"Credential": "hunter2"}, ["Name"])])
    entry = [e for e in audit.entries() if e["kind"] == "cmdlet"][-1]
    assert entry["params"] == {"Credential": "********"} and "hunter2" not in json.dumps(audit.entries())


def test_each_side_reports_its_own_state(lab):
    executor, world, audit = lab
    rel = world.vm("hv-pri-02", "web01").replication
    world.set_replication_state(rel, "PreparedForFailover", host="hv-pri-02")
    select = ["VMName", "ReplicationState", "ReplicationHealth", "ReplicationMode"]
    primary = json.loads(run(executor, "hv-pri-02", [call("Get-VMReplication", {"VMName": "web01"}, select)]).stdout)
    replica = json.loads(run(executor, "hv-sec-02", [call("Get-VMReplication", {"VMName": "web01"}, select)]).stdout)
    assert primary["results"][0] == [{"VMName": "web01", "ReplicationState": "PreparedForFailover", "ReplicationHealth": "Warning",
                                      "ReplicationMode": "Primary"}]
    assert replica["results"][0] == [{"VMName": "web01", "ReplicationState": "Replicating", "ReplicationHealth": "Normal",
                                      "ReplicationMode": "Replica"}]
