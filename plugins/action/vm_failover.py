# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import datetime

from ansible.errors import AnsibleActionFail

from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._hyperv import Plan, PlanError, VMStateAction
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._runner import RunnerCall, RunnerError

VM_SELECT = ["Name", "Id", "State", "ReplicationMode", "ReplicationState"]
REPLICATION_SELECT = [
    "VMName", "VMId", "ReplicationMode", "ReplicationState", "ReplicationHealth", "ReplicationRelationshipType",
    "PrimaryServerName", "ReplicaServerName", "TestVirtualMachine",
]
SNAPSHOT_SELECT = ["VMName", "VMId", "Name", "Id", "SnapshotType", "CreationTime"]
HOST_SELECT = ["Name", "FullyQualifiedDomainName"]
RECOVERY_POINT_TYPES = ("Replica", "AppConsistentReplica", "SyncedReplica")
REPLICA_MODES = ("Replica", "ExtendedReplica")
FAILED_OVER = ("FailedOverWaitingCompletion", "FailedOver")
# Replica-side states from which a failover (or a test failover) can start: a recovery point exists and no
# other failover operation runs (HRS §1.1, §3.2; TIM §1.2 one failover operation at a time).
FAILOVER_FROM = ("Replicating", "Suspended", "Error", "WaitingForStartResynchronize")
# Power states of a primary copy that is, or can at once become, a running second copy.
PRIMARY_ACTIVE = ("Running", "Starting", "Paused", "Pausing", "Resuming", "Saved", "Saving", "Stopping", "Reset")
POINT_STATES = ("failed_over", "test", "completed")
WILDCARDS = "*?["
TEST_SUFFIX = " - Test"  # Hyper-V names the test VM "<VM> - Test" (INFERRED from Hyper-V Manager)


# ---- pure helpers ------------------------------------------------------------------------------
def parse_time(text):
    """ISO-8601 text -> aware datetime (UTC when no offset is given); ValueError when it is not a time."""
    value = datetime.datetime.fromisoformat(str(text).strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def shape_point(snap):
    return {"name": snap["Name"], "id": snap["Id"], "type": snap["SnapshotType"], "creation_time": snap["CreationTime"]}


def recovery_points(snapshots, vm_id):
    """Recovery points of one VM, newest first (user checkpoints left out)."""
    points = [shape_point(s) for s in snapshots if s.get("VMId") == vm_id and s.get("SnapshotType") in RECOVERY_POINT_TYPES]
    return sorted(points, key=lambda p: parse_time(p["creation_time"]) if p["creation_time"] else datetime.datetime.min.replace(
        tzinfo=datetime.timezone.utc), reverse=True)


def describe_points(points):
    if not points:
        return "none"
    return "; ".join("'%s' (%s, %s, Id %s)" % (p["name"], p["type"], p["creation_time"], p["id"]) for p in points)


def resolve_point(points, recovery_point, before):
    """The recovery point chosen by the options, or PlanError listing what is available. Returns (point, latest)."""
    if not points:
        raise PlanError("it has no recovery point to fail over to (has initial replication completed?).")
    if before is not None:
        limit = parse_time(before)
        for point in points:
            if point["creation_time"] and parse_time(point["creation_time"]) <= limit:
                return point, False
        raise PlanError("it has no recovery point at or before %s. Available recovery points: %s."
                        % (limit.isoformat(), describe_points(points)))
    if recovery_point in (None, "latest"):
        return points[0], True
    if recovery_point == "latest_app_consistent":
        for point in points:
            if point["type"] == "AppConsistentReplica":
                return point, False
        raise PlanError("it has no application-consistent recovery point (AppConsistentReplica; is VSSSnapshotFrequencyHour set?). "
                        "Available recovery points: %s." % describe_points(points))
    wanted = recovery_point.strip().lower()
    for point in points:
        if wanted in (point["name"].lower(), str(point["id"]).lower().strip("{}")):
            return point, False
    raise PlanError("it has no recovery point named or with Id '%s'. Available recovery points: %s."
                    % (recovery_point, describe_points(points)))


def failover_call(plan, name, point, latest, test=False):
    """Start-VMFailover for one VM: the VMName set for the latest point, else the VMSnapshot set with the point object."""
    extra = {"AsTest": True} if test else {}
    if latest:
        plan.add("Start-VMFailover", dict({"VMName": [name]}, **extra, Confirm=False))
        return
    found = plan.add("Get-VMSnapshot", {"Id": point["id"]}, [], step=False)
    plan.add("Start-VMFailover", dict({"VMRecoverySnapshot": Plan.ref(found)}, **extra, Confirm=False),
             step="Start-VMFailover%s -VMRecoverySnapshot '%s' (%s)" % (" -AsTest" if test else "", point["name"], name))


def guard_refusal(check, primary_state):
    """Why an unplanned failover must not run, or None (split-brain guard).

    What the primary server answered decides. When it gave no answer (the question failed, or nothing came back),
    the caller's ``primary_state`` decides, and no value means refuse: silence is never taken as "lost", because a
    denied second hop (NTLM, Kerberos without delegation) is silent too while the primary copy may be running.
    """
    server = check["server"]
    if check["answered"]:
        vm = check.get("vm")
        if vm is None:
            return ("the primary server %s answers but has no VM with this Id: the primary copy may run elsewhere (moved to "
                    "another node?). Find it and make sure it is off, then set force: true." % server)
        if vm["ReplicationState"] == "PreparedForFailover" and vm["State"] == "Off":
            return None
        if vm["State"] in PRIMARY_ACTIVE:
            return ("the primary copy on %s is %s and its server answers: failing over now would give two running copies "
                    "(split brain). For a planned failover shut it down (site_recovery.hyperv.vm_power state=stopped) and run "
                    "state=prepared on %s first; to fail over anyway set force: true." % (server, vm["State"], server))
        return ("the primary copy on %s is %s but was not prepared for failover (replication state %s): run state=prepared on "
                "%s first (planned failover: no data loss, and Hyper-V locks the primary against starting), or set force: true "
                "for an unplanned failover." % (server, vm["State"], vm["ReplicationState"], server))
    if primary_state == "running":
        return ("primary_state says the primary copy on %s runs: failing over would give two running copies (split brain). "
                "Shut it down first, or set force: true." % server)
    if primary_state in ("off", "unreachable"):
        return None
    return ("the split-brain check could not ask the primary server %s about the primary copy (%s), so its state is unknown. "
            "Once you know the primary copy is not running and will not start, set primary_state: unreachable (or off), or "
            "force: true." % (server, check.get("error") or "no answer"))


def decide(state, name, view, points, check, options):
    """Pure decision for one VM: current view x desired state -> Plan (maybe empty), or PlanError.

    The Plan carries ``note`` (what was found or done, for the result) and, for failed_over/test,
    ``recovery_point`` (the point used) and ``guard`` (the split-brain check outcome).
    """
    plan = Plan()
    plan.note = None
    plan.recovery_point = None
    mode, repl, power = view["replication_mode"], view["replication_state"], view["state"]
    if mode == "TestReplica":
        raise PlanError("it is a test failover VM; run the task against the Replica VM it was created from (state=test_cleanup "
                        "removes it).")
    if mode == "None":
        raise PlanError("Hyper-V Replica is not enabled for it on this host.")
    replica = mode in REPLICA_MODES
    if state == "prepared":
        if replica:
            raise PlanError("this host holds its %s copy; prepare a planned failover on the primary host %s."
                            % (mode, view["primary_server"]))
        if repl == "PreparedForFailover":
            plan.note = "Already prepared for a planned failover."
            return plan
        if repl != "Replicating":
            raise PlanError("its replication state is %s; a planned failover needs Replicating (resume or resynchronize "
                            "replication first)." % repl)
        if power != "Off":
            raise PlanError("it is %s; a planned failover needs the primary copy shut down first: run "
                            "site_recovery.hyperv.vm_power state=stopped for it on this host, then this task again." % power)
        plan.add("Start-VMFailover", {"VMName": [name], "Prepare": True, "Confirm": False})
        plan.expect = {"replication_state": "PreparedForFailover"}
        plan.note = ("Prepares the planned failover: the changes not yet replicated are sent, and Hyper-V locks the primary copy "
                     "against starting. Next: state=failed_over on the Replica host %s." % view["replica_server"])
        return plan
    if state == "failed_over":
        if not replica:
            if repl == "PreparedForFailover":
                raise PlanError("this host holds its primary copy, prepared for a planned failover: run state=failed_over "
                                "on the Replica host %s." % view["replica_server"])
            plan.note = ("This host holds the primary copy: nothing to fail over here (it was failed over and reversed, or "
                         "the task targets the primary host instead of the Replica host %s)." % view["replica_server"])
            return plan
        if repl in FAILED_OVER:
            plan.note = "Already failed over (%s)." % repl
            if options["recovery_point"] not in (None, "latest") or options["recovery_point_before"]:
                plan.note += (" The recovery point was not changed: to fail over to another point, run state=cancelled "
                              "then state=failed_over again.")
            return plan
        if view["test_vm"]:
            raise PlanError("a test failover is running (test VM '%s'); Hyper-V runs one failover operation at a time: "
                            "remove it with state=test_cleanup first." % view["test_vm"])
        if repl not in FAILOVER_FROM:
            raise PlanError("its replication state is %s; a failover can start only from %s." % (repl, ", ".join(FAILOVER_FROM)))
        point, latest = resolve_point(points, options["recovery_point"], options["recovery_point_before"])
        if check is None:
            check = {"server": view["primary_server"] or "(none named)", "answered": False, "vm": None,
                     "error": "the relationship names no primary server to ask"}
        if options["force"]:
            plan.note = "force: true: the split-brain check was skipped."
        else:
            why = guard_refusal(check, options["primary_state"])
            if why:
                raise PlanError("refusing to fail over: " + why)
            if check["answered"]:
                plan.note = "Planned failover: the primary copy on %s is prepared and off." % check["server"]
            else:
                plan.note = "Unplanned failover: the primary server %s did not answer" % check["server"]
                if check.get("error"):
                    plan.note += " (%s); primary_state: %s" % (check["error"], options["primary_state"])
                plan.note += "."
        plan.guard = check
        plan.recovery_point = point
        failover_call(plan, name, point, latest)
        plan.expect = {"replication_state": "FailedOverWaitingCompletion"}
        return plan
    if state == "completed":
        if not replica:
            if repl == "PreparedForFailover":
                raise PlanError("this host holds its primary copy, prepared for a planned failover; Complete-VMFailover runs "
                                "on the Replica host %s after state=failed_over." % view["replica_server"])
            plan.note = "This host holds the primary copy (failover completed and replication reversed): nothing to complete."
            return plan
        if repl == "FailedOver":
            plan.note = "Failover already completed."
            return plan
        if repl != "FailedOverWaitingCompletion":
            raise PlanError("its replication state is %s: it has not been failed over, and Complete-VMFailover applies only "
                            "to a failed-over Replica VM (FailedOverWaitingCompletion). Run state=failed_over first." % repl)
        plan.add("Complete-VMFailover", {"VMName": [name], "Confirm": False})
        plan.expect = {"replication_state": "FailedOver"}
        plan.note = ("Complete-VMFailover keeps the recovery point failed over to and deletes every other recovery point; "
                     "the failover can no longer be cancelled.")
        return plan
    if state == "cancelled":
        if not replica:
            if repl != "PreparedForFailover":
                plan.note = "No failover to cancel on this host."
                return plan
            plan.add("Stop-VMFailover", {"VMName": [name], "Confirm": False})
            plan.expect = {"replication_state": "Replicating"}
            plan.note = "Cancels the prepared planned failover; replication restarts and the primary copy can be started again."
            return plan
        if view["test_vm"]:
            plan.add("Stop-VMFailover", {"VMName": [name], "Confirm": False})
            plan.expect = {"test_vm": None}
            plan.note = "Stops the test failover and deletes the test VM '%s'." % view["test_vm"]
            return plan
        if repl == "FailedOver":
            raise PlanError("its failover was completed (Complete-VMFailover) and, as Microsoft documents, cannot be cancelled "
                            "any more. To return, reverse replication (site_recovery.hyperv.vm_replication) and fail over "
                            "back with a planned failover.")
        if repl != "FailedOverWaitingCompletion":
            plan.note = "No failover to cancel (replication state %s)." % repl
            return plan
        if power != "Off" and not options["force"]:
            raise PlanError("it is %s after failover: cancelling turns it off at once and discards the failover disk, i.e. "
                            "everything the VM wrote since it was failed over is lost. Shut it down first "
                            "(site_recovery.hyperv.vm_power state=stopped) or set force: true to accept that loss." % power)
        plan.add("Stop-VMFailover", {"VMName": [name], "Confirm": False})
        plan.expect = {"replication_state": "Replicating", "state": "Off"}
        plan.note = "Cancels the failover: the Replica VM is off and back to its recovery points; replication can resume."
        return plan
    if state == "test":
        if not replica:
            raise PlanError("this host holds its primary copy; a test failover runs on the Replica host %s." % view["replica_server"])
        if view["test_vm"]:
            plan.note = "A test VM exists already: '%s'." % view["test_vm"]
            return plan
        if repl not in FAILOVER_FROM:
            raise PlanError("its replication state is %s; a test failover can start only from %s."
                            % (repl, ", ".join(FAILOVER_FROM)))
        point, latest = resolve_point(points, options["recovery_point"], options["recovery_point_before"])
        plan.recovery_point = point
        failover_call(plan, name, point, latest, test=True)
        plan.expect = {"test_vm": name + TEST_SUFFIX}
        plan.note = "Creates the test VM from recovery point '%s'; replication goes on." % point["name"]
        return plan
    # test_cleanup
    if not replica or not view["test_vm"]:
        plan.note = "No test failover VM to remove."
        return plan
    plan.add("Stop-VMFailover", {"VMName": [name], "Confirm": False})
    plan.expect = {"test_vm": None}
    plan.note = "Stops the test failover and deletes the test VM '%s'." % view["test_vm"]
    return plan


def done(state, view):
    """Whether the VM reached the desired state (what settle waits for)."""
    if view is None:
        return False
    mode, repl = view["replication_mode"], view["replication_state"]
    if state == "prepared":
        return repl == "PreparedForFailover"
    if state == "failed_over":
        return repl in FAILED_OVER or mode == "Primary"
    if state == "completed":
        return repl == "FailedOver" or mode == "Primary"
    if state == "cancelled":
        return repl not in ("PreparedForFailover", "FailedOverWaitingCompletion") and not view["test_vm"]
    if state == "test":
        return bool(view["test_vm"])
    return not view["test_vm"]


def observe_failover(names, vms, relationships):
    """The module's view of each VM (None when absent); refuse a name that two VMs of the host share."""
    by_name = {}
    for vm in vms:
        by_name.setdefault(vm["Name"].lower(), []).append(vm)
    simple = {r["VMId"]: r for r in relationships if r.get("ReplicationRelationshipType", "Simple") == "Simple"}
    views = {}
    for name in names:
        matches = by_name.get(name.lower()) or []
        if len(matches) > 1:
            raise AnsibleActionFail("The host has %d virtual machines named '%s' (Ids %s): name them apart before using this module."
                                    % (len(matches), name, ", ".join(m["Id"] for m in matches)))
        if not matches:
            views[name.lower()] = None
            continue
        vm = matches[0]
        rel = simple.get(vm["Id"]) or {}
        test_vm = rel.get("TestVirtualMachine") or None
        test = (by_name.get((name + TEST_SUFFIX).lower()) or [None])[0]
        if test is not None and test.get("ReplicationMode") == "TestReplica":
            test_vm = test["Name"]
        views[name.lower()] = {
            "name": vm["Name"],
            "id": vm["Id"],
            "state": vm["State"],
            "replication_mode": rel.get("ReplicationMode") or vm.get("ReplicationMode") or "None",
            "replication_state": rel.get("ReplicationState") or vm.get("ReplicationState") or "Disabled",
            "replication_health": rel.get("ReplicationHealth"),
            "primary_server": rel.get("PrimaryServerName"),
            "replica_server": rel.get("ReplicaServerName"),
            "test_vm": test_vm,
        }
    return views


# ---- the action plugin -------------------------------------------------------------------------
class ActionModule(VMStateAction):

    argument_spec = {
        "name": {"type": "list", "elements": "str", "required": True, "aliases": ["vm_name"]},
        "state": {"type": "str", "required": True, "choices": ["prepared", "failed_over", "completed", "cancelled", "test", "test_cleanup"]},
        "recovery_point": {"type": "str"},
        "recovery_point_before": {"type": "str"},
        "primary_state": {"type": "str", "choices": ["running", "off", "unreachable"]},
        "force": {"type": "bool", "default": False},
        "timeout": {"type": "int", "default": 600},
    }
    validation_kwargs = {"mutually_exclusive": [["recovery_point", "recovery_point_before"]]}
    # Per-task state, reset by run_module.
    _state = None
    _points = None
    _points_before = None
    _checks = None
    _settle_failure = None

    def read_calls(self, names, args):
        # SilentlyContinue: a missing VM (or test VM) is no object rather than an error; the base refuses missing VMs clearly.
        calls = [
            RunnerCall("Get-VM", {"Name": list(names) + [n + TEST_SUFFIX for n in names], "ErrorAction": "SilentlyContinue"}, VM_SELECT),
            RunnerCall("Get-VMReplication", {}, REPLICATION_SELECT),
        ]
        if args["state"] in POINT_STATES:
            calls.append(RunnerCall("Get-VMSnapshot", {"VMName": list(names), "ErrorAction": "SilentlyContinue"}, SNAPSHOT_SELECT))
        return calls

    def observe(self, names, results, args):
        views = observe_failover(names, results[0], results[1])
        snapshots = results[2] if len(results) > 2 else []
        self._points = {k: recovery_points(snapshots, v["id"]) if v else [] for k, v in views.items()}
        if self._points_before is None:
            self._points_before = dict(self._points)
        return views

    def read(self, names, args):
        views = super().read(names, args)
        if self._checks is None:
            self._checks = {}
            if args["state"] == "failed_over" and not args["force"]:
                self._checks = self.check_primaries(views)
        return views

    def check_primaries(self, views):
        """Split-brain guard: ask each primary server (one batch) whether the primary copy runs or was prepared."""
        wanted = {}
        for key, view in views.items():
            if view and view["replication_mode"] in REPLICA_MODES and view["replication_state"] not in FAILED_OVER \
                    and view["primary_server"]:
                wanted.setdefault(view["primary_server"], []).append(key)
        servers = sorted(wanted)
        answers = {}

        def calls_for(server):
            names = [views[k]["name"] for k in wanted[server]]
            # Get-VMHost without SilentlyContinue: an unreachable server or a denied second hop must show as an error.
            return [RunnerCall("Get-VMHost", {"ComputerName": [server]}, HOST_SELECT),
                    RunnerCall("Get-VM", {"ComputerName": [server], "Name": names, "ErrorAction": "SilentlyContinue"}, VM_SELECT)]

        try:
            results = self.run_calls([c for s in servers for c in calls_for(s)]) if servers else []
            for i, server in enumerate(servers):
                answers[server] = (results[2 * i], results[2 * i + 1], None)
        except RunnerError:
            # A terminating error: ask each server on its own so one failure does not hide the others' answers.
            for server in servers:
                try:
                    hosts, vms = self.run_calls(calls_for(server))
                    answers[server] = (hosts, vms, None)
                except RunnerError as e:
                    answers[server] = ([], [], "%s: %s [%s]" % (e.cmdlet, e.message, e.fqid))
        checks = {}
        for server, keys in wanted.items():
            hosts, vms, error = answers[server]
            by_id = {vm["Id"]: vm for vm in vms}
            for key in keys:
                vm = by_id.get(views[key]["id"])
                checks[key] = {
                    "server": server,
                    "answered": bool(hosts) or bool(vms),
                    "vm": vm,
                    "error": error,
                }
        return checks

    def plan(self, name, view, args):
        key = name.lower()
        return decide(args["state"], name, view, self._points.get(key, []), self._checks.get(key), args)

    def run_module(self, args):
        bad = [n for n in args["name"] if any(c in n for c in WILDCARDS)]
        if bad:
            raise AnsibleActionFail("VM names must be exact, without wildcards (%s): %s." % (WILDCARDS, ", ".join(bad)))
        if (args["recovery_point"] or args["recovery_point_before"]) and args["state"] not in ("failed_over", "test"):
            raise AnsibleActionFail("recovery_point and recovery_point_before apply only to state=failed_over or state=test.")
        if args["primary_state"] and args["state"] != "failed_over":
            raise AnsibleActionFail("primary_state applies only to state=failed_over.")
        if args["recovery_point_before"]:
            try:
                parse_time(args["recovery_point_before"])
            except ValueError:
                raise AnsibleActionFail("recovery_point_before must be an ISO-8601 time such as 2026-11-25T18:00:00Z (got '%s')."
                                        % args["recovery_point_before"]) from None
        if args["timeout"] <= 0:
            raise AnsibleActionFail("timeout must be a positive number of seconds (got %d)." % args["timeout"])
        self._points, self._points_before, self._checks, self._settle_failure = {}, None, None, None
        self._state = args["state"]
        result = super().run_module(args)
        if self._settle_failure and not result.get("failed"):
            result.update(failed=True, msg=self._settle_failure)
        return result

    def report(self, names, before, after, plans):
        out = super().report(names, before, after, plans)
        state = self._state
        for entry in out:
            key = entry["name"].lower()
            plan = plans.get(key)
            entry["note"] = getattr(plan, "note", None)
            if state in ("failed_over", "test"):
                entry["recovery_point"] = getattr(plan, "recovery_point", None)
            if state == "failed_over":
                check = getattr(plan, "guard", None) or (self._checks or {}).get(key)
                entry["primary_check"] = None if check is None else {
                    "server": check["server"], "answered": check["answered"], "error": check.get("error"),
                    "vm_state": (check.get("vm") or {}).get("State"),
                    "replication_state": (check.get("vm") or {}).get("ReplicationState"),
                }
            if state == "completed":
                entry["recovery_points_deleted"] = self.deleted_points(key, plan)
        return out

    def deleted_points(self, key, plan):
        if not plan or self._task.check_mode:
            return []
        kept = {p["id"] for p in self._points.get(key, [])}
        return [p for p in (self._points_before or {}).get(key, []) if p["id"] not in kept]

    def settle(self, names, args, views):
        """Poll until every VM that was changed reached the desired state, or the timeout."""
        changed = [n for n in names if not done(args["state"], views.get(n.lower()))]
        last = {}

        def read():
            last.update(self.read(names, args))
            return last

        try:
            return self.poll(read, lambda v: all(done(args["state"], v.get(n.lower())) for n in changed), args["timeout"],
                             "%s to be %s" % (", ".join(changed), args["state"]))
        except AnsibleActionFail:
            late = ["%s (replication state %s)" % (n, (last.get(n.lower()) or {}).get("replication_state"))
                    for n in changed if not done(args["state"], last.get(n.lower()))]
            self._settle_failure = (
                "The cmdlets ran on %s, but after %d s these VMs are not %s yet: %s. Run the task again to wait longer, or look "
                "at the VM in Hyper-V Manager." % (self.host_name, args["timeout"], args["state"], "; ".join(late)))
            return last

    def explain_error(self, error):
        return ("%s failed on Hyper-V host %s: %s [%s]. Read the VMs again (site_recovery.hyperv.vm_replication_info) before "
                "deciding; a re-run of this task converges from the state it finds."
                % (error.cmdlet, self.host_name, error.message, error.fqid))
