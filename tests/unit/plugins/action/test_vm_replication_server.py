# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import functools

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.site_recovery.hyperv.plugins.action.vm_replication_server import ActionModule, interval_param, plan_server, shape
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.action_harness import make_action, runner_reply, sent_calls

SERVER = {"ReplicationEnabled": True, "AllowedAuthenticationType": "Kerberos", "ReplicationAllowedFromAnyServer": True,
          "DefaultStorageLocation": "D:\\Hyper-V\\Replica", "KerberosAuthenticationPort": 80, "CertificateAuthenticationPort": 443,
          "CertificateThumbprint": None, "MonitoringInterval": 43200.0, "MonitoringStartTime": 54000.0}
ENTRY = {"AllowedPrimaryServer": "*.primary.lab.test", "ReplicaStorageLocation": "D:\\Replica\\Primary", "TrustGroup": "primary"}


def live(**changes):
    server = dict(SERVER, **changes)
    return shape(server, [ENTRY])


def test_shape_reads_timespans_as_hours_and_clock():
    view = live()
    assert view["monitoring_interval_hours"] == 12
    assert view["monitoring_start_time"] == "15:00:00"
    assert view["allowed_primary_servers"] == [{"server": "*.primary.lab.test", "storage_location": "D:\\Replica\\Primary",
                                               "trust_group": "primary"}]


# args -> exact Set-VMReplicationServer parameters (None: no call) and entries added
PLANS = [
    ({}, None, []),
    ({"enabled": True, "allowed_authentication_types": "Kerberos", "kerberos_port": 80, "monitoring_interval_hours": 12,
      "monitoring_start_time": "15:00", "default_storage_location": "d:\\hyper-v\\replica\\"}, None, []),
    ({"enabled": False}, {"ReplicationEnabled": False, "Force": True}, []),
    ({"kerberos_port": 8080, "certificate_port": 443}, {"KerberosAuthenticationPort": 8080, "Force": True}, []),
    ({"monitoring_interval_hours": 48, "monitoring_start_time": "6:30"},
     {"MonitoringInterval": "2.00:00:00", "MonitoringStartTime": "06:30:00", "Force": True}, []),
    ({"allow_any_server": False}, {"ReplicationAllowedFromAnyServer": False, "Force": True}, []),
    ({"allowed_authentication_types": "CertificateAndKerberos", "certificate_thumbprint": "ab12"},
     {"AllowedAuthenticationType": "CertificateAndKerberos", "CertificateThumbprint": "ab12", "Force": True}, []),
    ({"allowed_primary_servers": [{"server": "*.PRIMARY.lab.test", "storage_location": "D:\\Replica\\Primary\\", "trust_group": "primary"}]},
     None, []),
    ({"allowed_primary_servers": [{"server": "hv-pri-09.lab.test", "storage_location": "E:\\R", "trust_group": "g"}]},
     None, [{"server": "hv-pri-09.lab.test", "storage_location": "E:\\R", "trust_group": "g"}]),
]


@pytest.mark.parametrize("args, params, add", PLANS)
def test_plan_sets_only_what_differs(args, params, add):
    got_params, got_add, predicted = plan_server(live(), args)
    assert got_params == params
    assert got_add == add
    assert len(predicted["allowed_primary_servers"]) == 1 + len(add)


@pytest.mark.parametrize("args, message", [
    ({"allowed_authentication_types": "Certificate"}, "needs a certificate"),
    ({"allowed_primary_servers": [{"server": "*.primary.lab.test", "storage_location": "E:\\Other", "trust_group": "primary"}]},
     "Authorization entries exist with other settings: *.primary.lab.test"),
])
def test_plan_refusals(args, message):
    with pytest.raises(AnsibleActionFail) as info:
        plan_server(live(), args)
    assert message in str(info.value)


def test_certificate_type_accepted_when_host_has_a_certificate():
    params, dummy, dummy2 = plan_server(live(CertificateThumbprint="AB12"), {"allowed_authentication_types": "Certificate"})
    assert params == {"AllowedAuthenticationType": "Certificate", "Force": True}


@pytest.mark.parametrize("hours, text", [(1, "01:00:00"), (12, "12:00:00"), (24, "1.00:00:00"), (168, "7.00:00:00")])
def test_interval_param(hours, text):
    assert interval_param(hours) == text


_action = functools.partial(make_action, ActionModule)


NEW = {"server": "hv-pri-09.lab.test", "storage_location": "E:\\R", "trust_group": "g"}


def test_read_act_reread_with_diff():
    after_server = dict(SERVER, KerberosAuthenticationPort=8080)
    new_entry = {"AllowedPrimaryServer": NEW["server"], "ReplicaStorageLocation": NEW["storage_location"], "TrustGroup": NEW["trust_group"]}
    action, connection = _action({"kerberos_port": 8080, "allowed_primary_servers": [NEW]},
                                 [runner_reply([[SERVER], [ENTRY]]), runner_reply([[], []]), runner_reply([[after_server], [ENTRY, new_entry]])], diff=True)
    result = action.run(task_vars={"inventory_hostname": "hv-sec-02"})
    assert not result.get("failed"), result
    assert result["changed"] is True
    read, act, reread = sent_calls(connection)
    assert [c["cmdlet"] for c in read] == ["Get-VMReplicationServer", "Get-VMReplicationAuthorizationEntry"]
    assert act == [
        {"cmdlet": "Set-VMReplicationServer", "params": {"KerberosAuthenticationPort": 8080, "Force": True}, "select": []},
        {"cmdlet": "New-VMReplicationAuthorizationEntry", "params": {"AllowedPrimaryServer": "hv-pri-09.lab.test",
                                                                     "ReplicaStorageLocation": "E:\\R", "TrustGroup": "g"}, "select": []},
    ]
    assert reread == read
    assert result["after"]["kerberos_port"] == 8080
    assert result["diff"]["before"]["kerberos_port"] == 80


def test_check_mode_only_reads():
    action, connection = _action({"enabled": False}, [runner_reply([[SERVER], [ENTRY]])], check_mode=True)
    result = action.run(task_vars={"inventory_hostname": "hv-sec-02"})
    assert result["changed"] is True
    assert result["after"]["enabled"] is False and result["before"]["enabled"] is True
    assert result["actions"] == ["Set-VMReplicationServer -ReplicationEnabled False -Force"]
    assert connection.exec_command.call_count == 1


def test_no_change_is_one_round_trip():
    action, connection = _action({"enabled": True, "kerberos_port": 80}, [runner_reply([[SERVER], [ENTRY]])])
    result = action.run(task_vars={"inventory_hostname": "hv-sec-02"})
    assert result["changed"] is False and result["actions"] == []
    assert connection.exec_command.call_count == 1


@pytest.mark.parametrize("args, message", [
    ({"allow_any_server": True}, "default_storage_location"),
    ({"kerberos_port": 70000}, "1 to 65535"),
    ({"monitoring_start_time": "25:00"}, "time of day"),
    ({"monitoring_interval_hours": 5}, "monitoring_interval_hours"),
    ({"allowed_primary_servers": [NEW, dict(NEW, server="HV-PRI-09.lab.test")]}, "twice"),
    ({"allowed_primary_servers": [{"server": "x"}]}, "storage_location"),
])
def test_bad_input_fails_before_contacting_the_host(args, message):
    action, connection = _action(args, [])
    result = action.run(task_vars={"inventory_hostname": "hv-sec-02"})
    assert result["failed"] is True
    assert message in result["msg"]
    connection.exec_command.assert_not_called()


def test_cmdlet_failure_is_explained():
    error = {"index": 0, "cmdlet": "Set-VMReplicationServer", "message": "Access denied.", "fqid": "AccessDenied,X",
             "category": "PermissionDenied", "target": None}
    action, dummy = _action({"enabled": False}, [runner_reply([[SERVER], [ENTRY]]), runner_reply([], error)])
    result = action.run(task_vars={"inventory_hostname": "hv-sec-02"})
    assert result["failed"] is True
    assert result["msg"].startswith("Set-VMReplicationServer failed on Hyper-V host hv-sec-02: Access denied.")
