# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate recovery plans against the live Hyper-V Replica state and resolve them into per-host batches.

Runs on the controller only: it never uses the task's connection."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

RECOVERY_POINTS = ("latest", "latest_app_consistent")
FAILED_OVER = ("FailedOverWaitingCompletion", "FailedOver")
PLAN_KEYS = ("name", "recovery_point", "groups", "approval_required", "description", "rpo_seconds")
# hyperv-replica-states.md: a Replica copy in these states holds no complete copy yet, or cannot fail over right now.
NOT_FAILOVERABLE = ("ReadyForInitialReplication", "WaitingForInitialReplication", "InitialReplicationInProgress", "Disabled",
                    "FiredrillInProgress")
VERDICT_ORDER = ("ready", "degraded", "not_ready")
GROUP_KEYS = ("name", "vms", "pre_tasks", "post_tasks", "description")


def short_name(server):
    """Lower-case first label of a host name (hv-pri-02.lab.test -> hv-pri-02)."""
    return str(server or "").strip().lower().split(".", 1)[0]


def host_result_vms(result):
    """(reachable, vms) of one host's vm_replication_info result; vms is None when the host did not answer."""
    if not isinstance(result, dict) or result.get("unreachable"):
        return False, None
    if result.get("failed") or result.get("skipped"):
        return False, None
    return True, list(result.get("vms") or [])


def normalise_replication(replication):
    """host -> result, from a dict or from the results of a loop over hosts (each item holding the host)."""
    if isinstance(replication, dict) and "results" in replication and isinstance(replication["results"], list):
        replication = replication["results"]
    if isinstance(replication, list):
        out = {}
        for item in replication:
            host = item.get("item") if isinstance(item, dict) else None
            if isinstance(host, dict):
                host = host.get("host") or host.get("name")
            if host:
                out[str(host)] = item
        return out
    return dict(replication or {})


def copy_view(host, reachable, vm):
    """The state of one copy of a VM on one host."""
    if not reachable:
        return {"host": host, "reachable": False, "present": False, "power": None, "mode": None, "replication_state": None,
                "health": None}
    if vm is None:
        return {"host": host, "reachable": True, "present": False, "power": None, "mode": None, "replication_state": None,
                "health": None}
    rel = vm.get("replication") or {}
    return {"host": host, "reachable": True, "present": True, "power": vm.get("state"), "mode": rel.get("mode") or "None",
            "replication_state": rel.get("state"), "health": rel.get("health"), "lag_seconds": rel.get("lag_seconds"),
            "frequency_sec": rel.get("frequency_sec")}


def is_failed_over(copy):
    return copy["mode"] == "Replica" and copy["replication_state"] in FAILED_OVER


class Resolver:
    """Everything the role needs, computed from the plans and the live state of every host."""

    def __init__(self, replication, primary_site_hosts, exclude, replica_hosts, fqdns):
        self.errors = []
        self.hosts = normalise_replication(replication)
        self.primary_site = set(primary_site_hosts or [])
        self.exclude = set(exclude or [])
        self.replica_hosts = dict(replica_hosts or {})
        self.fqdns = dict(fqdns or {})
        self.reachable = {}
        self.alias = {}
        self.found = {}  # vm name -> {host: vm dict}
        for host in sorted(self.hosts):
            ok, vms = host_result_vms(self.hosts[host])
            self.reachable[host] = ok
            self.alias[host.lower()] = host
            self.alias.setdefault(short_name(host), host)
            for vm in vms or []:
                self.found.setdefault(vm["name"], {})[host] = vm
                if vm.get("computer_name"):
                    self.alias.setdefault(vm["computer_name"].lower(), host)
                    self.alias.setdefault(short_name(vm["computer_name"]), host)

    def host_of(self, server):
        if not server:
            return None
        return self.alias.get(str(server).lower()) or self.alias.get(short_name(server))

    def server_name(self, host, relationship_names):
        """What to pass as replica_server: the inventory's FQDN, the name the relationship reports, or the host name."""
        if host in self.fqdns:
            return self.fqdns[host]
        for name in relationship_names:
            if self.host_of(name) == host:
                return name
        return host

    def vm_state(self, name):
        copies = self.found.get(name)
        if not copies:
            return None
        servers = []
        for vm in copies.values():
            rel = vm.get("replication") or {}
            servers.extend(s for s in (rel.get("primary_server"), rel.get("replica_server")) if s)
        pair = []
        for server in servers + sorted(copies):
            host = self.host_of(server) or (server if server in self.hosts else None)
            if host is None:
                host = short_name(server)
            if host not in pair:
                pair.append(host)
        if len(pair) == 1 and name in self.replica_hosts:
            pair.append(self.replica_hosts[name])
        if self.primary_site:
            home = [h for h in pair if h in self.primary_site]
            away = [h for h in pair if h not in self.primary_site]
        else:
            first = next(iter(copies.values())).get("replication") or {}
            home = [self.host_of(first.get("primary_server"))] if first.get("primary_server") else pair[:1]
            away = [h for h in pair if h not in home]
        primary_host = home[0] if home else None
        replica_host = away[0] if away else None
        if primary_host is None or replica_host is None:
            self.errors.append("VM %s: cannot tell its primary and replica host (found on %s; not replicated? set its replica host in "
                               "workloads_replica_hosts)" % (name, ", ".join(sorted(copies))))
        primary = copy_view(primary_host, self.reachable.get(primary_host, False), copies.get(primary_host))
        replica = copy_view(replica_host, self.reachable.get(replica_host, False), copies.get(replica_host))
        running = sorted(h for h, vm in copies.items() if vm.get("state") not in ("Off", None))
        replica_active = replica["mode"] == "Primary" or is_failed_over(replica)
        return {
            "name": name,
            "primary_host": primary_host,
            "replica_host": replica_host,
            "replica_server": self.server_name(replica_host, servers),
            "primary": primary,
            "replica": replica,
            "failed_over": replica_active,
            "running_on": running,
            "split_brain": len(running) > 1,
            "primary_running": primary["reachable"] and primary["present"] and primary["power"] not in ("Off", None),
        }

    def validate_plans(self, plans, plan_names):
        seen_plans = {}
        seen_vms = {}
        out = []
        for index, plan in enumerate(plans):
            if not isinstance(plan, dict):
                self.errors.append("plan #%d is not a mapping" % (index + 1))
                continue
            pname = plan.get("name")
            label = "plan %s" % pname if pname else "plan #%d" % (index + 1)
            if not pname:
                self.errors.append("%s has no name" % label)
            elif pname in seen_plans:
                self.errors.append("duplicate plan name %s" % pname)
            seen_plans.setdefault(pname, plan)
            for key in sorted(set(plan) - set(PLAN_KEYS)):
                self.errors.append("%s: unknown key %s" % (label, key))
            point = plan.get("recovery_point") or "latest"
            if point not in RECOVERY_POINTS:
                self.errors.append("%s: recovery_point must be one of %s, not %s" % (label, ", ".join(RECOVERY_POINTS), point))
            rpo = plan.get("rpo_seconds")
            if rpo is not None and (isinstance(rpo, bool) or not isinstance(rpo, int) or rpo <= 0):
                self.errors.append("%s: rpo_seconds must be a positive number of seconds, not %r" % (label, rpo))
            groups = plan.get("groups")
            if not isinstance(groups, list) or not groups:
                self.errors.append("%s has no groups" % label)
                groups = []
            seen_groups = set()
            for gindex, group in enumerate(groups):
                if not isinstance(group, dict):
                    self.errors.append("%s: group #%d is not a mapping" % (label, gindex + 1))
                    continue
                gname = group.get("name") or "#%d" % (gindex + 1)
                glabel = "%s group %s" % (label, gname)
                if gname in seen_groups:
                    self.errors.append("%s: duplicate group name %s" % (label, gname))
                seen_groups.add(gname)
                for key in sorted(set(group) - set(GROUP_KEYS)):
                    self.errors.append("%s: unknown key %s" % (glabel, key))
                vms = group.get("vms")
                if not isinstance(vms, list) or not vms:
                    self.errors.append("%s is empty" % glabel)
                    vms = []
                for vm in vms:
                    where = "%s group %s" % (pname, gname)
                    if vm in seen_vms:
                        self.errors.append("VM %s is in %s and in %s" % (vm, seen_vms[vm], where))
                    else:
                        seen_vms[vm] = where
                    if vm not in self.found:
                        self.errors.append("%s: unknown VM %s (not found on any reachable Hyper-V host)" % (glabel, vm))
            out.append(plan)
        for pname in plan_names or []:
            if pname not in seen_plans:
                self.errors.append("plan %s (in plan_names) is not defined; plans: %s" % (pname, ", ".join(str(p) for p in seen_plans)))
        return out

    def default_plan(self):
        vms = sorted(n for n, copies in self.found.items()
                     if n not in self.exclude and any(vm.get("replication") for vm in copies.values()))
        if not vms:
            self.errors.append("no replicated VM found on the reachable Hyper-V hosts, so there is no default plan")
        return [{"name": "all", "recovery_point": "latest", "approval_required": False, "groups": [{"name": "all", "vms": vms}]}]


def by_host(vms, key):
    out = {}
    for vm in vms:
        if vm.get(key):
            out.setdefault(vm[key], []).append(vm["name"])
    return out


def batches(vms, key, extra=None):
    """[{host, vms}] in host order, for the VMs (state dicts) given, on the host named by key."""
    out = []
    for host, names in sorted(by_host(vms, key).items()):
        entry = {"host": host, "vms": names}
        if extra:
            entry.update(extra(host, [v for v in vms if v[key] == host]))
        out.append(entry)
    return out


def failover_batches(vms):
    """Unplanned failover, per replica host and observed primary state: only the VMs not failed over yet."""
    todo = {}
    for vm in vms:
        if vm["failed_over"] or not vm["replica"]["present"]:
            continue
        primary = vm["primary"]
        if not primary["reachable"]:
            observed = "unreachable"
        elif vm["primary_running"]:
            observed = "running"
        else:
            observed = "off"
        todo.setdefault((vm["replica_host"], observed), []).append(vm["name"])
    return [{"host": host, "vms": names, "primary_state": observed} for (host, observed), names in sorted(todo.items())]


def failback_steps(vms):
    """The seven failback steps, each [{host, vms}], with only the VMs for which the live state says the step is still to do."""
    make_replica, reverse, stop, prepare, failover_home, reverse_home = [], [], [], [], [], []
    for vm in vms:
        pri, rep = vm["primary"], vm["replica"]
        pri_failed_over = is_failed_over(pri)
        away = vm["failed_over"] or rep["replication_state"] == "PreparedForFailover"
        if not away and not pri_failed_over:
            continue
        if away and pri["mode"] == "Primary" and pri["replication_state"] != "PreparedForFailover":
            make_replica.append(vm)
        if is_failed_over(rep) or (rep["mode"] == "Primary" and rep["replication_state"] not in ("Replicating", "PreparedForFailover")):
            reverse.append(vm)
        if away and rep["replication_state"] != "PreparedForFailover":
            if rep["power"] not in ("Off", None):
                stop.append(vm)
            prepare.append(vm)
        if not pri_failed_over and not (pri["mode"] == "Primary" and rep["mode"] == "Replica" and not away):
            failover_home.append(vm)
        reverse_home.append(vm)
    return {
        "make_replica": batches(make_replica, "primary_host"),
        "reverse": batches(reverse, "replica_host"),
        "stop": batches(stop, "replica_host"),
        "prepare": batches(prepare, "replica_host"),
        "failover_home": batches(failover_home, "primary_host"),
        "reverse_home": batches(reverse_home, "primary_host"),
        "start_home": batches(vms, "primary_host"),
    }


def readiness(vm, rpo_seconds=None):
    """Can this VM fail over to its replica host now, and with how much data loss? (verdict, reasons, lag).

    The lag is the replica host's own age of the last applied cycle (vm_replication_info lag_seconds). The target is the
    plan's rpo_seconds or, without one, two replication cycles (one may be in flight; a second one missed means behind)."""
    rep = vm["replica"]
    lag = rep.get("lag_seconds")
    if vm["failed_over"]:
        return {"verdict": "failed_over", "reasons": ["runs from the replica host %s" % vm["replica_host"]], "lag_seconds": lag}
    reasons, verdict = [], "ready"
    if not rep["reachable"]:
        return {"verdict": "not_ready", "reasons": ["replica host %s does not answer" % vm["replica_host"]], "lag_seconds": None}
    if not rep["present"] or rep["mode"] in (None, "None"):
        return {"verdict": "not_ready", "reasons": ["no Replica copy on %s" % vm["replica_host"]], "lag_seconds": None}
    if rep["replication_state"] in NOT_FAILOVERABLE:
        reasons.append("replication state %s on %s" % (rep["replication_state"], vm["replica_host"]))
        verdict = "not_ready"
    elif rep["replication_state"] != "Replicating":
        # Suspended, Error, resynchronization required ...: it can fail over, but its copy falls further behind.
        reasons.append("replication state %s on %s" % (rep["replication_state"], vm["replica_host"]))
        verdict = "degraded"
    if rep["health"] == "Critical":
        reasons.append("replication health Critical")
        verdict = "not_ready"
    elif rep["health"] == "Warning":
        reasons.append("replication health Warning")
        verdict = max(verdict, "degraded", key=VERDICT_ORDER.index)
    target = rpo_seconds or (2 * rep["frequency_sec"] if rep.get("frequency_sec") else None)
    if lag is None:
        reasons.append("no replication cycle applied yet")
        verdict = "not_ready"
    elif target and lag > target:
        reasons.append("lag %ds exceeds the RPO target of %ds" % (lag, target))
        verdict = max(verdict, "degraded", key=VERDICT_ORDER.index)
    return {"verdict": verdict, "reasons": reasons, "lag_seconds": lag, "rpo_target_seconds": target}


def plan_readiness(vms, rpo_seconds=None):
    """The worst verdict of the plan's VMs; failed_over when every VM already runs at the replica site."""
    per_vm = {vm["name"]: readiness(vm, rpo_seconds) for vm in vms}
    verdicts = [r["verdict"] for r in per_vm.values()]
    if verdicts and all(v == "failed_over" for v in verdicts):
        verdict = "failed_over"
    else:
        verdict = max((v for v in verdicts if v != "failed_over"), key=VERDICT_ORDER.index, default="ready")
    lags = [r["lag_seconds"] for r in per_vm.values() if r["lag_seconds"] is not None]
    return {"verdict": verdict, "max_lag_seconds": max(lags) if lags else None,
            "not_ready": sorted(n for n, r in per_vm.items() if r["verdict"] == "not_ready"),
            "degraded": sorted(n for n, r in per_vm.items() if r["verdict"] == "degraded"), "vms": per_vm}


def swapped(vm):
    """The same VM seen from the other side: its home replica host as primary, its home primary host as replica."""
    pri, rep = vm["replica"], vm["primary"]
    return dict(vm, primary_host=vm["replica_host"], replica_host=vm["primary_host"], primary=pri, replica=rep,
                failed_over=rep["mode"] == "Primary" or is_failed_over(rep))


def planned_steps(vms):
    """Planned failover to the replica hosts (both sites up, no data loss): the failback steps seen from the other side.

    Moving a VM home after a failover and moving it away in a planned failover are the same sequence with the two hosts
    swapped: shut down and prepare where it runs, fail over and reverse where it goes, start there."""
    return failback_steps([swapped(vm) for vm in vms])


def resolve_group(plan, group, states):
    vms = [states[n] for n in group["vms"] if n in states]
    away = [v for v in vms if v["failed_over"]]
    return {
        "plan": plan["name"],
        "name": group.get("name"),
        "recovery_point": plan.get("recovery_point") or "latest",
        "pre_tasks": group.get("pre_tasks"),
        "post_tasks": group.get("post_tasks"),
        "vms": [v["name"] for v in vms],
        "by_primary_host": by_host(vms, "primary_host"),
        "by_replica_host": by_host(vms, "replica_host"),
        "failover": failover_batches(vms),
        "start": batches(vms, "replica_host"),
        "commit": batches([v for v in away if v["replica"]["replication_state"] == "FailedOverWaitingCompletion"], "replica_host"),
        "failback": failback_steps(vms),
        "planned": planned_steps(vms),
        "protect": batches([v for v in vms if v["primary"]["mode"] in ("Primary", "None") and v["replica_host"]], "primary_host",
                           lambda host, vs: {"replica_server": vs[0]["replica_server"]}),
        "done": {
            "failover": all(v["failed_over"] for v in vms),
            "start": all(v["failed_over"] and v["replica"]["power"] == "Running" for v in vms),
            "commit": all(v["replica"]["replication_state"] == "FailedOver" or v["replica"]["mode"] == "Primary" for v in vms),
        },
    }


def resolve(plans, plan_names, replication, primary_site_hosts=None, exclude=None, replica_hosts=None, fqdns=None):
    """Return (result, errors)."""
    res = Resolver(replication, primary_site_hosts, exclude, replica_hosts, fqdns)
    if plans:
        plans = res.validate_plans(plans, plan_names)
    else:
        plans = res.default_plan()
        plan_names = None
    selected = [p for p in plans if isinstance(p, dict) and (not plan_names or p.get("name") in plan_names)]
    names = []
    for plan in selected:
        for group in plan.get("groups") or []:
            if isinstance(group, dict):
                names.extend(vm for vm in group.get("vms") or [] if vm in res.found)
    states = {}
    for name in names:
        state = res.vm_state(name)
        if state:
            states[name] = state
    if res.errors:
        return None, res.errors
    out_plans, steps = [], []
    for plan in selected:
        groups = [resolve_group(plan, g, states) for g in plan["groups"]]
        # protect: one replica server per task, so split per (primary host, replica server)
        for group in groups:
            split = []
            for batch in group["protect"]:
                per_server = {}
                for vm in batch["vms"]:
                    per_server.setdefault(states[vm]["replica_server"], []).append(vm)
                split.extend({"host": batch["host"], "vms": v, "replica_server": s} for s, v in sorted(per_server.items()))
            group["protect"] = split
        plan_vms = [states[n] for g in groups for n in g["vms"]]
        out_plans.append({
            "name": plan["name"],
            "recovery_point": plan.get("recovery_point") or "latest",
            "approval_required": bool(plan.get("approval_required", False)),
            "groups": groups,
            "vms": [v["name"] for v in plan_vms],
            "by_primary_host": by_host(plan_vms, "primary_host"),
            "by_replica_host": by_host(plan_vms, "replica_host"),
            "rpo_seconds": plan.get("rpo_seconds"),
            "readiness": plan_readiness(plan_vms, plan.get("rpo_seconds")),
        })
        steps.extend(groups)
    all_vms = [states[n] for n in names]
    away = [v for v in all_vms if v["failed_over"]]
    protect = []
    for batch in batches([v for v in all_vms if v["primary"]["mode"] in ("Primary", "None") and v["replica_host"]], "primary_host"):
        per_server = {}
        for vm in batch["vms"]:
            per_server.setdefault(states[vm]["replica_server"], []).append(vm)
        protect.extend({"host": batch["host"], "vms": v, "replica_server": s} for s, v in sorted(per_server.items()))
    result = {
        "commit": batches([v for v in away if v["replica"]["replication_state"] == "FailedOverWaitingCompletion"], "replica_host"),
        "failback": failback_steps(all_vms),
        "planned": planned_steps(all_vms),
        "protect": protect,
        "plans": out_plans,
        "groups": steps,
        "vm_names": names,
        "vms": states,
        "by_primary_host": by_host(all_vms, "primary_host"),
        "by_replica_host": by_host(all_vms, "replica_host"),
        "hosts": {h: {"reachable": res.reachable[h]} for h in sorted(res.reachable)},
        "approval_required": [p["name"] for p in out_plans if p["approval_required"]],
        "split_brain": sorted(v["name"] for v in all_vms if v["split_brain"]),
        "primary_running": sorted(v["name"] for v in all_vms if v["primary_running"] and not v["failed_over"]),
        "unreachable_primary_hosts": sorted({v["primary_host"] for v in all_vms if not v["primary"]["reachable"]}),
    }
    return result, []


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    argument_spec = {
        "plans": {"type": "list", "elements": "raw"},
        "plan_names": {"type": "list", "elements": "str"},
        "replication": {"type": "raw", "required": True},
        "primary_site_hosts": {"type": "list", "elements": "str"},
        "exclude": {"type": "list", "elements": "str"},
        "replica_hosts": {"type": "dict"},
        "fqdns": {"type": "dict"},
    }

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=self.argument_spec)
        resolved, errors = resolve(args["plans"], args["plan_names"], args["replication"], args["primary_site_hosts"],
                                   args["exclude"], args["replica_hosts"], args["fqdns"])
        result["changed"] = False
        if errors:
            result.update(failed=True, errors=errors,
                          msg="The recovery plans are invalid (nothing was changed): " + "; ".join(errors))
            return result
        result.update(resolved)
        return result
