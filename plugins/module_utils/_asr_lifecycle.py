# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the collection: the failover lifecycle of protected items and recovery plans (asr_protected_item,
asr_recovery_plan): from the live view (allowedOperations, activeLocation, lifecycle derived from them) and the
desired state, decide whether there is nothing to do, which ASR operation to call with which body, or that the
operation is not allowed now. asr-api.md §2 (item actions and bodies), §3 (plan actions and bodies), §4 (allowedOperations
is the gate; protectionState is an opaque string).
"""

from __future__ import annotations

import re

from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr import AsrError

STATES = ["failed_over", "committed", "reprotected", "test_failed_over", "test_cleaned_up", "cancelled"]
DIRECTIONS = {"primary_to_recovery": "PrimaryToRecovery", "recovery_to_primary": "RecoveryToPrimary"}

# allowedOperations value -> SDK method (same names on replication_protected_items and replication_recovery_plans).
METHODS = {
    "PlannedFailover": "begin_planned_failover",
    "UnplannedFailover": "begin_unplanned_failover",
    "Commit": "begin_failover_commit",
    "CancelFailover": "begin_failover_cancel",
    "ReverseReplicate": "begin_reprotect",
    "TestFailover": "begin_test_failover",
    "TestFailoverCleanup": "begin_test_failover_cleanup",
    "ChangePit": "begin_apply_recovery_point",
}
WORDS = {
    "PlannedFailover": "planned failover", "UnplannedFailover": "unplanned failover", "Commit": "commit of the failover",
    "CancelFailover": "cancel of the failover", "ReverseReplicate": "reprotect (reverse replication)", "TestFailover": "test failover",
    "TestFailoverCleanup": "test failover cleanup", "ChangePit": "change of recovery point",
}
# Job scenario names (free strings, asr-api.md §9.3) that mean an operation of that kind is running; compared without
# case and punctuation.
SCENARIOS = {
    "PlannedFailover": {"plannedfailover"},
    "UnplannedFailover": {"unplannedfailover", "failover"},
    "Commit": {"commit", "commitfailover", "failovercommit"},
    "CancelFailover": {"cancelfailover", "failovercancel"},
    "ReverseReplicate": {"reprotect", "reversereplicate", "reversereplication", "switchprotection"},
    "TestFailover": {"testfailover"},
    "TestFailoverCleanup": {"testfailovercleanup", "cleanuptestfailover"},
    "ChangePit": {"changepit", "applyrecoverypoint", "changerecoverypoint"},
}
HINTS = {
    "test_failed_over": "A test failover awaits cleanup: run state=test_cleaned_up first.",
    "failed_over": "A failover awaits commit: commit it (state=committed) or cancel it (state=cancelled) first.",
    "committed": "The failover is committed but replication is not reversed yet: run state=reprotected first.",
    "in_progress": "An operation is running: wait for its job (site_recovery.hyperv.asr_job_info) and run again.",
}
# The model requires providerSpecificDetails and has no HyperVReplica2012R2 subtype (asr-api.md §2); Az PowerShell sends an
# instance of the base class for Hyper-V Replica E2E (StartAzureRmRecoveryServicesAsrApplyRecoveryPoint.cs): an object without
# provider fields.
APPLY_RECOVERY_POINT_PROVIDER_INPUT = {}


class NotAllowed(AsrError):
    """The operation cannot run in the current state; the message names the allowed operations and the state."""


class Decision:
    """Nothing to do (operation None, msg says why), or one ASR operation with its request body and the predicted view."""

    def __init__(self, operation=None, body=None, msg="", predicted=None):
        self.operation = operation
        self.method = METHODS.get(operation)
        self.body = body
        self.msg = msg
        self.predicted = predicted or {}

    @property
    def needed(self):
        return self.operation is not None


class Wanted:
    """The desired state and its parameters, shared by asr_protected_item and asr_recovery_plan."""

    def __init__(self, state, failover_type="planned", direction=None, source_site_operations=False, network_id=None, comments=None):
        self.network_label = None
        self.state = state
        self.failover_type = failover_type
        self.direction = DIRECTIONS.get(direction, direction)
        self.source_site_operations = source_site_operations
        self.network_id = network_id
        self.comments = comments

    def failover_operation(self):
        return "PlannedFailover" if self.failover_type == "planned" else "UnplannedFailover"


def state_operations(wanted):
    """The ASR operations that move towards the wanted state (a running job of one of them is followed, not refused)."""
    return {"failed_over": {wanted.failover_operation(), "ChangePit"}, "committed": {"Commit"}, "reprotected": {"ReverseReplicate"},
            "test_failed_over": {"TestFailover"}, "test_cleaned_up": {"TestFailoverCleanup"}, "cancelled": {"CancelFailover"}}[wanted.state]


def running_matches(wanted, scenario_name):
    return any(scenario_matches(operation, scenario_name) for operation in state_operations(wanted))


def busy(kind, view, job):
    """NotAllowed for an item/plan whose running job is not one that leads to the wanted state."""
    props = (job or {}).get("properties") or {}
    return NotAllowed("%s %s is busy: ASR job %s (%s) is %s. Wait for it (site_recovery.hyperv.asr_job_info) and run again." % (
        kind.capitalize(), view.get("friendly_name") or view.get("name"), (job or {}).get("name"), props.get("scenarioName"),
        props.get("state")), running_job=(job or {}).get("name"))


def normalise(text):
    return re.sub(r"[^a-z]", "", (text or "").lower())


def scenario_matches(operation, scenario_name):
    return normalise(scenario_name) in SCENARIOS.get(operation, set())


def target_side(direction):
    return "Recovery" if direction == "PrimaryToRecovery" else "Primary"


def other_side(location):
    return {"Primary": "Recovery", "Recovery": "Primary"}.get(location, location)


def direction_from(active_location):
    return {"Primary": "PrimaryToRecovery", "Recovery": "RecoveryToPrimary"}.get(active_location)


def describe_state(view):
    parts = ["lifecycle %s" % view.get("lifecycle"), "active location %s" % view.get("active_location")]
    if view.get("protection_state"):
        parts.append("protection state %s" % view["protection_state"])
    if view.get("test_failover_state") and view["test_failover_state"] != "None":
        parts.append("test failover state %s" % view["test_failover_state"])
    if view.get("current_scenario"):
        parts.append("current scenario %s" % view["current_scenario"]["name"])
    return ", ".join(parts)


def lagging_items(view, operation):
    """For a plan: its VMs that do not allow the operation themselves, which is usually why the plan does not allow it."""
    items = [item for item in view.get("items") or [] if operation not in (item.get("allowed_operations") or [])]
    described = ["%s is %s (%s, allows %s)" % (item["name"], item["lifecycle"], item.get("protection_state"),
                                               ", ".join(item.get("allowed_operations") or []) or "nothing") for item in items[:5]]
    return "; ".join(described)


def not_allowed(kind, view, operation, extra=""):
    allowed = view.get("allowed_operations") or []
    hint = HINTS.get(view.get("lifecycle"), "")
    lagging = lagging_items(view, operation) if kind == "plan" else ""
    if lagging:
        hint = ("VMs of the plan that do not allow it: %s. %s" % (lagging, hint)).strip()
    return NotAllowed("Cannot start the %s of %s %s: ASR allows %s now (%s).%s%s" % (
        WORDS.get(operation, operation), kind, view.get("friendly_name") or view.get("name"),
        ", ".join(allowed) if allowed else "no operation", describe_state(view), (" " + hint) if hint else "", (" " + extra) if extra else ""),
        allowed_operations=allowed, lifecycle=view.get("lifecycle"), active_location=view.get("active_location"))


def has_failed_over(kind, view):
    """Evidence that a failover happened and was committed: active at Recovery, or a recorded failover time."""
    if view.get("active_location") in ("Recovery", "Mixed"):
        return True
    if kind == "item":
        return bool(view.get("last_successful_failover_time"))
    return bool(view.get("last_planned_failover_time") or view.get("last_unplanned_failover_time"))


def decide(kind, view, wanted):
    """The Decision for `kind` ('item' or 'plan') in `view` (item_view/plan_view) towards `wanted`. Raises NotAllowed."""
    handler = {"failed_over": _failed_over, "committed": _committed, "reprotected": _reprotected, "test_failed_over": _test_failed_over,
               "test_cleaned_up": _test_cleaned_up, "cancelled": _cancelled}[wanted.state]
    return handler(kind, view, wanted, view.get("allowed_operations") or [], view.get("lifecycle"))


def _failed_over(kind, view, wanted, allowed, lifecycle):
    direction = wanted.direction or "PrimaryToRecovery"
    target = target_side(direction)
    if kind == "plan" and not view.get("items"):
        raise AsrError("Recovery plan %s has no protected items; add them with site_recovery.hyperv.asr_recovery_plan_config." % view["name"])
    if view.get("active_location") == target and lifecycle in ("failed_over", "committed", "protected", "test_failed_over"):
        pending = " (the failover awaits commit)" if lifecycle == "failed_over" else ""
        return Decision(msg="Already active at the %s site%s; no failover needed." % (target, pending))
    operation = wanted.failover_operation()
    if operation not in allowed:
        raise not_allowed(kind, view, operation, "Wanted: active at the %s site (%s)." % (target, direction))
    properties = {"failoverDirection": direction}
    if operation == "UnplannedFailover":
        properties["sourceSiteOperations"] = "Required" if wanted.source_site_operations else "NotRequired"
    if kind == "plan":
        # Az PowerShell adds no provider entry for HyperVReplica2012R2 plans: an empty list (asr-api.md §3).
        properties["providerSpecificDetails"] = []
    return Decision(operation, {"properties": properties}, "%s to the %s site." % (WORDS[operation].capitalize(), target),
                    {"lifecycle": "failed_over", "active_location": target, "replication_direction": None})


def _committed(kind, view, wanted, allowed, lifecycle):
    if "Commit" in allowed:
        return Decision("Commit", None, "Commit the failover (active at the %s site)." % view.get("active_location"),
                        {"lifecycle": "committed", "replication_direction": None})
    if lifecycle in ("committed", "protected") and has_failed_over(kind, view):
        return Decision(msg="No failover awaits commit; the last failover is committed (active at the %s site)." % view.get("active_location"))
    raise not_allowed(kind, view, "Commit", "There is no failover to commit.")


def _reprotected(kind, view, wanted, allowed, lifecycle):
    if "ReverseReplicate" in allowed:
        direction = direction_from(view.get("active_location"))
        if kind == "item" and not direction:
            raise not_allowed(kind, view, "ReverseReplicate", "The active location is unknown, so is the direction to replicate in.")
        body = None if kind == "plan" else {"properties": {"failoverDirection": direction}}  # the plan reProtect has no body (§3)
        return Decision("ReverseReplicate", body, "Reverse replication (%s)." % (direction or "from the active site"),
                        {"lifecycle": "protected", "replication_direction": direction})
    if lifecycle in ("protected", "test_failed_over"):
        direction = view.get("replication_direction") or direction_from(view.get("active_location"))
        return Decision(msg="Already protected, replicating %s; nothing to reverse." % direction)
    raise not_allowed(kind, view, "ReverseReplicate")


def _test_failed_over(kind, view, wanted, allowed, lifecycle):
    if lifecycle == "test_failed_over":
        return Decision(msg="A test failover is already done and awaits cleanup.")
    if "TestFailover" not in allowed:
        raise not_allowed(kind, view, "TestFailover")
    direction = wanted.direction or direction_from(view.get("active_location"))
    if not direction:
        raise AsrError("The items of %s %s are active at different sites (%s); give direction for the test failover." % (
            kind, view.get("name"), view.get("active_location")))
    properties = {"failoverDirection": direction, "networkType": "VmNetworkAsInput" if wanted.network_id else "NoNetworkAttachAsInput"}
    if wanted.network_id:
        properties["networkId"] = wanted.network_id
    if kind == "plan":
        properties["providerSpecificDetails"] = []
    network = "VM network %s" % (wanted.network_label or wanted.network_id.rsplit("/", 1)[-1]) if wanted.network_id else "no network"
    return Decision("TestFailover", {"properties": properties}, "Test failover (%s, %s)." % (direction, network), {"lifecycle": "test_failed_over"})


def _test_cleaned_up(kind, view, wanted, allowed, lifecycle):
    if "TestFailoverCleanup" in allowed:
        properties = {"comments": wanted.comments} if wanted.comments else {}
        return Decision("TestFailoverCleanup", {"properties": properties}, "Clean up the test failover.", {"lifecycle": "protected"})
    if lifecycle != "test_failed_over":
        return Decision(msg="No test failover to clean up.")
    raise not_allowed(kind, view, "TestFailoverCleanup")


def _cancelled(kind, view, wanted, allowed, lifecycle):
    if "CancelFailover" in allowed:
        if lifecycle != "failed_over":
            # A prepared planned failover (primary locked, nothing failed over yet): the VM stays where it is.
            return Decision("CancelFailover", None, "Cancel the prepared planned failover.", {"lifecycle": "protected"})
        return Decision("CancelFailover", None, "Cancel the failover (back to the %s site)." % other_side(view.get("active_location")),
                        {"lifecycle": "protected", "active_location": other_side(view.get("active_location"))})
    if lifecycle == "failed_over":
        raise not_allowed(kind, view, "CancelFailover", "The pending failover cannot be cancelled; commit it instead.")
    return Decision(msg="No failover awaits commit; nothing to cancel.")


# ---------------------------------------------------------------- recovery points (items only)

def choose_recovery_point(points, wanted):
    """The recovery point for `wanted` (latest_app_consistent, a name or an ARM id) among RecoveryPoint wire dicts."""
    if wanted == "latest_app_consistent":
        consistent = [p for p in points if "application" in ((p.get("properties") or {}).get("recoveryPointType") or "").lower()]
        if not consistent:
            raise AsrError("No application-consistent recovery point; the points are: %s." % _describe_points(points))
        return max(consistent, key=lambda p: (p.get("properties") or {}).get("recoveryPointTime") or "")
    for point in points:
        if point.get("name") == wanted or (point.get("id") or "").lower() == wanted.lower():
            return point
    raise AsrError("No recovery point %r; the points are: %s." % (wanted, _describe_points(points)))


def _describe_points(points):
    return ", ".join("%s (%s, %s)" % (p.get("name"), (p.get("properties") or {}).get("recoveryPointType"),
                                      (p.get("properties") or {}).get("recoveryPointTime")) for p in points) or "none"


def apply_recovery_point_body(point_id):
    return {"properties": {"recoveryPointId": point_id, "providerSpecificDetails": dict(APPLY_RECOVERY_POINT_PROVIDER_INPUT)}}


def diff_view(view, keys):
    return {key: view.get(key) for key in keys}
