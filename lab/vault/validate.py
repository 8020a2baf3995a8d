"""Request bodies checked against the models of the site recovery API (SDK 2.0.0 = TypeSpec 2025-08-01).

Sources: asr-api.md §2-§6 and asr-operations.json (which fields exist, which are required, enums and
`instanceType` discriminators). Wire names are matched exactly (camelCase) and unknown members are refused:
a deliberate lab strictness (the real service would ignore them) so a misspelt field fails loudly instead of
being dropped. Everything else the models allow is accepted.
"""

from __future__ import annotations

import dataclasses
import re

from lab.vault.errors import invalid_body

# SDK2 _enums.py values (asr-api.md §4 table; RecoveryPlanAction.failoverTypes uses the same enum).
OPERATIONS = ("ReverseReplicate", "Commit", "PlannedFailover", "UnplannedFailover", "DisableProtection", "TestFailover",
              "TestFailoverCleanup", "Failback", "FinalizeFailback", "CancelFailover", "ChangePit", "RepairReplication",
              "SwitchProtection", "CompleteMigration")
DIRECTIONS = ("PrimaryToRecovery", "RecoveryToPrimary")
SOURCE_SITE_OPERATIONS = ("Required", "NotRequired")
GROUP_TYPES = ("Shutdown", "Boot", "Failover")
# asr-api.md §2: networkType is a free string; these are the values Az PowerShell sends.
NETWORK_TYPES = ("VmNetworkAsInput", "NoNetworkAttachAsInput", "LogicalNetworkAsInput")
# asr-api.md §1 / TSP: names of vaults, fabrics and protected items.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]$")
# .NET TimeSpan text "hh:mm:ss" for onlineReplicationStartTime (asr-api.md §6).
_TIMESPAN = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d:[0-5]\d$")


@dataclasses.dataclass(frozen=True)
class Str:
    pattern: re.Pattern | None = None
    hint: str = ""


@dataclasses.dataclass(frozen=True)
class Int:
    low: int | None = None
    high: int | None = None


@dataclasses.dataclass(frozen=True)
class Enum:
    values: tuple


@dataclasses.dataclass(frozen=True)
class Arr:
    item: object


@dataclasses.dataclass(frozen=True)
class Obj:
    model: str
    required: tuple = ()
    fields: tuple = ()  # ((wire name, schema), ...); required names must appear here too

    def schema_of(self, name: str):
        return dict(self.fields).get(name)


@dataclasses.dataclass(frozen=True)
class Disc:
    """A polymorphic model: `instanceType` picks the subtype.

    `accepted` maps the subtypes the lab's VMM-to-VMM vault takes to their schema; `others` lists the
    subtypes that exist in the SDK (asr-api.md §2 table) but belong to another scenario (Azure targets,
    VMware, A2A): they are refused with that reason. `base_ok`: the base class with no instanceType is
    accepted (asr-api.md §2: Microsoft's own E2E clients send the base class, or nothing).
    """

    model: str
    accepted: tuple = ()  # ((instanceType, Obj), ...)
    others: tuple = ()
    base_ok: bool = False


def check(schema, value, where: str = "") -> None:
    """Raise a 400 (invalid_body) naming the first problem."""
    if value is None:
        return  # null is "not given" for optional members; required ones are checked by the parent
    handler = {Str: _check_str, Int: _check_int, Enum: _check_enum, Arr: _check_arr, Obj: _check_obj, Disc: _check_disc}[type(schema)]
    handler(schema, value, where or "body")


def _fail(where: str, problem: str):
    raise invalid_body("The request body is invalid: {0}: {1}.".format(where, problem))


def _check_str(schema: Str, value, where: str) -> None:
    if not isinstance(value, str):
        _fail(where, "a string is expected, not {0}".format(_kind(value)))
    if schema.pattern is not None and not schema.pattern.match(value):
        _fail(where, "'{0}' is not valid ({1})".format(value, schema.hint))


def _check_int(schema: Int, value, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(where, "an integer is expected, not {0}".format(_kind(value)))
    if (schema.low is not None and value < schema.low) or (schema.high is not None and value > schema.high):
        _fail(where, "{0} is out of range {1}..{2}".format(value, schema.low, schema.high))


def _check_enum(schema: Enum, value, where: str) -> None:
    if isinstance(value, bool) or value not in schema.values:
        _fail(where, "{0!r} is not one of {1}".format(value, ", ".join(str(v) for v in schema.values)))


def _check_arr(schema: Arr, value, where: str) -> None:
    if not isinstance(value, list):
        _fail(where, "an array is expected, not {0}".format(_kind(value)))
    for index, item in enumerate(value):
        if item is None:
            _fail("{0}[{1}]".format(where, index), "null is not allowed in this array")
        check(schema.item, item, "{0}[{1}]".format(where, index))


def _check_obj(schema: Obj, value, where: str) -> None:
    if not isinstance(value, dict):
        _fail(where, "an object ({0}) is expected, not {1}".format(schema.model, _kind(value)))
    known = dict(schema.fields)
    for name in value:
        if name not in known:
            _fail(where, "'{0}' is not a member of {1} (members: {2})".format(name, schema.model, ", ".join(known) or "none"))
    for name in schema.required:
        if value.get(name) is None:
            _fail(where, "'{0}' is required by {1}".format(name, schema.model))
    for name, sub in schema.fields:
        check(sub, value.get(name), "{0}.{1}".format(where, name))


def _check_disc(schema: Disc, value, where: str) -> None:
    if not isinstance(value, dict):
        _fail(where, "an object ({0}) is expected, not {1}".format(schema.model, _kind(value)))
    kind = value.get("instanceType")
    accepted = dict(schema.accepted)
    if kind in (None, ""):
        if schema.base_ok and set(value) <= {"instanceType"}:
            return
        _fail(where, "'instanceType' is required by {0} (types: {1})".format(schema.model, ", ".join(list(accepted) + list(schema.others))))
    if kind in accepted:
        fields = dict(accepted[kind].fields)
        fields["instanceType"] = Str()
        check(dataclasses.replace(accepted[kind], fields=tuple(fields.items())), value, where)
        return
    if kind in schema.others:
        _fail(where, "instanceType '{0}' belongs to another replication scenario; a VMM-to-VMM (HyperVReplica2012R2) item or "
                     "plan {1}".format(kind, "takes " + " or ".join(accepted) if accepted else "takes no provider-specific input here"))
    _fail(where, "instanceType {0!r} is not a type of {1} (types: {2})".format(kind, schema.model, ", ".join(list(accepted) + list(schema.others))))


def _kind(value) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(type(value), "null")


# ---- models ---------------------------------------------------------------------------------------
# asr-api.md §2 table of provider-specific subtypes (SDK2 __mapping__); none is VMM-to-VMM.
_PLANNED_PSD = Disc("PlannedFailoverProviderSpecificFailoverInput", others=("HyperVReplicaAzure", "HyperVReplicaAzureFailback", "InMageRcmFailback"),
                    base_ok=True)
_UNPLANNED_PSD = Disc("UnplannedFailoverProviderSpecificInput", others=("A2A", "HyperVReplicaAzure", "InMageAzureV2", "InMageRcm", "InMage"),
                      base_ok=True)
_TEST_PSD = Disc("TestFailoverProviderSpecificInput", others=("A2A", "HyperVReplicaAzure", "InMageAzureV2", "InMageRcm", "InMage"), base_ok=True)
_REVERSE_PSD = Disc("ReverseReplicationProviderSpecificInput",
                    others=("A2A", "HyperVReplicaAzure", "InMageAzureV2", "InMageRcmFailback", "InMageRcm", "InMage"), base_ok=True)
_APPLY_PSD = Disc("ApplyRecoveryPointProviderSpecificInput",
                  others=("A2A", "A2ACrossClusterMigration", "HyperVReplicaAzure", "InMageAzureV2", "InMageRcm"), base_ok=True)
_ENABLE_PSD = Disc("EnableProtectionProviderSpecificInput",
                   others=("A2ACrossClusterMigration", "A2A", "HyperVReplicaAzure", "InMageAzureV2", "InMage", "InMageRcm"), base_ok=True)
_RP_PSD = Arr(Disc("RecoveryPlanProviderSpecificFailoverInput", others=("A2A", "HyperVReplicaAzureFailback", "HyperVReplicaAzure", "InMageAzureV2",
                                                                        "InMage", "InMageRcmFailback", "InMageRcm")))


def obj(model: str, required: tuple = (), **fields) -> Obj:
    """A model: its members in wire spelling (keyword order kept), and which of them are required."""
    return Obj(model, tuple(required), tuple(fields.items()))


def envelope(model: str, properties: Obj, required: bool = False) -> Obj:
    """{properties: <model>Properties}: `required` when the SDK marks `properties` required (asr-api.md §2, §3)."""
    return Obj(model, ("properties",) if required else (), (("properties", properties),))


PLANNED_FAILOVER = envelope("PlannedFailoverInput", obj("PlannedFailoverInputProperties", failoverDirection=Enum(DIRECTIONS),
                                                        providerSpecificDetails=_PLANNED_PSD))
UNPLANNED_FAILOVER = envelope("UnplannedFailoverInput", obj(
    "UnplannedFailoverInputProperties", failoverDirection=Enum(DIRECTIONS), sourceSiteOperations=Enum(SOURCE_SITE_OPERATIONS),
    providerSpecificDetails=_UNPLANNED_PSD), required=True)
TEST_FAILOVER = envelope("TestFailoverInput", obj("TestFailoverInputProperties", failoverDirection=Enum(DIRECTIONS), networkType=Str(),
                                                  networkId=Str(), providerSpecificDetails=_TEST_PSD), required=True)
TEST_FAILOVER_CLEANUP = envelope("TestFailoverCleanupInput", obj("TestFailoverCleanupInputProperties", comments=Str()), required=True)
REVERSE_REPLICATION = envelope("ReverseReplicationInput", obj("ReverseReplicationInputProperties", failoverDirection=Enum(DIRECTIONS),
                                                              providerSpecificDetails=_REVERSE_PSD))
APPLY_RECOVERY_POINT = envelope("ApplyRecoveryPointInput", obj("ApplyRecoveryPointInputProperties", ("providerSpecificDetails",),
                                                               recoveryPointId=Str(), providerSpecificDetails=_APPLY_PSD), required=True)
DISABLE_PROTECTION = envelope("DisableProtectionInput", obj(
    "DisableProtectionInputProperties", disableProtectionReason=Enum(("NotSpecified", "MigrationComplete")),
    replicationProviderInput=Disc("DisableProtectionProviderSpecificInput", others=("InMage",), base_ok=True)), required=True)
ENABLE_PROTECTION = envelope("EnableProtectionInput", obj("EnableProtectionInputProperties", policyId=Str(), protectableItemId=Str(),
                                                          providerSpecificDetails=_ENABLE_PSD))

# asr-api.md §6 policy table (HyperVReplicaBluePolicyInput = HyperVReplica2012R2, a sub-subtype of HyperVReplica2012).
_HVR_FIELDS = {
    "recoveryPoints": Int(0, 24),  # hyperv-replica-states.md §4 / timings.md §1.1: up to 24 additional points
    "applicationConsistentSnapshotFrequencyInHours": Int(0, 12),  # 0 = off, 1-12 (asr-api.md §6)
    "compression": Enum(("Enable", "Disable")),
    "initialReplicationMethod": Enum(("OverNetwork", "Offline")),
    "onlineReplicationStartTime": Str(_TIMESPAN, "a TimeSpan such as 22:00:00"),
    "offlineReplicationImportPath": Str(),
    "offlineReplicationExportPath": Str(),
    "replicationPort": Int(1, 65535),
    "allowedAuthenticationType": Enum((1, 2)),  # 1 = Kerberos, 2 = Certificate
    "replicaDeletion": Enum(("Required", "NotRequired")),
}
_POLICY_PSI = Disc("PolicyProviderSpecificInput", accepted=(
    ("HyperVReplica2012R2", obj("HyperVReplicaBluePolicyInput", replicationFrequencyInSeconds=Enum((30, 300, 900)), **_HVR_FIELDS)),
    ("HyperVReplica2012", obj("HyperVReplicaPolicyInput", **_HVR_FIELDS)),
), others=("A2ACrossClusterMigration", "A2A", "HyperVReplicaAzure", "InMageAzureV2", "InMage", "InMageRcmFailback", "InMageRcm", "VMwareCbt"))
CREATE_POLICY = envelope("CreatePolicyInput", obj("CreatePolicyInputProperties", providerSpecificInput=_POLICY_PSI))
UPDATE_POLICY = envelope("UpdatePolicyInput", obj("UpdatePolicyInputProperties", replicationProviderSettings=_POLICY_PSI))

CREATE_CONTAINER_MAPPING = envelope("CreateProtectionContainerMappingInput", obj(
    "CreateProtectionContainerMappingInputProperties", targetProtectionContainerId=Str(), policyId=Str(),
    providerSpecificInput=Disc("ReplicationProviderSpecificContainerMappingInput", others=("A2A", "VMwareCbt"), base_ok=True)))
REMOVE_CONTAINER_MAPPING = envelope("RemoveProtectionContainerMappingInput", obj(
    "RemoveProtectionContainerMappingInputProperties", providerSpecificInput=obj("ReplicationProviderContainerUnmappingInput", instanceType=Str())))

_VMM_TO_VMM = Disc("FabricSpecificCreateNetworkMappingInput", accepted=(("VmmToVmm", obj("VmmToVmmCreateNetworkMappingInput")),),
                   others=("AzureToAzure", "VmmToAzure"))
CREATE_NETWORK_MAPPING = envelope("CreateNetworkMappingInput", obj(
    "CreateNetworkMappingInputProperties", ("recoveryNetworkId",), recoveryFabricName=Str(), recoveryNetworkId=Str(),
    fabricSpecificDetails=_VMM_TO_VMM), required=True)
UPDATE_NETWORK_MAPPING = envelope("UpdateNetworkMappingInput", obj(
    "UpdateNetworkMappingInputProperties", recoveryFabricName=Str(), recoveryNetworkId=Str(),
    fabricSpecificDetails=dataclasses.replace(_VMM_TO_VMM, model="FabricSpecificUpdateNetworkMappingInput")))

# asr-api.md §3: recovery plan groups and actions.
_ACTION_DETAILS = Disc("RecoveryPlanActionDetails", accepted=(
    ("ManualActionDetails", obj("RecoveryPlanManualActionDetails", description=Str())),
    ("ScriptActionDetails", obj("RecoveryPlanScriptActionDetails", ("path", "fabricLocation"), path=Str(), timeout=Str(),
                                fabricLocation=Enum(("Primary", "Recovery")))),
), others=("AutomationRunbookActionDetails",))
_ACTION = obj("RecoveryPlanAction", ("actionName", "failoverTypes", "failoverDirections", "customDetails"), actionName=Str(),
              failoverTypes=Arr(Enum(OPERATIONS)), failoverDirections=Arr(Enum(DIRECTIONS)), customDetails=_ACTION_DETAILS)
GROUP = obj("RecoveryPlanGroup", ("groupType",), groupType=Enum(GROUP_TYPES),
            replicationProtectedItems=Arr(obj("RecoveryPlanProtectedItem", id=Str(), virtualMachineId=Str())),
            startGroupActions=Arr(_ACTION), endGroupActions=Arr(_ACTION))
CREATE_RECOVERY_PLAN = envelope("CreateRecoveryPlanInput", obj(
    "CreateRecoveryPlanInputProperties", ("primaryFabricId", "recoveryFabricId", "groups"), primaryFabricId=Str(), recoveryFabricId=Str(),
    failoverDeploymentModel=Enum(("NotApplicable", "Classic", "ResourceManager")), groups=Arr(GROUP),
    providerSpecificInput=Arr(Disc("RecoveryPlanProviderSpecificInput", others=("A2A",)))), required=True)
UPDATE_RECOVERY_PLAN = envelope("UpdateRecoveryPlanInput", obj("UpdateRecoveryPlanInputProperties", groups=Arr(GROUP)))
RP_PLANNED_FAILOVER = envelope("RecoveryPlanPlannedFailoverInput", obj(
    "RecoveryPlanPlannedFailoverInputProperties", ("failoverDirection",), failoverDirection=Enum(DIRECTIONS),
    providerSpecificDetails=_RP_PSD), required=True)
RP_UNPLANNED_FAILOVER = envelope("RecoveryPlanUnplannedFailoverInput", obj(
    "RecoveryPlanUnplannedFailoverInputProperties", ("failoverDirection", "sourceSiteOperations"), failoverDirection=Enum(DIRECTIONS),
    sourceSiteOperations=Enum(SOURCE_SITE_OPERATIONS), providerSpecificDetails=_RP_PSD), required=True)
RP_TEST_FAILOVER = envelope("RecoveryPlanTestFailoverInput", obj(
    "RecoveryPlanTestFailoverInputProperties", ("failoverDirection", "networkType"), failoverDirection=Enum(DIRECTIONS), networkType=Str(),
    networkId=Str(), providerSpecificDetails=_RP_PSD), required=True)
RP_TEST_FAILOVER_CLEANUP = envelope("RecoveryPlanTestFailoverCleanupInput", obj("RecoveryPlanTestFailoverCleanupInputProperties", comments=Str()),
                                    required=True)
RESUME_JOB = envelope("ResumeJobParams", obj("ResumeJobParamsProperties", comments=Str()))


def body_of(schema: Obj, body, *, required: bool) -> dict:
    """Validate a parsed JSON body; an absent body is {} when the operation's input parameter is optional."""
    if body is None:
        if required:
            _fail("body", "the operation requires a {0} body".format(schema.model))
        return {}
    check(schema, body)
    return body


def props(body: dict) -> dict:
    return body.get("properties") or {}
