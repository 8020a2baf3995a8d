"""The parameter binder: PowerShell 5.1 binding rules and messages over the documented contract."""

import json
import os

import pytest

from lab.cmdlets import contract
from lab.cmdlets.contract import bind
from lab.cmdlets.errors import BindingError

GETVM = "Microsoft.HyperV.PowerShell.Commands.GetVM"
FAILOVER = "Microsoft.HyperV.PowerShell.Commands.StartVMFailover"


def fails(cmdlet, params):
    with pytest.raises(BindingError) as info:
        bind(cmdlet, params)
    return info.value.record


def test_contract_covers_every_reference_cmdlet_with_its_source():
    cmdlets = contract.contracts()
    assert len(cmdlets) == 80
    for name, spec in cmdlets.items():
        assert spec["doc_path"] and spec["command_type"], name
        assert spec["parameter_sets"], name


def test_lab_never_reads_the_shared_reference_at_run_time():
    root = os.path.join(os.path.dirname(__file__), "..", "..", "lab")
    for folder, dummy, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(folder, name), encoding="utf-8") as fh:
                    assert "/work/shared" not in fh.read(), name


def test_unknown_cmdlet_is_command_not_found():
    rec = fails("Get-Nothing", {})
    assert rec.fqid == "CommandNotFoundException"
    assert rec.category == "ObjectNotFound"
    assert rec.target == "Get-Nothing"
    assert rec.message.startswith("The term 'Get-Nothing' is not recognized as the name of a cmdlet")


def test_names_match_case_insensitively_by_alias_and_by_prefix():
    assert bind("get-vm", {"name": ["web01"]}).params == {"Name": ["web01"]}
    assert bind("Get-VM", {"VMName": "web01"}).params == {"Name": ["web01"]}
    assert bind("Get-VMReplication", {"Stat": "replicating"}).params == {"ReplicationState": "Replicating"}
    assert bind("Get-VMReplication", {"ReplicaServer": "hv-sec-01"}).params == {"ReplicaServerName": "hv-sec-01"}
    assert bind("Start-VMFailover", {"VMName": "a", "AsT": True}).parameter_set == "VMName_Test"


def test_ambiguous_prefix():
    rec = fails("Get-VM", {"C": "x"})
    assert rec.message == ("Parameter cannot be processed because the parameter name 'C' is ambiguous. "
                           "Possible matches include: -CimSession -ComputerName -Credential -ClusterObject.")
    assert rec.fqid == "AmbiguousParameter," + GETVM


def test_unknown_parameter():
    rec = fails("Get-VM", {"Force": True})
    assert rec.message == "A parameter cannot be found that matches parameter name 'Force'."
    assert rec.fqid == "NamedParameterNotFound," + GETVM
    assert rec.category == "InvalidArgument" and rec.reason == "ParameterBindingException" and rec.target == ""


def test_common_parameters_and_should_process():
    bound = bind("Get-VM", {"ea": "silentlycontinue", "Verbose": True, "OutVariable": "x"})
    assert bound.common == {"ErrorAction": "SilentlyContinue", "Verbose": True, "OutVariable": "x"}
    assert bound.params == {}
    assert bind("Start-VMFailover", {"VMName": "a", "WhatIf": True}).params["WhatIf"] is True
    assert fails("Get-VM", {"WhatIf": True}).fqid == "NamedParameterNotFound," + GETVM


def test_default_set_breaks_ties_and_sets_resolve():
    assert bind("Get-VM", {}).parameter_set == "Name"
    assert bind("Get-VM", {"Id": "6f1c3f0e-8d7a-5b8e-9a51-2d0c1e4b7a10"}).parameter_set == "Id"
    assert bind("Get-VMHost", {}).parameter_set == "ComputerName"
    assert bind("Start-VMFailover", {"VMName": "a"}).parameter_set == "VMName"
    assert bind("Start-VMFailover", {"VMName": "a", "Prepare": True}).parameter_set == "VMName"


def test_as_test_mandatory_switch_selects_the_test_sets():
    assert bind("Start-VMFailover", {"VMName": ["a"], "AsTest": True}).parameter_set == "VMName_Test"
    rec = fails("Start-VMFailover", {"AsTest": True})
    assert rec.message == "Parameter set cannot be resolved using the specified named parameters."
    assert rec.fqid == "AmbiguousParameterSet," + FAILOVER
    # -Prepare and -AsTest never share a set (hyperv-replica-states.md §3.1).
    assert fails("Start-VMFailover", {"VMName": "a", "AsTest": True, "Prepare": True}).fqid == "AmbiguousParameterSet," + FAILOVER


def test_parameters_from_different_sets():
    rec = fails("Get-VM", {"Name": "a", "Id": "6f1c3f0e-8d7a-5b8e-9a51-2d0c1e4b7a10"})
    assert rec.fqid == "AmbiguousParameterSet," + GETVM


def test_missing_mandatory_is_an_error_not_a_prompt():
    rec = fails("Get-VMSnapshot", {})
    assert rec.message == "Cannot process command because of one or more missing mandatory parameters: VMName."
    assert rec.fqid == "MissingMandatoryParameter,Microsoft.HyperV.PowerShell.Commands.GetVMSnapshot"
    rec = fails("Enable-VMReplication", {"VMName": "a", "ReplicaServerName": "hv-sec-01"})
    assert rec.message == ("Cannot process command because of one or more missing mandatory parameters: "
                           "ReplicaServerPort AuthenticationType.")


def test_the_only_set_with_its_mandatory_parameters_bound_wins_over_the_default():
    # -AsReplica is documented Required: False, so -VMName alone satisfies only VMName_AsReplica.
    assert bind("Enable-VMReplication", {"VMName": "a"}).parameter_set == "VMName_AsReplica"


def test_enum_conversion_error():
    rec = fails("Get-VMReplication", {"ReplicationState": "Broken"})
    assert rec.fqid == "CannotConvertArgumentNoMessage,Microsoft.HyperV.PowerShell.Commands.GetVMReplication"
    assert rec.message.startswith("Cannot bind parameter 'ReplicationState'. Cannot convert value \"Broken\" to type "
                                  "\"Microsoft.HyperV.PowerShell.VMReplicationState\". Error: \"Unable to match the identifier "
                                  "name Broken to a valid enumerator name. Specify one of the following enumerator names and "
                                  "try again: Disabled, ReadyForInitialReplication,")


def test_validate_set_on_string_parameter():
    rec = fails("Set-SCReplicationGroup", {"Operation": "Explode"})
    assert rec.fqid == "ParameterArgumentValidationError,Microsoft.SystemCenter.VirtualMachineManager.Cmdlets.SetSCReplicationGroupCmdlet"
    assert rec.category == "InvalidData"
    assert rec.message.startswith("Cannot validate argument on parameter 'Operation'. The argument \"Explode\" does not "
                                  "belong to the set \"EnableProtection,PrepareForFailover,")


def test_type_conversions():
    bound = bind("Set-VMReplication", {"VMName": "a", "ReplicationFrequencySec": "300", "RecoveryHistory": 4.0})
    assert bound.params["ReplicationFrequencySec"] == 300 and bound.params["RecoveryHistory"] == 4
    assert bind("Get-VM", {"Name": "web01"}).params["Name"] == ["web01"]
    assert bind("Get-VM", {"Id": "{6F1C3F0E-8D7A-5B8E-9A51-2D0C1E4B7A10}"}).params["Id"] == "6f1c3f0e-8d7a-5b8e-9a51-2d0c1e4b7a10"
    when = bind("Resume-VMReplication", {"VMName": "a", "Resynchronize": True, "ResynchronizeStartTime": "2026-11-25T20:00:00Z"})
    assert when.params["ResynchronizeStartTime"].isoformat() == "2026-11-25T20:00:00+00:00"


def test_conversion_errors():
    rec = fails("Set-VMReplication", {"VMName": "a", "ReplicationFrequencySec": "often"})
    assert rec.message == ("Cannot bind parameter 'ReplicationFrequencySec'. Cannot convert value \"often\" to type "
                           "\"System.Int32\". Error: \"Input string was not in a correct format.\"")
    assert fails("Get-VM", {"Id": "nope"}).message.endswith(
        "Error: \"Guid should contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).\"")
    rec = fails("Start-VMFailover", {"VMName": "a", "Prepare": "yes"})
    assert rec.fqid == "ParameterArgumentTransformationError," + FAILOVER
    assert "Boolean parameters accept only Boolean values and numbers" in rec.message
    rec = fails("Get-VMReplication", {"ReplicaServerName": ["a", "b"]})
    assert rec.fqid == "CannotConvertArgument,Microsoft.HyperV.PowerShell.Commands.GetVMReplication"
    rec = fails("Start-VMFailover", {"VM": "web01"})
    assert rec.message == ("Cannot bind parameter 'VM'. Cannot convert the \"web01\" value of type \"System.String\" to type "
                           "\"Microsoft.HyperV.PowerShell.VirtualMachine\".")


def test_null_empty_and_repeated_arguments():
    rec = fails("Get-VMSnapshot", {"VMName": None})
    assert rec.message == "Cannot bind argument to parameter 'VMName' because it is null."
    assert rec.fqid == "ParameterArgumentValidationErrorNullNotAllowed,Microsoft.HyperV.PowerShell.Commands.GetVMSnapshot"
    assert fails("Get-VMSnapshot", {"VMName": []}).fqid.startswith("ParameterArgumentValidationErrorEmptyArrayNotAllowed,")
    assert fails("Get-VMSnapshot", {"VMName": ""}).fqid.startswith("ParameterArgumentValidationErrorEmptyStringNotAllowed,")
    rec = fails("Get-VM", {"Name": "a", "VMName": "b"})
    assert rec.fqid == "ParameterAlreadyBound," + GETVM


def test_contracts_json_is_plain_data():
    path = os.path.join(os.path.dirname(contract.__file__), "contracts.json")
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    assert set(data) == {"_source", "cmdlets"}
