"""vm_replication_server against the standalone lab over real WinRM: compare, set only what differs, authorize primaries."""

from __future__ import annotations

import json

PLAY = """
- hosts: {host}
  gather_facts: false
  tasks:
    - name: task
      site_recovery.hyperv.{module}: {args}
"""
READS = {"Get-VMReplicationServer", "Get-VMReplicationAuthorizationEntry", "Get-VM", "Get-VMReplication"}
ENTRY = {"server": "hv-pri-01.lab.test", "storage_location": "E:\\Replica\\pri-01", "trust_group": "primary"}


def task(lab, host, args, check=False, diff=False, module="vm_replication_server"):
    extra = ["--diff"] if diff else []
    run = lab.playbook(PLAY.format(host=host, module=module, args=json.dumps(args)), *extra, check=check)
    return run.results("task")[host]


def new_cmdlets(lab, since):
    return [e for e in lab.audit()[since:] if e["kind"] == "cmdlet"]


def test_live_settings_are_a_no_op(lab):
    host = lab.world.host("hv-sec-02")
    mark = len(lab.audit())
    result = task(lab, "hv-sec-02", {"enabled": True, "allowed_authentication_types": host.auth_type, "kerberos_port": host.kerberos_port})
    assert result["_status"] == "ok", result.get("msg")
    assert result["changed"] is False and result["actions"] == []
    assert result["before"]["enabled"] is True
    assert {e["cmdlet"] for e in new_cmdlets(lab, mark)} <= READS


def test_monitoring_window_and_authorization_entry(lab):
    host = lab.world.host("hv-sec-01")
    args = {"monitoring_interval_hours": 24, "monitoring_start_time": "06:00", "allowed_primary_servers": [ENTRY]}
    before = (host.monitoring_interval_s, host.monitoring_start_s, list(host.auth_entries))
    mark = len(lab.audit())
    result = task(lab, "hv-sec-01", args, check=True)
    assert result["changed"] is True
    assert result["actions"] == [
        "Set-VMReplicationServer -MonitoringInterval 1.00:00:00 -MonitoringStartTime 06:00:00 -Force",
        "New-VMReplicationAuthorizationEntry -AllowedPrimaryServer hv-pri-01.lab.test -ReplicaStorageLocation E:\\Replica\\pri-01 "
        "-TrustGroup primary",
    ]
    assert result["after"]["monitoring_interval_hours"] == 24
    assert (host.monitoring_interval_s, host.monitoring_start_s, list(host.auth_entries)) == before
    assert {e["cmdlet"] for e in new_cmdlets(lab, mark)} <= READS

    result = task(lab, "hv-sec-01", args, diff=True)
    assert result["changed"] is True, result.get("msg")
    assert (result["after"]["monitoring_interval_hours"], result["after"]["monitoring_start_time"]) == (24, "06:00:00")
    assert result["after"]["allowed_primary_servers"] == [ENTRY]
    assert result["diff"]["before"]["monitoring_interval_hours"] == 12
    assert (host.monitoring_interval_s, host.monitoring_start_s) == (86400, 6 * 3600)
    assert [e["AllowedPrimaryServer"] for e in host.auth_entries] == ["hv-pri-01.lab.test"]
    assert task(lab, "hv-sec-01", args)["changed"] is False


def test_only_authorized_primaries_once_any_server_is_off(lab):
    world = lab.world
    # Free web02 (hv-pri-03) of its relationship so that it can be enabled towards hv-sec-01.
    for host in ("hv-pri-03", "hv-sec-03"):
        assert task(lab, host, {"name": "web02", "state": "absent"}, module="vm_replication")["changed"] is True
    assert task(lab, "hv-sec-01", {"allow_any_server": False, "allowed_primary_servers": [ENTRY]})["changed"] is True
    assert world.host("hv-sec-01").allow_any_server is False

    enable = {"name": "web02", "replica_server": "hv-sec-01.lab.test", "initial_replication": "none"}
    result = task(lab, "hv-pri-03", enable, module="vm_replication")
    assert result["_status"] == "failed"
    assert result["msg"].startswith("Enable-VMReplication failed on Hyper-V host hv-pri-03:")
    assert world.vm("hv-pri-03", "web02").replication is None

    entry = {"server": "hv-pri-03.lab.test", "storage_location": "E:\\Replica\\pri-03", "trust_group": "primary"}
    result = task(lab, "hv-sec-01", {"allowed_primary_servers": [ENTRY, entry]})
    assert result["actions"] == ["New-VMReplicationAuthorizationEntry -AllowedPrimaryServer hv-pri-03.lab.test "
                                 "-ReplicaStorageLocation E:\\Replica\\pri-03 -TrustGroup primary"]
    result = task(lab, "hv-pri-03", enable, module="vm_replication")
    assert result["changed"] is True, result.get("msg")
    assert result["vms"][0]["after"]["state"] == "ReadyForInitialReplication"
    assert world.vm("hv-pri-03", "web02").replication.replica_host == "hv-sec-01"


def test_disable_and_enable_again(lab):
    host = lab.world.host("hv-sec-02")
    result = task(lab, "hv-sec-02", {"enabled": False})
    assert result["changed"] is True and result["actions"] == ["Set-VMReplicationServer -ReplicationEnabled False -Force"]
    assert host.replication_enabled is False
    assert task(lab, "hv-sec-02", {"enabled": False})["changed"] is False
    assert task(lab, "hv-sec-02", {"enabled": True})["changed"] is True
    assert host.replication_enabled is True


def test_bad_input_and_conflicts_change_nothing(lab):
    host = lab.world.host("hv-sec-01")
    before = (host.allow_any_server, list(host.auth_entries), host.auth_type)
    mark = len(lab.audit())
    result = task(lab, "hv-sec-01", {"allow_any_server": True})
    assert result["_status"] == "failed"
    assert "allow_any_server is True" in result["msg"] and "default_storage_location" in result["msg"]
    assert new_cmdlets(lab, mark) == []

    result = task(lab, "hv-sec-01", {"allowed_primary_servers": [dict(ENTRY, storage_location="F:\\Elsewhere")]})
    assert result["_status"] == "failed"
    assert "Authorization entries exist with other settings: hv-pri-01.lab.test" in result["msg"]
    result = task(lab, "hv-sec-01", {"allowed_authentication_types": "Certificate"})
    assert result["_status"] == "failed"
    assert "needs a certificate" in result["msg"]
    assert {e["cmdlet"] for e in new_cmdlets(lab, mark)} <= READS
    assert (host.allow_any_server, list(host.auth_entries), host.auth_type) == before
