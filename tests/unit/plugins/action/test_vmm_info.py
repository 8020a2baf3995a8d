# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import functools

import pytest
from ansible.errors import AnsibleConnectionFailure

from ansible_collections.site_recovery.hyperv.plugins.action.vmm_info import ActionModule, FilterError, assemble, recent_jobs
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.action_harness import NTLM_HTTP, make_action, runner_reply, sent_calls

SERVER = {"Name": "vmm01", "FullyQualifiedDomainName": "vmm01.lab.test", "ProductVersion": "10.22.1287.0",
          "ServerInterfaceVersion": "4.1", "Port": 8100, "IsConnected": True, "ActiveVMMNode": None,
          "IsHighlyAvailable": False, "UserRole": "Administrator"}
CLOUDS = [
    {"Name": "Recovery-Cloud", "ID": "c2", "Description": None, "HostGroup": ["Secondary"], "DisasterRecoverySupported": False},
    {"Name": "Primary-Cloud", "ID": "c1", "Description": "site A", "HostGroup": "All Hosts\\Primary", "DisasterRecoverySupported": False},
]
GROUPS = [
    {"Name": "All Hosts", "ID": "g0", "Path": "All Hosts", "ParentHostGroup": None},
    {"Name": "Primary", "ID": "g1", "Path": "All Hosts\\Primary", "ParentHostGroup": "All Hosts"},
    {"Name": "Secondary", "ID": "g2", "Path": "All Hosts\\Secondary", "ParentHostGroup": "All Hosts"},
    {"Name": "Rack2", "ID": "g3", "Path": "All Hosts\\Secondary\\Rack2", "ParentHostGroup": "Secondary"},
]
HOSTS = [
    {"Name": "hv-pri-01", "FullyQualifiedDomainName": "hv-pri-01.lab.test", "ID": "h1", "VMHostGroup": "Primary",
     "OverallState": "OK", "CommunicationState": "Responding"},
    {"Name": "hv-sec-01", "FullyQualifiedDomainName": "hv-sec-01.lab.test", "ID": "h2", "VMHostGroup": "Secondary",
     "OverallState": "OK", "CommunicationState": "Responding"},
    # A nested host group belongs to its parent's clouds.
    {"Name": "hv-sec-02", "FullyQualifiedDomainName": "hv-sec-02.lab.test", "ID": "h3", "VMHostGroup": "Rack2",
     "OverallState": "NotResponding", "CommunicationState": "NotResponding"},
]
VMS = [
    {"Name": "web01", "ID": "v1", "VMId": "hv-1", "Status": "Running", "VirtualMachineState": "Running", "VMHost": "hv-pri-01",
     "Cloud": "Primary-Cloud", "ReplicationMode": "Primary", "IsPrimaryVM": True},
    {"Name": "web01", "ID": "v2", "VMId": "hv-1", "Status": "PowerOff", "VirtualMachineState": "PowerOff", "VMHost": "hv-sec-01",
     "Cloud": "Recovery-Cloud", "ReplicationMode": "Recovery", "IsPrimaryVM": False},
    {"Name": "App01", "ID": "v3", "VMId": "hv-3", "Status": "Running", "VirtualMachineState": "Running", "VMHost": "hv-pri-01",
     "Cloud": "Primary-Cloud"},
]
JOBS = [
    {"ID": "j1", "Name": "Refresh virtual machine", "Status": "Completed", "StartTime": "2026-11-25T19:00:00.000Z"},
    {"ID": "j3", "Name": "Start virtual machine", "Status": "Failed", "StartTime": "2026-11-25T21:00:00.000Z", "ErrorInfo": "boom"},
    {"ID": "j2", "Name": "Stop virtual machine", "Status": "Completed", "StartTime": "2026-11-25T20:00:00.000Z"},
]


def _args(**kwargs):
    args = {"vmm_server": "localhost", "vmm_port": None, "name": None, "cloud": None, "jobs": 10, "jobs_since": None}
    args.update(kwargs)
    return args


def test_assemble_clouds_follow_nested_host_groups():
    out = assemble(None, CLOUDS, GROUPS, HOSTS, VMS, JOBS, _args(), "VMM server vmm01")
    clouds = {c["name"]: c for c in out["clouds"]}
    assert [c["name"] for c in out["clouds"]] == ["Primary-Cloud", "Recovery-Cloud"]
    assert clouds["Recovery-Cloud"]["host_groups"] == ["All Hosts\\Secondary"]
    assert clouds["Recovery-Cloud"]["hosts"] == ["hv-sec-01", "hv-sec-02"]
    assert clouds["Primary-Cloud"]["hosts"] == ["hv-pri-01"]
    assert clouds["Primary-Cloud"]["vm_count"] == 2
    hosts = {h["name"]: h for h in out["hosts"]}
    assert hosts["hv-sec-02"]["clouds"] == ["Recovery-Cloud"]
    assert hosts["hv-sec-02"]["host_group"] == "All Hosts\\Secondary\\Rack2"
    assert hosts["hv-sec-02"]["overall_state"] == "NotResponding"
    # Sorted by name (case-insensitive), then host: both copies of a replicated VM are reported.
    assert [(v["name"], v["host"]) for v in out["vms"]] == [("App01", "hv-pri-01"), ("web01", "hv-pri-01"), ("web01", "hv-sec-01")]
    assert out["vms"][2]["status"] == "PowerOff" and out["vms"][2]["replication_mode"] == "Recovery"


def test_assemble_cloud_filter_limits_hosts_and_vms():
    out = assemble(None, CLOUDS, GROUPS, HOSTS, VMS, [], _args(cloud=["recovery-*"]), "VMM server vmm01")
    assert [c["name"] for c in out["clouds"]] == ["Recovery-Cloud"]
    assert [h["name"] for h in out["hosts"]] == ["hv-sec-01", "hv-sec-02"]
    assert [(v["name"], v["host"]) for v in out["vms"]] == [("web01", "hv-sec-01")]


def test_assemble_name_filter_wildcards_and_case():
    out = assemble(None, CLOUDS, GROUPS, HOSTS, VMS, [], _args(name=["APP01", "w*"]), "VMM server vmm01")
    assert [v["id"] for v in out["vms"]] == ["v3", "v1", "v2"]


@pytest.mark.parametrize("args, message", [
    (_args(name=["nope", "web*"]), "No virtual machine named 'nope' on VMM server vmm01 (known: App01, web01)."),
    (_args(cloud=["Tertiary"]), "No cloud named 'Tertiary' on VMM server vmm01 (known: Primary-Cloud, Recovery-Cloud)."),
    (_args(cloud=["Recovery-Cloud"], name=["App01"]), "No virtual machine named 'App01' on VMM server vmm01 in cloud Recovery-Cloud"),
])
def test_assemble_unknown_names_fail_clearly(args, message):
    with pytest.raises(FilterError) as info:
        assemble(None, CLOUDS, GROUPS, HOSTS, VMS, [], args, "VMM server vmm01")
    assert message in str(info.value)


def test_recent_jobs_newest_first_limit_and_since():
    from ansible_collections.site_recovery.hyperv.plugins.action.vmm_info import parse_time
    assert [j["id"] for j in recent_jobs(JOBS, 2, None)] == ["j3", "j2"]
    assert [j["id"] for j in recent_jobs(JOBS, 10, parse_time("2026-11-25T20:00:00Z"))] == ["j3", "j2"]
    assert [j["id"] for j in recent_jobs(JOBS, 10, parse_time("2026-11-25T22:00:00+01:00"))] == ["j3"]
    assert recent_jobs(JOBS, 0, None) == []
    assert recent_jobs(JOBS, 5, None)[0]["error"] == "boom"


_action = functools.partial(make_action, ActionModule, connection_options=NTLM_HTTP)


def test_one_round_trip_with_the_connection_passed_on():
    action, connection = _action({"vmm_port": 8100}, [runner_reply([[SERVER], CLOUDS, GROUPS, HOSTS, VMS, JOBS])])
    result = action.run(task_vars={"inventory_hostname": "vmm01"})
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["service"] == {"reachable": True, "server": "localhost", "error": None, "msg": None}
    assert result["server"]["fqdn"] == "vmm01.lab.test" and result["server"]["port"] == 8100
    assert connection.exec_command.call_count == 1
    calls = sent_calls(connection, 0)
    assert [c["cmdlet"] for c in calls] == ["Get-SCVMMServer", "Get-SCCloud", "Get-SCVMHostGroup", "Get-SCVMHost",
                                            "Get-SCVirtualMachine", "Get-SCJob"]
    assert calls[0]["params"] == {"ComputerName": "localhost", "TCPPort": 8100}
    for call in calls[1:]:
        assert call["params"]["VMMServer"] == {"$call": 0}
    assert calls[5]["params"] == {"VMMServer": {"$call": 0}, "All": True}
    assert [j["id"] for j in result["jobs"]] == ["j3", "j2", "j1"]


def test_jobs_zero_skips_the_job_history():
    action, connection = _action({"jobs": 0}, [runner_reply([[SERVER], CLOUDS, GROUPS, HOSTS, VMS])])
    result = action.run(task_vars={"inventory_hostname": "vmm01"})
    assert result["jobs"] == []
    assert [c["cmdlet"] for c in sent_calls(connection, 0)][-1] == "Get-SCVirtualMachine"


def test_vmm_not_answering_is_reported_not_failed():
    error = {"index": 0, "cmdlet": "Get-SCVMMServer", "message": "You cannot contact the VMM management server. (Error ID: 1601)",
             "fqid": "CannotContactServer,Microsoft.SystemCenter.VirtualMachineManager.Cmdlets.GetSCVMMServerCmdlet",
             "category": "ConnectionError", "target": "localhost"}
    action, dummy = _action({}, [runner_reply([], error)])
    result = action.run(task_vars={"inventory_hostname": "vmm01"})
    assert not result.get("failed"), result
    assert result["service"]["reachable"] is False
    assert result["service"]["error"]["fully_qualified_error_id"] == error["fqid"]
    assert "VMM is not answering yet" in result["service"]["msg"]
    assert "Nothing was changed" not in result["service"]["msg"]
    assert result["vms"] == [] and result["server"] is None


def test_missing_vmm_module_is_a_failure():
    error = {"index": 0, "cmdlet": "Get-SCVMMServer",
             "message": "The term 'Get-SCVMMServer' is not recognized as the name of a cmdlet, function, script file, or operable program.",
             "fqid": "CommandNotFoundException", "category": "ObjectNotFound", "target": "Get-SCVMMServer"}
    action, dummy = _action({}, [runner_reply([], error)])
    result = action.run(task_vars={"inventory_hostname": "hv-pri-01"})
    assert result["failed"] is True
    assert "VMM PowerShell module (VirtualMachineManager) is not available on hv-pri-01" in result["msg"]


def test_later_cmdlet_failure_names_cmdlet_and_server():
    error = {"index": 3, "cmdlet": "Get-SCVMHost", "message": "Access denied.", "fqid": "Denied,X", "category": "PermissionDenied",
             "target": None}
    action, dummy = _action({"vmm_server": "vmm01.lab.test"}, [runner_reply([[SERVER], CLOUDS, GROUPS], error)])
    result = action.run(task_vars={"inventory_hostname": "console01"})
    assert result["failed"] is True
    assert result["msg"] == "Get-SCVMHost failed on VMM server vmm01.lab.test (reached from console01): Access denied. [Denied,X]"


def test_unknown_cloud_fails_clearly():
    action, dummy = _action({"cloud": ["Nowhere"]}, [runner_reply([[SERVER], CLOUDS, GROUPS, HOSTS, VMS, JOBS])])
    result = action.run(task_vars={"inventory_hostname": "vmm01"})
    assert result["failed"] is True
    assert "No cloud named 'Nowhere' on VMM server vmm01" in result["msg"]


@pytest.mark.parametrize("args, message", [
    ({"jobs_since": "yesterday"}, "jobs_since must be an ISO-8601 time"),
    ({"jobs_since": "2026-11-25T20:00:00Z", "jobs": 0}, "jobs_since needs jobs > 0"),
    ({"jobs": -1}, "jobs must be 0"),
    ({"jobs": "many"}, "jobs"),
])
def test_bad_arguments_fail_before_contacting_the_host(args, message):
    action, connection = _action(args, [])
    result = action.run(task_vars={"inventory_hostname": "vmm01"})
    assert result["failed"] is True
    assert message in result["msg"]
    connection.exec_command.assert_not_called()


def test_unreachable_winrm_stays_unreachable():
    action, dummy = _action({}, AnsibleConnectionFailure("ntlm: HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded"))
    with pytest.raises(AnsibleConnectionFailure):
        action.run(task_vars={"inventory_hostname": "vmm01"})
