"""Recovery plans (asr-api.md §3): groups Shutdown, Failover and Boot; plan jobs; allowed operations.

A plan job runs: prerequisites check, the Shutdown group (shut the source VMs down; not for test failover),
the Failover group (all VMs fail over in parallel), then the Boot groups in order, each starting its VMs in
parallel, with the groups' start/end actions around them (asr-api.md §3; timings.md §2 [ASR-RP-OVERVIEW]:
"group N+1 starts only after all machines of group N failed over and started", at most 7 groups and 100
items). Durations: timings.md §7.3 (group = max over its VMs + 10).

Which items a plan operation acts on (INFERRED, so a plan operation can be re-run after a partial job or a
client crash): an item that is already past the operation is skipped (e.g. already failed over in that
direction), one that is before it blocks the operation. The plan's allowedOperations are the operations
with at least one item to act on and none blocking, while no job runs on the plan or its items.
"""

from __future__ import annotations

import uuid

from lab.vault import actions, ids, items as itemmod, steps, validate
from lab.vault.errors import bad_request
from lab.vault.jobs import Lane, StepError, Task
from lab.vault.state import Plan

PLAN_OPERATIONS = ("PlannedFailover", "UnplannedFailover", "TestFailover", "TestFailoverCleanup", "Commit", "CancelFailover",
                   "ReverseReplicate")
MAX_BOOT_GROUPS = 7
MAX_ITEMS = 100


def members(vault, plan: Plan) -> list:
    return [vault.items[name.lower()] for group in plan.groups for name in group["items"] if name.lower() in vault.items]


# ---- which items an operation acts on -----------------------------------------------------------------
def classify(view: itemmod.ItemView, operation: str, source: str | None, pivot: str | None) -> str:
    """'do', 'skip' or 'block' for one item. source: the side a failover leaves; pivot: the side failed over to."""
    if view.job is not None or (view.rel is not None and view.rel.busy):
        return "block"
    stage, active = view.stage, view.active
    if operation in ("PlannedFailover", "UnplannedFailover"):
        if active == source and stage in ("protected", "prepared"):
            return "do" if operation in view.allowed else "block"
        return "skip" if active != source and stage in ("pending", "committed", "protected", "initial") else "block"
    if operation == "TestFailover":
        if active != source or stage != "protected":
            return "block"
        return "skip" if view.test_vm else ("do" if "TestFailover" in view.allowed else "block")
    if operation == "TestFailoverCleanup":
        return "do" if view.test_vm and "TestFailoverCleanup" in view.allowed else "skip"
    if operation == "Commit":
        return {"pending": "do", "committed": "skip"}.get(stage, "skip" if active == pivot and stage in ("protected", "initial") else "block")
    if operation == "CancelFailover":
        return {"pending": "do", "prepared": "do", "protected": "skip", "initial": "skip"}.get(stage, "block")
    if operation == "ReverseReplicate":
        if stage == "committed":
            return "do"
        return "skip" if active == pivot and stage in ("protected", "initial") else "block"
    return "block"


def _pivot(views: list, stage: str) -> str | None:
    return next((v.active for v in views if v.stage == stage), None)


def plan_views(vault, plan: Plan, now) -> list:
    return [itemmod.view(vault, item, now) for item in members(vault, plan)]


def decide(vault, plan: Plan, operation: str, source: str | None, now) -> tuple[list, list]:
    """(items to act on, blocking views) for the operation."""
    views = plan_views(vault, plan, now)
    pivot = _pivot(views, "pending") if operation in ("Commit",) else _pivot(views, "committed")
    todo, blocking = [], []
    for view in views:
        verdict = classify(view, operation, source, pivot)
        if verdict == "do":
            todo.append(view.item)
        elif verdict == "block":
            blocking.append(view)
    return todo, blocking


def allowed_operations(vault, plan: Plan, now) -> list:
    if vault.job_on_plan(plan) is not None:
        return []
    out = []
    for operation in PLAN_OPERATIONS:
        sources = ("Primary", "Recovery") if operation in ("PlannedFailover", "UnplannedFailover", "TestFailover") else (None,)
        for source in sources:
            todo, blocking = decide(vault, plan, operation, source, now)
            if todo and not blocking:
                out.append(operation)
                break
    return out


# ---- create / update / delete ----------------------------------------------------------------------------
def groups_from_body(vault, groups: list) -> list:
    """RecoveryPlanGroup list -> the plan's groups; the Shutdown and Failover groups are added when missing (INFERRED)."""
    out, seen = [], set()
    kinds = [g["groupType"] for g in groups]
    for kind in ("Shutdown", "Failover"):
        if kinds.count(kind) > 1:
            raise bad_request("InvalidRecoveryPlanGroups", "A recovery plan has one {0} group; the body has {1}.".format(kind, kinds.count(kind)))
    if kinds.count("Boot") > MAX_BOOT_GROUPS:
        raise bad_request("InvalidRecoveryPlanGroups", "A recovery plan has at most {0} boot groups (timings.md §2); the body has {1}.".format(
            MAX_BOOT_GROUPS, kinds.count("Boot")))
    for kind in ("Shutdown", "Failover"):
        if kind not in kinds:
            out.append({"groupType": kind, "items": [], "startGroupActions": [], "endGroupActions": []})
    for group in groups:
        entries = group.get("replicationProtectedItems") or []
        if entries and group["groupType"] != "Boot":
            # asr-api.md §3: the VMs are carried by the Boot groups (the example shows empty Shutdown/Failover groups).
            raise bad_request("InvalidRecoveryPlanGroups", "Protected items belong to Boot groups, not to the {0} group.".format(group["groupType"]))
        names = [_item_ref(vault, entry, seen) for entry in entries]
        _check_actions(group)
        out.append({"groupType": group["groupType"], "items": names, "startGroupActions": list(group.get("startGroupActions") or []),
                    "endGroupActions": list(group.get("endGroupActions") or [])})
    if len(seen) > MAX_ITEMS:
        raise bad_request("InvalidRecoveryPlanGroups", "A recovery plan has at most {0} protected items (timings.md §2).".format(MAX_ITEMS))
    order = {"Shutdown": 0, "Failover": 1, "Boot": 2}
    return sorted(out, key=lambda g: order[g["groupType"]])


def _item_ref(vault, entry: dict, seen: set) -> str:
    given = entry.get("id")
    names = ids.name_of(given or "", vault.id, "replicationFabrics", "replicationProtectionContainers", "replicationProtectedItems")
    item = vault.items.get(names[2].lower()) if names and names[0].lower() == vault.fabric.lower() else None
    if item is None or vault.containers[item.cloud].lower() != names[1].lower():
        raise bad_request("InvalidProtectedItemId", "'{0}' is not a protected item of this vault.".format(given), "The item does not exist.",
                          "List replicationProtectedItems and use their ids.")
    if item.name in seen:
        raise bad_request("DuplicateProtectedItem", "Protected item '{0}' ({1}) appears twice in the recovery plan.".format(item.name, item.vm))
    vm_id = entry.get("virtualMachineId")
    if vm_id is not None and vm_id.lower() != item.vm_id.lower():
        raise bad_request("InvalidProtectedItemId", "virtualMachineId '{0}' is not the VM of protected item '{1}' ({2}).".format(
            vm_id, item.name, item.vm_id))
    seen.add(item.name)
    return item.name


def _check_actions(group: dict) -> None:
    names = [a["actionName"] for a in (group.get("startGroupActions") or []) + (group.get("endGroupActions") or [])]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise bad_request("DuplicateActionName", "Action names must be unique within a group: {0}.".format(", ".join(dupes)))


def create_plan(vault, name: str, body):
    props = validate.props(validate.body_of(validate.CREATE_RECOVERY_PLAN, body, required=True))
    if not validate.NAME_PATTERN.match(name):
        raise bad_request("InvalidResourceName", "The recovery plan name '{0}' is not valid: use letters, digits and hyphens.".format(name))
    if name.lower() in vault.plans:
        raise bad_request("RecoveryPlanAlreadyExists", "A recovery plan named '{0}' already exists; update it with PATCH.".format(name))
    for key in ("primaryFabricId", "recoveryFabricId"):
        if props[key].lower() != vault.fabric_id().lower():
            # asr-api.md §3: VMM-to-VMM plans name the ARM ids of the primary and recovery fabrics (one VMM server: both the same).
            raise bad_request("InvalidFabricId", "{0} '{1}' is not this vault's VMM fabric '{2}'.".format(key, props[key], vault.fabric_id()))
    if props.get("failoverDeploymentModel", "NotApplicable") != "NotApplicable":
        raise bad_request("InvalidFailoverDeploymentModel", "failoverDeploymentModel must be NotApplicable for a VMM-to-VMM plan (asr-api.md "
                          "§3), not '{0}'.".format(props["failoverDeploymentModel"]))
    plan = Plan(name, groups_from_body(vault, props["groups"]))
    return actions.new_job(vault, "CreateRecoveryPlan", "Create a recovery plan", ("RecoveryPlan", _target_id(plan), name),
                           [actions.task("CreateRecoveryPlanTask", "Create a recovery plan task", steps.vault_only())], vault.plan_id(plan),
                           plan=name, needs_provider=False, on_success=actions.store(vault.plans, name, plan),
                           result=lambda: _plan_body(vault, plan))


def update_plan(vault, plan: Plan, body):
    props = validate.props(validate.body_of(validate.UPDATE_RECOVERY_PLAN, body, required=True))
    _idle(vault, plan)
    groups = groups_from_body(vault, props["groups"]) if props.get("groups") is not None else plan.groups

    def done():
        plan.groups = groups
    return actions.new_job(vault, "UpdateRecoveryPlan", "Update a recovery plan", ("RecoveryPlan", _target_id(plan), plan.name),
                           [actions.task("UpdateRecoveryPlanTask", "Update a recovery plan task", steps.vault_only())], vault.plan_id(plan),
                           plan=plan.name, needs_provider=False, on_success=done, result=lambda: _plan_body(vault, plan))


def delete_plan(vault, plan: Plan):
    _idle(vault, plan)
    # Observed names (spec example ReplicationJobs_Get.json): DeleteRecoveryPlan / "Delete a recovery plan" / DeleteRecoveryPlanTask.
    return actions.new_job(vault, "DeleteRecoveryPlan", "Delete a recovery plan", ("RecoveryPlan", _target_id(plan), plan.name),
                           [actions.task("DeleteRecoveryPlanTask", "Delete a recovery plan task", steps.vault_only())], vault.plan_id(plan),
                           plan=plan.name, needs_provider=False, on_success=lambda: vault.plans.pop(plan.name.lower(), None),
                           result=lambda: None)


def _idle(vault, plan: Plan) -> None:
    job = vault.job_on_plan(plan)
    if job is not None:
        raise bad_request("OperationInProgress", "Job {0} ({1}) is running on recovery plan '{2}'.".format(job.name, job.scenario, plan.name),
                          "A job is running on the plan.", "Wait for the job to complete, or cancel it.")


def _target_id(plan: Plan) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "recoveryplan/" + plan.name.lower()))


def _plan_body(vault, plan: Plan):
    from lab.vault import resources  # pylint: disable=import-outside-toplevel

    return resources.recovery_plan(vault, plan, vault.world.clock.now())


# ---- plan actions -----------------------------------------------------------------------------------------
def plan_action(vault, plan: Plan, action: str, body):
    now = vault.world.clock.now()
    _idle(vault, plan)
    if action == "plannedfailover":
        props = validate.props(validate.body_of(validate.RP_PLANNED_FAILOVER, body, required=True))
        return _failover(vault, plan, "PlannedFailover", props, now)
    if action == "unplannedfailover":
        props = validate.props(validate.body_of(validate.RP_UNPLANNED_FAILOVER, body, required=True))
        return _failover(vault, plan, "UnplannedFailover", props, now)
    if action == "testfailover":
        props = validate.props(validate.body_of(validate.RP_TEST_FAILOVER, body, required=True))
        return _failover(vault, plan, "TestFailover", props, now)
    if action == "testfailovercleanup":
        validate.body_of(validate.RP_TEST_FAILOVER_CLEANUP, body, required=True)
        todo = _todo(vault, plan, "TestFailoverCleanup", None, now)
        # timings.md §7.3: test failover cleanup 30 + 10 per VM (one after the other).
        extra = steps.CLEANUP_PER_VM_S - steps.HV_SECONDS["test_failover_stop"]
        lane = actions.one_lane(plan.name, *[steps.cleanup_test(item, extra) for item in todo])
        tasks = [Task("CleanupTestFailover", "Clean up the test environment", lane, steps.CLEANUP_S)]
        return _plan_job(vault, plan, "TestFailoverCleanup", "Cleanup test failover", tasks, todo)
    # operation gate, scenario, job name, task name, task name shown, steps per item
    simple = {"failovercommit": ("Commit", "Commit", "Commit", "CommitFailover", "Commit the failover", lambda i: [steps.commit(i)]),
              "failovercancel": ("CancelFailover", "CancelFailover", "Cancel failover", "CancelFailover", "Cancel the failover",
                                 lambda i: [steps.cancel_failover(i), steps.cancel_prepare(i)]),
              "reprotect": ("ReverseReplicate", "Reprotect", "Reverse replicate", "ReverseReplication", "Reverse replication",
                            lambda i: [steps.make_old_primary_replica(i), steps.reverse(i), steps.start_initial_replication(i)])}
    operation, scenario, friendly, task_name, task_friendly, lane = simple[action]
    del body  # failoverCommit, failoverCancel and reProtect of a plan take no body (asr-api.md §3)
    todo = _todo(vault, plan, operation, None, now)
    tasks = [Task("PrerequisitesCheck", "Prerequisites check", actions.one_lane(plan.name, steps.prerequisites(seconds=0.0))),
             Task(task_name, task_friendly, _lanes(todo, lane))]
    return _plan_job(vault, plan, scenario, friendly, tasks, todo)


def _todo(vault, plan: Plan, operation: str, source: str | None, now) -> list:
    todo, blocking = decide(vault, plan, operation, source, now)
    if blocking or not todo:
        detail = "; ".join("{0}: {1} at {2}{3}".format(v.item.vm, v.protection_state, v.active,
                                                       ", job " + v.job.name if v.job is not None else "") for v in blocking)
        raise bad_request("OperationNotAllowed", "The operation '{0}' is not allowed for recovery plan '{1}'{2}.".format(
            operation, plan.name, " because of " + detail if blocking else ": no item of the plan needs it"),
            "The state of the plan's items does not permit the operation.", "Check allowedOperations of the plan and of its items.")
    return todo


def _lanes(todo: list, make) -> object:
    def build(ctx):
        del ctx
        return [Lane(item.vm, make(item)) for item in todo]
    return build


def _failover(vault, plan: Plan, operation: str, props: dict, now):
    direction = props["failoverDirection"]
    source = "Primary" if direction == "PrimaryToRecovery" else "Recovery"
    test = operation == "TestFailover"
    todo = _todo(vault, plan, operation, source, now)
    if test:
        actions.test_network(vault, itemmod.view(vault, todo[0], now), props)
    # A planned failover always shuts the source down and synchronizes (timings.md §2 [ASR-VMM-FO]).
    source_ops = "Required" if operation == "PlannedFailover" else props.get("sourceSiteOperations", "NotRequired")
    chosen = {item.name for item in todo}
    tasks = [Task("PrerequisitesCheck", "Prerequisites check", actions.one_lane(plan.name, steps.prerequisites(_recheck(plan, operation, source))))]
    for number, group in enumerate(plan.groups):
        group_items = [vault.items[n.lower()] for n in group["items"] if n in chosen]
        tasks += _actions(group, "start", operation, direction)
        tasks.append(_group_task(group, number, group_items if group["groupType"] == "Boot" else todo, operation, source_ops))
        tasks += _actions(group, "end", operation, direction)
    scenario_friendly = {"PlannedFailover": "Planned failover", "UnplannedFailover": "Unplanned failover", "TestFailover": "Test failover"}

    def done():
        stamp = vault.world.clock.now()
        setattr(plan, {"PlannedFailover": "last_planned", "UnplannedFailover": "last_unplanned", "TestFailover": "last_test"}[operation], stamp)
        for item in todo:
            if test:
                item.last_test_failover = stamp
            else:
                item.last_failover = stamp
    return _plan_job(vault, plan, operation, scenario_friendly[operation], tasks, todo, on_success=done,
                     extra={"FailoverDirection": direction})


def _recheck(plan: Plan, operation: str, source: str | None):
    """At run time, the plan's items must still allow the operation (nothing changed them since the request)."""
    def check(ctx):
        dummy, blocking = decide(ctx.vault, plan, operation, source, ctx.now)
        blocking = [v for v in blocking if v.job is not ctx.job]
        if blocking:
            raise StepError("RecoveryPlanItemsNotReady", "Items of recovery plan '{0}' cannot run {1}: {2}.".format(
                plan.name, operation, ", ".join("{0} ({1})".format(v.item.vm, v.protection_state) for v in blocking)),
                "The items changed since the job was requested.", "Check the items' allowedOperations and run the plan again.")
    return check


def _group_task(group: dict, number: int, todo: list, operation: str, source_ops: str) -> Task:
    kind = group["groupType"]
    test = operation == "TestFailover"
    if kind == "Shutdown":
        if test or source_ops != "Required":
            lanes = []  # asr-api.md §3 / timings.md §2: no shutdown step for test failover (nor without source site operations)
        else:
            best_effort = operation == "UnplannedFailover"
            lanes = [(item, [steps.shutdown_source(item, best_effort)]) for item in todo]
        name, friendly = "Shutdown", "Shut down the virtual machines"
    elif kind == "Failover":
        if test:
            lanes = [(item, [steps.test_failover(item)]) for item in todo]
        elif source_ops == "Required":
            best_effort = operation == "UnplannedFailover"
            lanes = [(item, [steps.prepare(item, best_effort), steps.failover(item)]) for item in todo]
        else:
            lanes = [(item, [steps.failover(item)]) for item in todo]
        name, friendly = "Failover", "Fail over the virtual machines"
    else:
        boot = number - 1  # groups are Shutdown, Failover, then Boot 1..N
        lanes = [(item, [steps.start_test(item) if test else steps.start_target(item)]) for item in todo]
        name, friendly = "Group{0}".format(boot), "Group {0}: Start".format(boot)

    def build(ctx):
        del ctx
        return [Lane(item.vm, list(step_list)) for item, step_list in lanes]
    return Task(name, friendly, build, steps.GROUP_OVERHEAD_S, kind="group", group={"groupId": name, "rpGroupType": kind})


def _actions(group: dict, where: str, operation: str, direction: str) -> list:
    out = []
    for action in group.get(where + "GroupActions") or []:
        if operation not in action["failoverTypes"] or direction not in action["failoverDirections"]:
            continue
        details = action["customDetails"]
        if details["instanceType"] == "ManualActionDetails":
            out.append(Task(action["actionName"], action["actionName"], kind="manual",
                            details={"instanceType": "ManualActionTaskDetails", "name": action["actionName"],
                                     "instructions": details.get("description"), "observation": None}))
        else:
            out.append(Task(action["actionName"], action["actionName"], actions.one_lane(action["actionName"], steps.script_action(action)),
                            details={"instanceType": "ScriptActionTaskDetails", "name": action["actionName"], "path": details.get("path"),
                                     "output": None, "isPrimarySideScript": details.get("fabricLocation") == "Primary"}))
    return out


def _plan_job(vault, plan: Plan, scenario: str, friendly: str, tasks: list, todo: list, on_success=None, extra=None):
    affected = dict(actions.affected(vault, todo[0] if todo else None), **(extra or {}))
    return actions.new_job(vault, scenario, friendly, ("RecoveryPlan", _target_id(plan), plan.name), tasks, vault.plan_id(plan),
                           items=tuple(item.name for item in todo), plan=plan.name, affected=affected, on_success=on_success,
                           result=lambda: _plan_body(vault, plan))
