"""ASR jobs (asr-api.md §5): a job is a list of tasks run one after the other; a task runs lanes in parallel
(one lane per virtual machine in a recovery plan group, timings.md §2 "machines in one group fail over and
start in parallel; groups run in order"); a lane is a sequence of steps, each taking simulated time.

Progress is derived lazily from the clock, like lab/world/vmm.py: `advance(job, ctx)` applies every step
whose time has come. A step's world change starts when the step starts and completes when its time has
passed (the Plan begin/finish of lab/world/operations.py); when the lab looks late (a jump of the clock),
the changes are applied in order but stamped with the current simulated time (INFERRED approximation, as the
VMM light refresher). Job states: NotStarted, InProgress, Succeeded, Failed, Cancelled, Suspended
(asr-api.md §5); allowedActions Cancel/Resume as observed, Restart for a failed or cancelled job (INFERRED).
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid

ACTIVE = ("NotStarted", "InProgress", "Suspended")


class StepError(Exception):
    """A step failed; `service` and `provider` become the job's JobErrorDetails (asr-api.md §5)."""

    def __init__(self, code: str, message: str, causes: str = "", action: str = "", provider: dict | None = None) -> None:
        super().__init__(message)
        self.service = {"code": code, "message": message, "possibleCauses": causes, "recommendedAction": action,
                        "activityId": str(uuid.uuid4())}
        self.provider = provider


@dataclasses.dataclass
class StepRun:
    """What a started step does: `seconds` of simulated time, then `finish` (under the world lock)."""

    seconds: float = 0.0
    finish: object = None
    info: str | None = None  # a warning: the task ends "CompletedWithInformation"


@dataclasses.dataclass
class Lane:
    label: str
    steps: list
    index: int = 0
    time: datetime.datetime | None = None
    running: StepRun | None = None
    ends: datetime.datetime | None = None
    error: StepError | None = None
    infos: list = dataclasses.field(default_factory=list)
    started: datetime.datetime | None = None
    worked: bool = False  # at least one step had something to do

    def done(self) -> bool:
        return self.running is None and (self.error is not None or self.index >= len(self.steps))


@dataclasses.dataclass
class Task:
    """name: the identifier (`vault-job-fail --task`); build(ctx) -> lanes, called when the task starts."""

    name: str
    friendly: str
    build: object = None
    overhead: float = 0.0
    kind: str = "task"  # task | manual | group
    group: dict | None = None  # RecoveryPlanGroupTaskDetails {groupId, rpGroupType} for plan groups
    details: dict | None = None  # customDetails of the task (ManualActionTaskDetails, ScriptActionTaskDetails ...)
    task_id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    state: str = "NotStarted"
    description: str = "NotStarted"
    start: datetime.datetime | None = None
    end: datetime.datetime | None = None
    lanes: list = dataclasses.field(default_factory=list)
    errors: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Job:
    name: str
    scenario: str
    friendly: str
    target_type: str  # ProtectionEntity, RecoveryPlan, ProtectionProfile, Server ... (asr-api.md §5)
    target_id: str
    target_name: str
    tasks: list
    resource_id: str  # the resource whose .../operationresults/<job> is the Location (asr-api.md §5)
    start: datetime.datetime
    items: tuple = ()  # protected items the job acts on (their currentScenario, and busy while it runs)
    plan: str | None = None
    needs_provider: bool = True
    result: object = None  # callable() -> final body of the operation result (None: 204 No Content)
    on_success: object = None
    on_failure: object = None
    affected: dict = dataclasses.field(default_factory=dict)
    state: str = "InProgress"
    description: str = "InProgress"
    end: datetime.datetime | None = None
    index: int = 0
    cursor: datetime.datetime | None = None
    cancel_requested: bool = False
    fault: dict | None = None  # an injected failure: {"task": name or 1-based index}
    activity: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))

    def errors(self) -> list:
        return [dict(e, taskId=t.task_id) for t in self.tasks for e in t.errors]

    def allowed_actions(self) -> list:
        return {"InProgress": ["Cancel"], "NotStarted": ["Cancel"], "Suspended": ["Resume", "Cancel"], "Failed": ["Restart"],
                "Cancelled": ["Restart"]}.get(self.state, [])


@dataclasses.dataclass
class Ctx:
    vault: object
    world: object
    now: datetime.datetime
    job: Job | None = None


def _error_entry(exc: StepError, at: datetime.datetime, level: str = "Error") -> dict:
    entry = {"serviceErrorDetails": exc.service, "errorLevel": level, "creationTime": at}
    if exc.provider:
        entry["providerErrorDetails"] = exc.provider
    return entry


# ---- engine ----------------------------------------------------------------------------------------
def advance(job: Job, ctx: Ctx) -> None:
    """Apply everything due by ctx.now, task after task."""
    ctx.job = job
    while job.state == "InProgress":
        if job.index >= len(job.tasks):
            _finish(job, "Succeeded", job.cursor)
            return
        task = job.tasks[job.index]
        if task.state == "NotStarted":
            if job.cancel_requested:
                _finish(job, "Cancelled", job.cursor)
                return
            if job.cursor > ctx.now:
                return
            _start_task(job, task, ctx)
            if task.state == "Failed":
                _finish(job, "Failed", job.cursor)
                return
            if job.state != "InProgress":
                return  # suspended on a manual action
        for lane in task.lanes:
            _run_lane(lane, ctx)
        if not all(lane.done() for lane in task.lanes):
            return
        end = max([lane.time for lane in task.lanes] + [task.start])
        if any(lane.worked for lane in task.lanes):
            end += datetime.timedelta(seconds=task.overhead)
        if end > ctx.now:
            return
        _complete_task(task, end)
        job.cursor = end
        if task.state == "Failed":
            _finish(job, "Failed", end)  # the index stays on the failed task: restart runs it again
            return
        job.index += 1


def _start_task(job: Job, task: Task, ctx: Ctx) -> None:
    task.start, task.errors, task.lanes = job.cursor, [], []
    if _fault_hits(job, task):
        # vault-job-fail: the task fails when it starts, before any change (lab/vault/faults in state.py).
        task.errors = [_error_entry(ctx.vault.injected_error(job, task), job.cursor)]
        task.state, task.description, task.end = "Failed", "Failed", job.cursor
        job.fault = None
        return
    if task.kind == "manual":
        # asr-api.md §3: a manual action suspends the plan job until ReplicationJobs_Resume.
        task.state, task.description = "InProgress", "WaitingForManualAction"
        job.state, job.description = "Suspended", "WaitingForManualAction"
        return
    try:
        lanes = task.build(ctx) if task.build else []
    except StepError as exc:
        task.errors = [_error_entry(exc, job.cursor)]
        task.state, task.description, task.end = "Failed", "Failed", job.cursor
        return
    for lane in lanes:
        lane.time = lane.started = job.cursor
    task.lanes = lanes
    task.state, task.description = "InProgress", "InProgress"


def _fault_hits(job: Job, task: Task) -> bool:
    if not job.fault:
        return False
    wanted = str(job.fault["task"]).lower()
    position = str(job.tasks.index(task) + 1)
    return wanted in (task.name.lower(), task.friendly.lower(), position)


def _run_lane(lane: Lane, ctx: Ctx) -> None:
    while True:
        if lane.running is not None:
            if lane.ends > ctx.now:
                return
            if callable(lane.running.finish):
                lane.running.finish()
            lane.time, lane.running = lane.ends, None
            lane.index += 1
            continue
        if lane.error is not None or lane.index >= len(lane.steps):
            return
        try:
            run = lane.steps[lane.index](ctx)
        except StepError as exc:
            lane.error = exc
            return
        if run is None:
            lane.index += 1
            continue
        lane.worked = True
        if run.info:
            lane.infos.append(run.info)
        lane.running, lane.ends = run, lane.time + datetime.timedelta(seconds=max(0.0, run.seconds))


def _complete_task(task: Task, end: datetime.datetime) -> None:
    task.end = end
    failed = [lane for lane in task.lanes if lane.error is not None]
    task.errors = [_error_entry(lane.error, end) for lane in failed]
    infos = [info for lane in task.lanes for info in lane.infos]
    task.errors += [_error_entry(StepError("SourceSiteOperationSkipped", info, "The source site could not be reached.",
                                           "Check the virtual machine at the source site once it is back."), end, "Warning")
                    for info in infos]
    if failed:
        task.state, task.description = "Failed", "Failed"
    elif infos:
        task.state, task.description = "Succeeded", "CompletedWithInformation"
    elif not any(lane.worked for lane in task.lanes):
        task.state, task.description = "Succeeded", "Skipped"  # nothing to do; asr-api.md §5: Skipped is a Succeeded description
    else:
        task.state, task.description = "Succeeded", "Completed"


def _finish(job: Job, state: str, at: datetime.datetime) -> None:
    job.state, job.end = state, at
    if state == "Succeeded":
        with_info = any(t.description == "CompletedWithInformation" for t in job.tasks)
        job.description = "CompletedWithInformation" if with_info else "Completed"
        if callable(job.on_success):
            job.on_success()
    else:
        job.description = state
        for task in job.tasks[job.index:]:
            if task.state == "NotStarted" and state == "Cancelled":
                task.state = task.description = "Cancelled"
        if state == "Failed" and callable(job.on_failure):
            job.on_failure()


# ---- job actions (asr-api.md §5: cancel, restart, resume) ------------------------------------------------
def cancel(job: Job, now: datetime.datetime) -> None:
    """INFERRED: a running task completes (a Hyper-V operation cannot be cut short), then the job stops."""
    if job.state == "Suspended":
        task = job.tasks[job.index]
        task.state = task.description = "Cancelled"
        task.end = now
        job.index += 1
        job.state = "InProgress"
        job.cursor = now
    job.cancel_requested = True
    if job.index < len(job.tasks) and job.tasks[job.index].state == "NotStarted":
        _finish(job, "Cancelled", max(now, job.cursor))


def restart(job: Job, now: datetime.datetime) -> None:
    """Run again from the task that failed (or was next), re-deriving what is left from live state."""
    job.state, job.description, job.end, job.cancel_requested = "InProgress", "InProgress", None, False
    for task in job.tasks[job.index:]:
        task.state = task.description = "NotStarted"
        task.start = task.end = None
        task.lanes, task.errors = [], []
    job.cursor = now


def resume(job: Job, now: datetime.datetime) -> None:
    task = job.tasks[job.index]
    task.state, task.description, task.end = "Succeeded", "Completed", now
    job.index += 1
    job.state, job.description, job.cursor = "InProgress", "InProgress", now
