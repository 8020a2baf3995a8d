# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired Hyper-V Replica state of VMs on one host: enable/change, remove, suspend, resume, resync, reverse, demote.

The decision per VM (``plan_vm``) is pure: live view x desired state -> cmdlet calls or a refusal.
States and transitions follow hyperv-replica-states.md (HRS) §1 and §3.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail

from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._hyperv import Plan, PlanError, VMStateAction, index_by
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._runner import RunnerCall

VM_PROPERTIES = ["Name", "Id", "State", "ReplicationMode", "ReplicationState", "ReplicationHealth"]
REPLICATION_PROPERTIES = [
    "VMName", "VMId", "ReplicationMode", "ReplicationState", "ReplicationHealth", "ReplicationRelationshipType",
    "PrimaryServerName", "ReplicaServerName", "ReplicaServerPort", "AuthenticationType", "CertificateThumbprint",
    "ReplicationFrequencySec", "RecoveryHistory", "VSSSnapshotFrequencyHour", "CompressionEnabled", "AutoResynchronizeEnabled",
    "ResynchronizeStartTime",
]

# option -> (view key, Enable-/Set-VMReplication parameter)
SETTINGS = {
    "replica_server": ("replica_server", "ReplicaServerName"),
    "replica_port": ("replica_port", "ReplicaServerPort"),
    "authentication_type": ("authentication_type", "AuthenticationType"),
    "certificate_thumbprint": ("certificate_thumbprint", "CertificateThumbprint"),
    "frequency": ("frequency_sec", "ReplicationFrequencySec"),
    "recovery_history": ("recovery_history", "RecoveryHistory"),
    "vss_snapshot_frequency_hours": ("vss_snapshot_frequency_hours", "VSSSnapshotFrequencyHour"),
    "compression": ("compression", "CompressionEnabled"),
    "auto_resynchronize": ("auto_resynchronize", "AutoResynchronizeEnabled"),
}
# Enable-VMReplication makes these mandatory (HRS §3.0 step 3); the module's defaults when enabling.
ENABLE_DEFAULTS = {"replica_port": 80, "authentication_type": "Kerberos"}

BEFORE_INITIAL = ("ReadyForInitialReplication", "InitialReplicationInProgress", "WaitingForInitialReplication")
# A failover is under way: changing or removing the relationship now would strand it (HRS §3.1, §3.2, §3.4).
FAILOVER_IN_PROGRESS = ("PreparedForFailover", "FailedOverWaitingCompletion")
# States the module waits through when wait=true; anything else that is not Replicating ends the wait.
IN_PROGRESS = ("InitialReplicationInProgress", "WaitingForInitialReplication", "Resynchronizing")
# Right after this task started initial replication or a resync, Hyper-V may still show the state before it.
STARTING = ("ReadyForInitialReplication", "WaitingForStartResynchronize")
WAIT_STATES = ("present", "resynchronized", "reversed")

DISABLED_VIEW = {
    "mode": "None", "state": "Disabled", "health": "NotApplicable", "primary_server": None, "replica_server": None,
    "replica_port": None, "authentication_type": None, "certificate_thumbprint": None, "frequency_sec": None,
    "recovery_history": None, "vss_snapshot_frequency_hours": None, "compression": None, "auto_resynchronize": None,
    "resynchronize_start_time": None,
}


def same_server(wanted, live):
    """Server names match as Hyper-V resolves them: case-insensitively, a short name matching its FQDN."""
    if not wanted or not live:
        return wanted == live
    a, b = wanted.lower().rstrip("."), live.lower().rstrip(".")
    if a == b:
        return True
    if "." not in a or "." not in b:
        return a.split(".")[0] == b.split(".")[0]
    return False


def shape(vm, relationship):
    """The module's flat view of one VM: power state plus its Simple relationship (or the Disabled view)."""
    view = {"power_state": vm["State"]}
    if relationship is None:
        view.update(DISABLED_VIEW)
        if vm.get("ReplicationMode") not in (None, "None"):
            # A VM made a Replica with Enable-VMReplication -AsReplica waits for its primary: the VM object tells.
            view.update(mode=vm["ReplicationMode"], state=vm["ReplicationState"], health=vm["ReplicationHealth"])
        return view
    view.update({
        "mode": relationship["ReplicationMode"],
        "state": relationship["ReplicationState"],
        "health": relationship["ReplicationHealth"],
        "primary_server": relationship["PrimaryServerName"],
        "replica_server": relationship["ReplicaServerName"],
        "replica_port": relationship["ReplicaServerPort"],
        "authentication_type": relationship["AuthenticationType"],
        "certificate_thumbprint": relationship["CertificateThumbprint"],
        "frequency_sec": relationship["ReplicationFrequencySec"],
        "recovery_history": relationship["RecoveryHistory"],
        "vss_snapshot_frequency_hours": relationship["VSSSnapshotFrequencyHour"],
        "compression": relationship["CompressionEnabled"],
        "auto_resynchronize": relationship["AutoResynchronizeEnabled"],
        "resynchronize_start_time": relationship["ResynchronizeStartTime"],
    })
    return view


def setting_differs(option, wanted, live):
    if option == "replica_server":
        return not same_server(wanted, live)
    if option == "certificate_thumbprint":
        return (wanted or "").upper() != (live or "").upper()
    return wanted != live


def differing_settings(view, args):
    """{option: wanted} for each setting the task gives that the live relationship does not have."""
    out = {}
    for option, (key, dummy) in SETTINGS.items():
        wanted = args.get(option)
        if wanted is not None and setting_differs(option, wanted, view.get(key)):
            out[option] = wanted
    return out


def check_vss(view, args):
    """HRS §4: application-consistent points only when RecoveryHistory is nonzero (checked against the result)."""
    history = args.get("recovery_history")
    if history is None:
        history = view.get("recovery_history") or 0
    vss = args.get("vss_snapshot_frequency_hours")
    if vss is None:
        vss = view.get("vss_snapshot_frequency_hours") or 0
    if vss and not history:
        raise PlanError(
            "vss_snapshot_frequency_hours=%d needs recovery_history greater than 0 (application-consistent recovery points are kept "
            "only with additional recovery points); set recovery_history, or set vss_snapshot_frequency_hours=0." % vss)


def setting_params(settings):
    """Set-VMReplication parameters for the changed settings; VSS off is a switch, not frequency 0."""
    params = {}
    for option, value in settings.items():
        if option == "vss_snapshot_frequency_hours" and value == 0:
            params["DisableVSSSnapshotReplication"] = True
            continue
        params[SETTINGS[option][1]] = value
    return params


def expect_settings(settings):
    return {SETTINGS[option][0]: value for option, value in settings.items()}


def describe(view, host):
    return "replication is %s (%s side) on %s" % (view["state"], view["mode"], host)


class _Planner:
    """Decision tables per desired state. Each method returns a Plan or raises PlanError."""

    def __init__(self, name, view, args, host):
        self.name = name
        self.view = view
        self.args = args
        self.host = host
        self.plan = Plan()

    def refuse(self, what_to_do):
        raise PlanError("%s: %s" % (describe(self.view, self.host), what_to_do))

    def refuse_failover_in_progress(self):
        if self.view["state"] == "PreparedForFailover":
            self.refuse("complete the planned failover on the Replica first (site_recovery.hyperv.vm_failover), "
                        "or cancel it with site_recovery.hyperv.vm_failover state=cancelled on this host.")
        if self.view["state"] == "FailedOverWaitingCompletion":
            self.refuse("the failover on this host is not finished; reverse replication with state=reversed (or complete it with "
                        "site_recovery.hyperv.vm_failover), or cancel it with site_recovery.hyperv.vm_failover state=cancelled.")

    def require_enabled(self, step):
        if self.view["mode"] == "None":
            raise PlanError("replication is not enabled for this VM on %s, so it cannot be %s; enable it first with state=present "
                            "(on the primary host) or check that the task targets the right host." % (self.host, step))

    def set_settings(self, settings):
        if settings:
            self.plan.add("Set-VMReplication", dict({"VMName": [self.name]}, **setting_params(settings)))
            self.plan.expect.update(expect_settings(settings))

    def start_initial(self):
        if self.args["initial_replication"] == "network":
            self.plan.add("Start-VMInitialReplication", {"VMName": [self.name]})
            self.plan.expect.update(state="InitialReplicationInProgress")

    # -- present ---------------------------------------------------------------------------
    def present(self):
        view, args = self.view, self.args
        check_vss(view, args)
        if view["mode"] == "None":
            if not args.get("replica_server"):
                raise PlanError("replication is not enabled on %s and replica_server is required to enable it." % self.host)
            params = {"VMName": [self.name]}
            expect = {"mode": "Primary", "state": "ReadyForInitialReplication", "health": "Warning"}
            for option, (key, param) in SETTINGS.items():
                value = args.get(option)
                if value is None:
                    value = ENABLE_DEFAULTS.get(option)
                if value is None or (option == "vss_snapshot_frequency_hours" and value == 0):
                    continue
                params[param] = value
                expect[key] = value
            self.plan.add("Enable-VMReplication", params)
            self.plan.expect.update(expect)
            self.start_initial()
            return self.plan
        if view["mode"] not in ("Primary", "Replica"):
            self.refuse("this module manages Simple Primary/Replica relationships only.")
        settings = differing_settings(view, args)
        if view["mode"] == "Replica":
            if settings:
                self.refuse("the replication settings (%s) are changed on the primary server %s; run the task against it."
                            % (", ".join(sorted(settings)), view["primary_server"]))
            return self.plan
        if settings:
            self.refuse_failover_in_progress()
        self.set_settings(settings)
        if view["state"] == "ReadyForInitialReplication":
            self.start_initial()
        return self.plan

    # -- absent ----------------------------------------------------------------------------
    def absent(self):
        if self.view["mode"] == "None":
            return self.plan
        self.refuse_failover_in_progress()
        self.plan.add("Remove-VMReplication", {"VMName": [self.name]})
        self.plan.expect.update(DISABLED_VIEW)
        return self.plan

    # -- suspended / resumed / resynchronized -------------------------------------------------
    def suspended(self):
        self.require_enabled("suspended")
        state = self.view["state"]
        if state in ("Suspended", "ResynchronizeSuspended"):
            return self.plan
        self.refuse_failover_in_progress()
        if state == "Replicating":
            expect = "Suspended"
        elif state == "Resynchronizing":
            expect = "ResynchronizeSuspended"
        else:
            self.refuse("only Replicating or Resynchronizing replication can be suspended.")
        self.plan.add("Suspend-VMReplication", {"VMName": [self.name]})
        self.plan.expect.update(state=expect)
        return self.plan

    def resumed(self):
        self.require_enabled("resumed")
        state = self.view["state"]
        if state in ("Replicating", "Resynchronizing", "InitialReplicationInProgress", "WaitingForInitialReplication"):
            return self.plan
        self.refuse_failover_in_progress()
        if state == "WaitingForStartResynchronize":
            self.refuse("the relationship needs resynchronization before it can replicate again; use state=resynchronized.")
        if state == "ReadyForInitialReplication":
            self.refuse("initial replication has not started; start it with state=present (initial_replication=network).")
        if state in ("Suspended", "Error"):
            expect = "Replicating"
        elif state == "ResynchronizeSuspended":
            expect = "Resynchronizing"
        else:
            self.refuse("Resume-VMReplication applies to Suspended, Error or ResynchronizeSuspended replication only.")
        self.plan.add("Resume-VMReplication", {"VMName": [self.name]})
        self.plan.expect.update(state=expect)
        return self.plan

    def resynchronized(self):
        self.require_enabled("resynchronized")
        state = self.view["state"]
        if state in ("Replicating", "Resynchronizing"):
            return self.plan
        self.refuse_failover_in_progress()
        if state == "Suspended":
            # Nothing is out of sync: resuming ships the changes tracked meanwhile (HRS §3.5).
            self.plan.add("Resume-VMReplication", {"VMName": [self.name]})
            self.plan.expect.update(state="Replicating")
            return self.plan
        if state == "ResynchronizeSuspended":
            # A paused resynchronization carries on where it stopped (HRS §3.5).
            self.plan.add("Resume-VMReplication", {"VMName": [self.name]})
            self.plan.expect.update(state="Resynchronizing")
            return self.plan
        if state == "WaitingForStartResynchronize" and self.view.get("resynchronize_start_time"):
            # Already scheduled by an earlier run: starting it again would be refused.
            return self.plan
        if state not in ("WaitingForStartResynchronize", "Error"):
            self.refuse("resynchronization applies to WaitingForStartResynchronize, Error or ResynchronizeSuspended replication only.")
        params = {"VMName": [self.name], "Resynchronize": True}
        if self.args.get("resynchronize_start_time"):
            params["ResynchronizeStartTime"] = self.args["resynchronize_start_time"]
        self.plan.add("Resume-VMReplication", params)
        self.plan.expect.update(state="Resynchronizing")
        return self.plan

    # -- reversed --------------------------------------------------------------------------
    def reversed(self):
        view, args = self.view, self.args
        self.require_enabled("reversed")
        check_vss(view, args)
        if view["mode"] == "Primary":
            if view["state"] == "PreparedForFailover":
                self.refuse("this is the old primary of a planned failover; fail over on the Replica host, then run state=reversed "
                            "there (or cancel with site_recovery.hyperv.vm_failover state=cancelled here).")
            # Already reversed (or never failed over): converge the settings and the initial replication.
            self.set_settings(differing_settings(view, args))
            if view["state"] == "ReadyForInitialReplication":
                self.start_initial()
            return self.plan
        if view["mode"] != "Replica":
            self.refuse("this module manages Simple Primary/Replica relationships only.")
        if view["state"] not in ("FailedOverWaitingCompletion", "FailedOver"):
            self.refuse("only a Replica that has failed over can be reversed; fail it over first with site_recovery.hyperv.vm_failover.")
        params = {"VMName": [self.name], "Reverse": True}
        given = {option: args[option] for option in SETTINGS if args.get(option) is not None}
        params.update(setting_params(given))
        self.plan.add("Set-VMReplication", params)
        # The state after it is Hyper-V's: Replicating after a planned failover, initial replication after an unplanned one.
        expect = {"mode": "Primary", "state": None, "health": None, "primary_server": view["replica_server"],
                  "replica_server": view["primary_server"]}
        expect.update(expect_settings(given))
        self.plan.expect.update(expect)
        return self.plan

    # -- replica ---------------------------------------------------------------------------
    def replica(self):
        view, args = self.view, self.args
        if view["mode"] == "Replica":
            return self.plan
        if view["mode"] not in ("Primary", "None"):
            self.refuse("this module manages Simple Primary/Replica relationships only.")
        if view["power_state"] != "Off":
            # Split-brain guard: a running old primary must not silently become the copy that is overwritten.
            raise PlanError(
                "the VM is %s on %s; it can become a Replica only while Off. Make sure the failed-over copy is the one to keep, "
                "turn this one off (site_recovery.hyperv.vm_power), then run state=replica again." % (view["power_state"], self.host))
        if view["state"] == "PreparedForFailover":
            self.refuse("a planned failover is under way; finish it on the Replica and run state=reversed there "
                        "(which makes this host the Replica), or cancel it with site_recovery.hyperv.vm_failover state=cancelled.")
        params = {"VMName": [self.name], "AsReplica": True}
        if args.get("allowed_primary_server"):
            params["AllowedPrimaryServer"] = args["allowed_primary_server"]
        self.plan.add("Enable-VMReplication" if view["mode"] == "None" else "Set-VMReplication", params)
        self.plan.expect.update(mode="Replica", state="WaitingForInitialReplication")
        return self.plan


def plan_vm(name, view, args, host):
    """The calls that take VM ``name`` (live ``view``) to ``args['state']`` on ``host``, or PlanError."""
    planner = _Planner(name, view, args, host)
    return getattr(planner, args["state"])()


SETTING_STATES = ("present", "reversed")


def validate(args):
    """Input errors that need no live state; raised before any round trip."""
    state = args["state"]
    for name in args["name"]:
        if any(ch in name for ch in "*?["):
            raise AnsibleActionFail("VM names must be exact, without wildcards: '%s'." % name)
    given = sorted(option for option in SETTINGS if args.get(option) is not None)
    if given and state not in SETTING_STATES:
        raise AnsibleActionFail("%s apply only with state=present or state=reversed (state=%s)." % (", ".join(given), state))
    if args.get("allowed_primary_server") and state != "replica":
        raise AnsibleActionFail("allowed_primary_server applies only with state=replica.")
    if args.get("resynchronize_start_time") and state != "resynchronized":
        raise AnsibleActionFail("resynchronize_start_time applies only with state=resynchronized.")
    history = args.get("recovery_history")
    if history is not None and not 0 <= history <= 24:
        raise AnsibleActionFail("recovery_history must be between 0 and 24 (got %d)." % history)
    vss = args.get("vss_snapshot_frequency_hours")
    if vss is not None and vss < 0:
        raise AnsibleActionFail("vss_snapshot_frequency_hours must be 0 (off) or a number of hours (got %d)." % vss)
    if vss and history == 0:
        raise AnsibleActionFail("vss_snapshot_frequency_hours=%d needs recovery_history greater than 0." % vss)
    if args["wait_timeout"] <= 0:
        raise AnsibleActionFail("wait_timeout must be a positive number of seconds.")


class ActionModule(VMStateAction):

    argument_spec = {
        "name": {"type": "list", "elements": "str", "required": True, "aliases": ["vm_name"]},
        "state": {"type": "str", "default": "present",
                  "choices": ["present", "absent", "suspended", "resumed", "resynchronized", "reversed", "replica"]},
        "replica_server": {"type": "str"},
        "replica_port": {"type": "int"},
        "authentication_type": {"type": "str", "choices": ["Kerberos", "Certificate"]},
        "certificate_thumbprint": {"type": "str"},
        "frequency": {"type": "int", "choices": [30, 300, 900]},
        "recovery_history": {"type": "int"},
        "vss_snapshot_frequency_hours": {"type": "int"},
        "compression": {"type": "bool"},
        "auto_resynchronize": {"type": "bool"},
        "initial_replication": {"type": "str", "default": "network", "choices": ["network", "none"]},
        "resynchronize_start_time": {"type": "str"},
        "allowed_primary_server": {"type": "str"},
        "wait": {"type": "bool", "default": False},
        "wait_timeout": {"type": "int", "default": 3600},
    }
    validation_kwargs = {"required_if": [("authentication_type", "Certificate", ["certificate_thumbprint"])]}
    # VMs whose initial replication settle() started after reversing.
    _started_initial = ()

    def run_module(self, args):
        try:
            validate(args)
        except AnsibleActionFail as e:
            return {"failed": True, "changed": False, "msg": "Nothing was changed on %s. %s" % (self.host_name, e)}
        result = super().run_module(args)
        if args["wait"] and args["state"] in WAIT_STATES and not self._task.check_mode and not result.get("failed"):
            self.wait_for_replication(args, result)
        return result

    def read_calls(self, names, args):
        # SilentlyContinue: a missing VM or one without replication is an answer here, not an error.
        return [
            RunnerCall("Get-VM", {"Name": names, "ErrorAction": "SilentlyContinue"}, VM_PROPERTIES),
            RunnerCall("Get-VMReplication", {"VMName": names, "ErrorAction": "SilentlyContinue"}, REPLICATION_PROPERTIES),
        ]

    def observe(self, names, results, args):
        vms = index_by(results[0])
        simple = {r["VMId"]: r for r in results[1] if (r.get("ReplicationRelationshipType") or "Simple") == "Simple"}
        views = {}
        for name in names:
            vm = vms.get(name.lower())
            views[name.lower()] = shape(vm, simple.get(vm["Id"])) if vm else None
        return views

    def plan(self, name, view, args):
        return plan_vm(name, view, args, self.host_name)

    def settle(self, names, args, views):
        """Read again; after an unplanned failover the reversed relationship waits for initial replication: start it."""
        after = self.read(names, args)
        if args["state"] != "reversed" or args["initial_replication"] != "network":
            return after
        ready = [n for n in names if views[n.lower()]["mode"] == "Replica" and (after.get(n.lower()) or {}).get("state")
                 == "ReadyForInitialReplication"]
        if not ready:
            return after
        self.run_calls([RunnerCall("Start-VMInitialReplication", {"VMName": ready})])
        self._started_initial = ready
        return self.read(names, args)

    def report(self, names, before, after, plans):
        out = super().report(names, before, after, plans)
        for entry in out:
            if entry["name"] in self._started_initial:
                entry["actions"].append("Start-VMInitialReplication -VMName %s" % entry["name"])
        return out

    def wait_for_replication(self, args, result):
        """Poll until every VM of the task replicates; a state that is neither in progress nor Replicating ends the wait."""
        pending = {}
        for entry in result["vms"]:
            states = IN_PROGRESS + (STARTING if entry["changed"] else ())
            if (entry["after"] or {}).get("state") in states:
                pending[entry["name"]] = states
        waiting = list(pending)
        if not waiting:
            return
        last = {}

        def done(views):
            last.update(views)
            return all(views[n.lower()]["state"] not in pending[n] for n in waiting)

        try:
            self.poll(lambda: self.read(waiting, args), done, args["wait_timeout"], "replication of %s" % ", ".join(waiting))
        except AnsibleActionFail as e:
            result.update(failed=True, msg="%s Last states: %s. The operation continues on the host; re-run the task to keep waiting."
                          % (e, ", ".join("%s %s" % (n, last[n.lower()]["state"]) for n in waiting if last.get(n.lower()))))
        for entry in result["vms"]:
            if entry["name"].lower() in last:
                entry["after"] = last[entry["name"].lower()]
                if "diff" in result:
                    result["diff"]["after"][entry["name"]] = entry["after"]
        stuck = ["%s is %s" % (n, last[n.lower()]["state"]) for n in waiting
                 if last.get(n.lower()) and last[n.lower()]["state"] != "Replicating"]
        if stuck and not result.get("failed"):
            result.update(failed=True, msg="Waited for replication on %s, but %s. Check it with site_recovery.hyperv.vm_replication_info."
                          % (self.host_name, "; ".join(stuck)))

    def explain_error(self, error):
        return "%s failed on Hyper-V host %s: %s [%s]. Check the state with site_recovery.hyperv.vm_replication_info and re-run the task." % (
            error.cmdlet, self.host_name, error.message, error.fqid)
