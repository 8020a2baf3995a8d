# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The target host as a Hyper-V Replica server: read, compare, Set- only what differs, read again.

hyperv-replica-states.md §3.0 step 1 and §5. Authorization entries can only be added: the documented
contract (cmdlets.json) has New- and Get-VMReplicationAuthorizationEntry, but neither a Set- nor a Remove-.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleActionFail

from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._hyperv import describe_call
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._runner import RunnerCall
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._windows_action import WindowsActionBase

SERVER_PROPERTIES = [
    "ReplicationEnabled", "AllowedAuthenticationType", "ReplicationAllowedFromAnyServer", "DefaultStorageLocation",
    "KerberosAuthenticationPort", "CertificateAuthenticationPort", "CertificateThumbprint", "MonitoringInterval",
    "MonitoringStartTime",
]
ENTRY_PROPERTIES = ["AllowedPrimaryServer", "ReplicaStorageLocation", "TrustGroup"]
# Set-VMReplicationServer -MonitoringInterval accepts these intervals only (HRS §1.2; TIM §1.2).
MONITORING_INTERVAL_HOURS = [1, 2, 3, 4, 6, 8, 12, 24, 48, 72, 96, 120, 144, 168]
CERTIFICATE_TYPES = ("Certificate", "CertificateAndKerberos")

# option -> (view key, Set-VMReplicationServer parameter)
SETTINGS = {
    "enabled": ("enabled", "ReplicationEnabled"),
    "allowed_authentication_types": ("allowed_authentication_types", "AllowedAuthenticationType"),
    "allow_any_server": ("allow_any_server", "ReplicationAllowedFromAnyServer"),
    "default_storage_location": ("default_storage_location", "DefaultStorageLocation"),
    "kerberos_port": ("kerberos_port", "KerberosAuthenticationPort"),
    "certificate_port": ("certificate_port", "CertificateAuthenticationPort"),
    "certificate_thumbprint": ("certificate_thumbprint", "CertificateThumbprint"),
    "monitoring_interval_hours": ("monitoring_interval_hours", "MonitoringInterval"),
    "monitoring_start_time": ("monitoring_start_time", "MonitoringStartTime"),
}


def _clock(seconds):
    if seconds is None:
        return None
    seconds = int(round(seconds))
    return "%02d:%02d:%02d" % (seconds // 3600, seconds % 3600 // 60, seconds % 60)


def parse_clock(text):
    """'HH:MM' or 'HH:MM:SS' (a time of day) -> 'HH:MM:SS'; AnsibleActionFail otherwise."""
    match = re.match(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$", text or "")
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59 or int(match.group(3) or 0) > 59:
        raise AnsibleActionFail("monitoring_start_time must be a time of day as HH:MM or HH:MM:SS (got '%s')." % text)
    return "%02d:%s:%s" % (int(match.group(1)), match.group(2), match.group(3) or "00")


def interval_param(hours):
    """A TimeSpan string PowerShell converts: 'HH:00:00', or 'D.00:00:00' from one day on."""
    return "%d.00:00:00" % (hours // 24) if hours >= 24 else "%02d:00:00" % hours


def shape(server, entries):
    interval = server.get("MonitoringInterval")
    return {
        "enabled": server.get("ReplicationEnabled"),
        "allowed_authentication_types": server.get("AllowedAuthenticationType"),
        "allow_any_server": server.get("ReplicationAllowedFromAnyServer"),
        "default_storage_location": server.get("DefaultStorageLocation"),
        "kerberos_port": server.get("KerberosAuthenticationPort"),
        "certificate_port": server.get("CertificateAuthenticationPort"),
        "certificate_thumbprint": server.get("CertificateThumbprint"),
        "monitoring_interval_hours": round(interval / 3600.0, 3) if interval is not None else None,
        "monitoring_start_time": _clock(server.get("MonitoringStartTime")),
        "allowed_primary_servers": [
            {"server": e["AllowedPrimaryServer"], "storage_location": e["ReplicaStorageLocation"], "trust_group": e["TrustGroup"]}
            for e in entries
        ],
    }


def _path(value):
    return (value or "").rstrip("\\").lower()


def differs(option, wanted, live):
    if option == "default_storage_location":
        return _path(wanted) != _path(live)
    if option == "certificate_thumbprint":
        return (wanted or "").upper() != (live or "").upper()
    return wanted != live


def wanted_settings(args):
    """{option: value in the view's terms} for the options the task gives."""
    out = {}
    for option in SETTINGS:
        value = args.get(option)
        if value is None:
            continue
        if option == "monitoring_start_time":
            value = parse_clock(value)
        out[option] = value
    return out


def plan_server(view, args):
    """Pure decision: (Set-VMReplicationServer params or None, entries to add, predicted view). Raises AnsibleActionFail to refuse."""
    wanted = wanted_settings(args)
    changes = {o: v for o, v in wanted.items() if differs(o, v, view.get(SETTINGS[o][0]))}
    auth = wanted.get("allowed_authentication_types", view.get("allowed_authentication_types"))
    thumbprint = wanted.get("certificate_thumbprint", view.get("certificate_thumbprint"))
    if auth in CERTIFICATE_TYPES and not thumbprint and "allowed_authentication_types" in changes:
        raise AnsibleActionFail("allowed_authentication_types=%s needs a certificate; give certificate_thumbprint "
                                "(the host has none configured)." % auth)
    params = None
    if changes:
        params = {}
        for option, value in changes.items():
            if option == "monitoring_interval_hours":
                value = interval_param(value)
            params[SETTINGS[option][1]] = value
        # Non-interactive session: no confirmation prompt (-Force is documented for this cmdlet).
        params["Force"] = True
    live = {e["server"].lower(): e for e in view["allowed_primary_servers"]}
    add, conflicts = [], []
    for entry in args.get("allowed_primary_servers") or []:
        found = live.get(entry["server"].lower())
        if found is None:
            add.append(entry)
        elif _path(found["storage_location"]) != _path(entry["storage_location"]) or found["trust_group"] != entry["trust_group"]:
            conflicts.append("%s (live: storage %s, trust group %s)" % (entry["server"], found["storage_location"], found["trust_group"]))
    if conflicts:
        # No Set-/Remove-VMReplicationAuthorizationEntry in the documented contract: an entry cannot be changed here.
        raise AnsibleActionFail(
            "Authorization entries exist with other settings: %s. This module can only add entries (New-VMReplicationAuthorizationEntry); "
            "change or remove these on the host with Hyper-V Manager or Remove-VMReplicationAuthorizationEntry, then re-run."
            % "; ".join(conflicts))
    predicted = dict(view)
    predicted.update({SETTINGS[o][0]: v for o, v in changes.items()})
    predicted["allowed_primary_servers"] = list(view["allowed_primary_servers"]) + [dict(e) for e in add]
    return params, add, predicted


def validate(args):
    for entry in args.get("allowed_primary_servers") or []:
        if not entry["server"].strip():
            raise AnsibleActionFail("allowed_primary_servers: server must not be empty.")
    names = [e["server"].lower() for e in args.get("allowed_primary_servers") or []]
    if len(names) != len(set(names)):
        raise AnsibleActionFail("allowed_primary_servers names a server twice.")
    for option in ("kerberos_port", "certificate_port"):
        if args.get(option) is not None and not 1 <= args[option] <= 65535:
            raise AnsibleActionFail("%s must be a TCP port, 1 to 65535 (got %d)." % (option, args[option]))
    if args.get("monitoring_start_time") is not None:
        parse_clock(args["monitoring_start_time"])


class ActionModule(WindowsActionBase):

    argument_spec = {
        "enabled": {"type": "bool"},
        "allowed_authentication_types": {"type": "str", "choices": ["Kerberos", "Certificate", "CertificateAndKerberos"]},
        "kerberos_port": {"type": "int"},
        "certificate_port": {"type": "int"},
        "certificate_thumbprint": {"type": "str"},
        "allow_any_server": {"type": "bool"},
        "default_storage_location": {"type": "str"},
        "allowed_primary_servers": {
            "type": "list", "elements": "dict",
            "options": {
                "server": {"type": "str", "required": True},
                "storage_location": {"type": "str", "required": True},
                "trust_group": {"type": "str", "required": True},
            },
        },
        "monitoring_interval_hours": {"type": "int", "choices": MONITORING_INTERVAL_HOURS},
        "monitoring_start_time": {"type": "str"},
    }
    validation_kwargs = {"required_if": [("allow_any_server", True, ["default_storage_location"])]}

    def read(self):
        results = self.run_calls([
            RunnerCall("Get-VMReplicationServer", {}, SERVER_PROPERTIES),
            RunnerCall("Get-VMReplicationAuthorizationEntry", {}, ENTRY_PROPERTIES),
        ])
        return shape(results[0][0] if results[0] else {}, results[1])

    def run_module(self, args):
        try:
            validate(args)
            before = self.read()
            params, add, predicted = plan_server(before, args)
        except AnsibleActionFail as e:
            return {"failed": True, "changed": False, "msg": "Nothing was changed on %s. %s" % (self.host_name, e)}
        calls = []
        if params:
            calls.append(RunnerCall("Set-VMReplicationServer", params, []))
        for entry in add:
            calls.append(RunnerCall("New-VMReplicationAuthorizationEntry", {
                "AllowedPrimaryServer": entry["server"], "ReplicaStorageLocation": entry["storage_location"],
                "TrustGroup": entry["trust_group"]}, []))
        changed = bool(calls)
        if not changed:
            after = before
        elif self._task.check_mode:
            after = predicted
        else:
            self.run_calls(calls)
            after = self.read()
        result = {"changed": changed, "actions": [describe_call(c.cmdlet, c.params) for c in calls], "before": before, "after": after}
        if self._task.diff and changed:
            result["diff"] = {"before": before, "after": after}
        return result

    def explain_error(self, error):
        return ("%s failed on Hyper-V host %s: %s [%s]. Nothing after it in this task ran; check the host's Replica server settings "
                "with site_recovery.hyperv.vm_replication_server in check mode and re-run." % (error.cmdlet, self.host_name, error.message, error.fqid))
