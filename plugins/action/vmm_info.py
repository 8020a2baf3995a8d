# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import datetime

from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._runner import RunnerCall, RunnerError
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._vmm import (
    CONNECTION_SPEC,
    CLOUD_PROPERTIES,
    HOST_GROUP_PROPERTIES,
    HOST_PROPERTIES,
    JOB_PROPERTIES,
    VM_PROPERTIES,
    VMMActionMixin,
    connect_call,
    is_wildcard,
    matches,
    server_ref,
    shape_job,
    shape_server,
    shape_vm,
)
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._windows_action import WindowsActionBase


class FilterError(Exception):
    """A cloud or VM name of the task matches nothing on the VMM server."""


def parse_time(text):
    """An ISO-8601 time as an aware datetime (a time without offset is UTC), or None."""
    if not text:
        return None
    value = datetime.datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def _select(objects, patterns, what, where):
    """Objects whose name matches one of the patterns; a plain name that matches nothing is an error."""
    if not patterns:
        return list(objects)
    chosen = [o for o in objects if any(matches(p, o["name"]) for p in patterns)]
    missing = [p for p in patterns if not is_wildcard(p) and not any(matches(p, o["name"]) for o in objects)]
    if missing:
        known = sorted({o["name"] for o in objects}, key=str.lower)
        raise FilterError("No %s named %s on %s%s." % (
            what, ", ".join("'%s'" % m for m in missing), where,
            " (known: %s)" % ", ".join(known[:20]) + (", ..." if len(known) > 20 else "") if known else " (it has none)"))
    return chosen


def _group_paths(groups):
    """Host group name or path (lower-cased) -> path, so that nested host groups can be followed."""
    paths = {}
    for group in groups:
        path = group.get("Path") or group.get("Name")
        if not path:
            continue
        paths[str(path).lower()] = str(path)
        if group.get("Name"):
            paths.setdefault(str(group["Name"]).lower(), str(path))
    return paths


def _under(path, roots):
    low = path.lower()
    return any(low == r.lower() or low.startswith(r.lower() + "\\") for r in roots)


def assemble(server, clouds, groups, hosts, vms, jobs, args, where):
    """Join the VMM objects into the module's result. Pure: the rows are the runner's projections."""
    paths = _group_paths(groups)

    def resolve(ref):
        return paths.get(str(ref).lower(), str(ref))

    all_clouds = []
    for cloud in clouds:
        all_clouds.append({
            "name": cloud.get("Name"),
            "id": cloud.get("ID"),
            "description": cloud.get("Description"),
            "host_groups": [resolve(g) for g in _list(cloud.get("HostGroup"))],
            "disaster_recovery_supported": cloud.get("DisasterRecoverySupported"),
        })
    selected_clouds = _select(all_clouds, args.get("cloud"), "cloud", where)

    all_hosts = []
    for host in hosts:
        group = host.get("VMHostGroup")
        group_path = resolve(group) if group else None
        all_hosts.append({
            "name": host.get("Name") or host.get("ComputerName"),
            "fqdn": host.get("FullyQualifiedDomainName"),
            "id": host.get("ID"),
            "host_group": group_path,
            "cluster": host.get("HostCluster"),
            "overall_state": host.get("OverallState"),
            "communication_state": host.get("CommunicationState"),
            "virtual_server_state": host.get("VirtualServerState"),
            "clouds": sorted((c["name"] for c in all_clouds if group_path and _under(group_path, c["host_groups"])), key=str.lower),
        })

    all_vms = [shape_vm(v) for v in vms]
    cloud_vms = all_vms
    if args.get("cloud"):
        names = {c["name"].lower() for c in selected_clouds}
        cloud_vms = [v for v in all_vms if v["cloud"] and v["cloud"].lower() in names]
    scope = where + (" in cloud %s" % ", ".join(c["name"] for c in selected_clouds) if args.get("cloud") else "")
    selected_vms = _select(cloud_vms, args.get("name"), "virtual machine", scope)

    for cloud in selected_clouds:
        cloud["hosts"] = sorted((h["name"] for h in all_hosts if cloud["name"] in h["clouds"]), key=str.lower)
        cloud["vm_count"] = sum(1 for v in all_vms if v["cloud"] and v["cloud"].lower() == cloud["name"].lower())
    selected_hosts = all_hosts
    if args.get("cloud"):
        names = {c["name"] for c in selected_clouds}
        selected_hosts = [h for h in all_hosts if names & set(h["clouds"])]

    return {
        "server": server,
        "clouds": sorted(selected_clouds, key=lambda c: c["name"].lower()),
        "host_groups": sorted(({"name": g.get("Name"), "path": g.get("Path") or g.get("Name"), "id": g.get("ID"),
                                "parent": g.get("ParentHostGroup")} for g in groups), key=lambda g: str(g["path"]).lower()),
        "hosts": sorted(selected_hosts, key=lambda h: str(h["name"]).lower()),
        "vms": sorted(selected_vms, key=lambda v: (v["name"].lower(), str(v["host"] or "").lower())),
        "jobs": recent_jobs(jobs, args.get("jobs") or 0, parse_time(args.get("jobs_since"))),
    }


def _list(value):
    if value is None:
        return []
    return [v for v in (value if isinstance(value, list) else [value]) if v is not None]


def recent_jobs(rows, limit, since):
    """The newest ``limit`` jobs that started at or after ``since``, newest first."""
    if limit <= 0:
        return []
    dated = []
    for row in rows:
        start = parse_time(row.get("StartTime"))
        if since is not None and (start is None or start < since):
            continue
        dated.append((start or datetime.datetime.min.replace(tzinfo=datetime.timezone.utc), row))
    dated.sort(key=lambda item: item[0], reverse=True)
    return [shape_job(row) for dummy, row in dated[:limit]]


class ActionModule(VMMActionMixin, WindowsActionBase):

    argument_spec = dict(
        CONNECTION_SPEC,
        name={"type": "list", "elements": "str", "aliases": ["vm_name"]},
        cloud={"type": "list", "elements": "str"},
        jobs={"type": "int", "default": 10},
        jobs_since={"type": "str"},
    )

    def run_module(self, args):
        self.vmm_args = args
        if args["jobs"] < 0:
            return {"failed": True, "msg": "jobs must be 0 (no job history) or a positive number of jobs, not %d." % args["jobs"]}
        if args["jobs_since"]:
            try:
                parse_time(args["jobs_since"])
            except ValueError:
                return {"failed": True, "msg": "jobs_since must be an ISO-8601 time such as 2026-11-25T20:00:00Z, not '%s'."
                        % args["jobs_since"]}
            if args["jobs"] == 0:
                return {"failed": True, "msg": "jobs_since needs jobs > 0 (jobs=0 turns the job history off)."}
        calls = [
            connect_call(args),
            RunnerCall("Get-SCCloud", {"VMMServer": server_ref()}, CLOUD_PROPERTIES),
            RunnerCall("Get-SCVMHostGroup", {"VMMServer": server_ref()}, HOST_GROUP_PROPERTIES),
            RunnerCall("Get-SCVMHost", {"VMMServer": server_ref()}, HOST_PROPERTIES),
            RunnerCall("Get-SCVirtualMachine", {"VMMServer": server_ref()}, VM_PROPERTIES),
        ]
        if args["jobs"]:
            calls.append(RunnerCall("Get-SCJob", {"VMMServer": server_ref(), "All": True}, JOB_PROPERTIES))
        service = {"reachable": True, "server": args["vmm_server"], "error": None, "msg": None}
        try:
            results = self.run_calls(calls)
        except RunnerError as e:
            if e.index != 0 or (e.fqid or "").startswith("CommandNotFoundException"):
                raise
            # VMM not answering is a state the runbook waits for (until: service.reachable), not a task failure.
            service.update(reachable=False, error=e.to_result(), msg=self.not_answering_msg(args, e, nothing_changed=False))
            return {"changed": False, "service": service, "server": None, "clouds": [], "host_groups": [], "hosts": [], "vms": [], "jobs": []}
        server = shape_server(results[0][0], args["vmm_server"]) if results[0] else None
        try:
            found = assemble(server, results[1], results[2], results[3], results[4], results[5] if args["jobs"] else [], args,
                             self.vmm_label(args))
        except FilterError as e:
            return {"failed": True, "changed": False, "msg": str(e), "service": service}
        found.update(changed=False, service=service)
        return found
