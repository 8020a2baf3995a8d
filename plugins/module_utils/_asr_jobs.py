# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the collection: ASR long-running operations as jobs.

An ASR action answers 200 (resource body) or 202 with Location = <resource>/operationresults/<job>; the job is then
GET replicationJobs/<job> (asr-api.md §5 "How an ASR action responds", §7, §9.4). The SDK's poller is not used:
polling=False plus raw_response_hook hands us the initial response, and we poll the job ourselves with a backoff,
which gives the job's state, tasks and errors instead of the bare LRO result.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr import AsrError

RUNNING_STATES = ("NotStarted", "InProgress")
FAILED_STATES = ("Failed", "Cancelled")
_NO_JOB = ("", "none")

# Seams for the unit tests (no real sleeping).
sleep = time.sleep
clock = time.monotonic


class Started:
    """What an action's initial response told us: status, headers (Location...), the job name when there is one."""

    def __init__(self, operation, status, headers, body, job_name):
        self.operation = operation
        self.status = status
        self.headers = headers
        self.body = body
        self.job_name = job_name


def job_name_from_response(status, headers, body=None):
    """The ASR job name of an action's initial response, or None.

    Location .../operationresults/<job> (what Az PowerShell's GetJobIdFromReponseLocation reads), else the job ARM id in
    x-ms-request-id, else an Azure-AsyncOperation URL (operationresults, replicationJobs or replicationOperationStatus),
    else, for a 200 with the resource, the job itself (job actions) or the resource's currentScenario.jobId.
    """
    lowered = {key.lower(): value for key, value in (headers or {}).items()}
    for header, patterns in (
        ("location", (r"/operationresults/([^/?#]+)",)),
        ("x-ms-request-id", (r"/replicationJobs/([^/?#]+)",)),
        ("azure-asyncoperation", (r"/operationresults/([^/?#]+)", r"/replicationJobs/([^/?#]+)", r"/replicationOperationStatus/([^/?#]+)")),
    ):
        value = lowered.get(header) or ""
        for pattern in patterns:
            match = re.search(pattern, value, re.IGNORECASE)
            if match and match.group(1).lower() not in _NO_JOB:
                return match.group(1)
    if status == 200 and isinstance(body, dict):
        # A job action (resume, restart, cancel) may answer 200 with the Job itself.
        own = re.search(r"/replicationJobs/([^/?#]+)$", body.get("id") or "", re.IGNORECASE)
        if own:
            return own.group(1)
        scenario = (body.get("properties") or {}).get("currentScenario") or {}
        match = re.search(r"/replicationJobs/([^/?#]+)", scenario.get("jobId") or "", re.IGNORECASE)
        if match and match.group(1).lower() not in _NO_JOB:
            return match.group(1)
    return None


def start_action(vault, doing, group, method, *args, operation=None):
    """Send one ASR action without the SDK's poller and return Started (job name from the 202 Location or its siblings)."""
    seen = {}

    def hook(pipeline_response):
        # Called for each attempt of the pipeline run; the last response is the one the SDK returned.
        response = pipeline_response.http_response
        seen.update(status=response.status_code, headers=dict(response.headers), body=None)
        if response.status_code == 200:
            # read() caches the content, so the SDK's own read() afterwards gets the same bytes.
            try:
                response.read()
                seen["body"] = response.json()
            except ValueError:
                seen["body"] = None

    # The poller is not used: with polling=False nothing more is sent, and its result() would parse an empty 202.
    vault.call(doing, group, method, *args, polling=False, raw_response_hook=hook)
    status = seen.get("status")
    headers = seen.get("headers") or {}
    return Started(operation or method, status, headers, seen.get("body"), job_name_from_response(status, headers, seen.get("body")))


def get_job(vault, job_name):
    return vault.get("reading ASR job %s" % job_name, "replication_jobs", "get", job_name, missing="ASR job %s" % job_name)


def wait_for_jobs(vault, job_names, timeout, poll_interval):
    """Poll GET replicationJobs/<name> until no job is NotStarted/InProgress or the timeout passes.

    Backoff from 1 s growing by half up to poll_interval. Returns ({name: job dict}, [names still running]).
    A job that is not visible yet (404) counts as running.
    """
    deadline = clock() + timeout
    delay = min(1.0, float(poll_interval))
    jobs = {}
    pending = list(job_names)
    while True:
        for name in list(pending):
            job = _get_job_if_visible(vault, name)
            if job is not None:
                jobs[name] = job
                if job_state(job) not in RUNNING_STATES:
                    pending.remove(name)
        if not pending or clock() >= deadline:
            return jobs, pending
        sleep(max(0.0, min(delay, deadline - clock())))
        delay = min(delay * 1.5, float(poll_interval))


def _get_job_if_visible(vault, name):
    try:
        return get_job(vault, name)
    except AsrError as exc:
        if exc.details.get("status_code") == 404:
            return None
        raise


def job_state(job):
    return ((job or {}).get("properties") or {}).get("state")


def job_summary(job):
    """A job as the modules return it (snake_case keys), with its tasks and errors."""
    if not job:
        return None
    props = job.get("properties") or {}
    return {
        "name": job.get("name"),
        "id": job.get("id"),
        "scenario": props.get("scenarioName"),
        "friendly_name": props.get("friendlyName"),
        "state": props.get("state"),
        "state_description": props.get("stateDescription"),
        "target_name": props.get("targetObjectName"),
        "target_id": props.get("targetObjectId"),
        "target_type": props.get("targetInstanceType"),
        "start_time": props.get("startTime"),
        "end_time": props.get("endTime"),
        "allowed_actions": list(props.get("allowedActions") or []),
        "tasks": [task_summary(task) for task in props.get("tasks") or []],
        "errors": [error_summary(error) for error in props.get("errors") or []],
    }


def task_summary(task):
    details = task.get("customDetails") or {}
    group = task.get("groupTaskCustomDetails") or {}
    summary = {
        "name": task.get("name"),
        "friendly_name": task.get("friendlyName"),
        "state": task.get("state"),
        "state_description": task.get("stateDescription"),
        "task_type": task.get("taskType"),
        "start_time": task.get("startTime"),
        "end_time": task.get("endTime"),
        "allowed_actions": list(task.get("allowedActions") or []),
        "errors": [error_summary(error) for error in task.get("errors") or []],
    }
    if details.get("instanceType") == "ManualActionTaskDetails":
        summary["instructions"] = details.get("instructions")
    if group.get("childTasks"):
        summary["child_tasks"] = [task_summary(child) for child in group["childTasks"]]
    return summary


def error_summary(error):
    """A JobErrorDetails: the service's error, and the provider's (the VMM server's, often the Hyper-V cause) when there is one."""
    service = error.get("serviceErrorDetails") or {}
    provider = error.get("providerErrorDetails") or {}
    provider_code = str(provider["errorCode"]) if provider.get("errorCode") is not None else None
    return {
        "code": service.get("code") or provider_code,
        "message": service.get("message") or provider.get("errorMessage"),
        "possible_causes": service.get("possibleCauses") or provider.get("possibleCauses"),
        "recommended_action": service.get("recommendedAction") or provider.get("recommendedAction"),
        "provider_code": provider_code,
        "provider_message": provider.get("errorMessage"),
        "level": error.get("errorLevel"),
        "task_id": error.get("taskId"),
        "creation_time": error.get("creationTime"),
    }


def _error_text(error):
    text = "%s: %s" % (error["code"], error["message"]) if error["code"] else str(error["message"])
    if error["provider_message"] and error["provider_message"] != error["message"]:
        text += " (provider error %s: %s)" % (error["provider_code"], error["provider_message"])
    return text


def job_problem(job):
    """One sentence on why a job did not succeed (its first errors, or the failed tasks), or None when it succeeded / runs."""
    summary = job_summary(job)
    if summary is None or summary["state"] not in FAILED_STATES:
        return None
    errors = summary["errors"] + [error for task in summary["tasks"] for error in task["errors"]]
    # The job's errors repeat its tasks' errors (taskId): one sentence per distinct error.
    texts = list(dict.fromkeys(_error_text(error) for error in errors if (error.get("level") or "Error") != "Warning"))[:3]
    failed = [task["friendly_name"] or task["name"] for task in summary["tasks"] if task["state"] in FAILED_STATES]
    text = "; ".join(texts) or ("failed tasks: %s" % ", ".join(failed) if failed else summary["state_description"] or "no error details")
    return "ASR job %s (%s) %s: %s" % (summary["name"], summary["scenario"], summary["state"].lower(), text)


def suspended_note(job):
    """What a Suspended job waits for (a manual action's instructions), for the module's msg; None when not suspended."""
    summary = job_summary(job)
    if summary is None or summary["state"] != "Suspended":
        return None
    waiting = [task for task in summary["tasks"] if "Resume" in task["allowed_actions"] or task["state"] == "Suspended"]
    what = waiting[0]["friendly_name"] or waiting[0]["name"] if waiting else summary["state_description"]
    instructions = waiting[0].get("instructions") if waiting else None
    return "ASR job %s is suspended at %r%s; resume it with site_recovery.hyperv.asr_job state=resumed." % (
        summary["name"], what, (" (%s)" % instructions) if instructions else "")


def timeout_message(names, timeout):
    return ("ASR job(s) %s still running after %d s; they go on in the vault. Follow them with site_recovery.hyperv.asr_job_info "
            "and run the task again once they finished." % (", ".join(names), timeout))


class Action:
    """One ASR action to start: client.<group>.<method>(rg, vault, *args); key identifies it in the results."""

    def __init__(self, key, doing, group, method, args, operation):
        self.key = key
        self.doing = doing
        self.group = group
        self.method = method
        self.args = args
        self.operation = operation
        self.started = None
        self.job = None


def run_actions(vault, actions, wait, timeout, poll_interval):
    """Start every action (in order), then wait for all their jobs together (wait=false: read each job once).

    Returns the names of jobs still running at the timeout. When a start fails after others started, the AsrError says
    which ones were started and carries changed=true.
    """
    for index, action in enumerate(actions):
        try:
            action.started = start_action(vault, action.doing, action.group, action.method, *action.args, operation=action.operation)
        except AsrError as exc:
            if index:
                begun = ["%s (job %s)" % (done.key, done.started.job_name) for done in actions[:index]]
                exc.msg += " Already started before this failure: %s." % ", ".join(begun)
                exc.details.update(changed=True, jobs=[done.started.job_name for done in actions[:index]])
            raise
    names = [action.started.job_name for action in actions if action.started.job_name]
    if not names:
        return []
    if wait:
        jobs, pending = wait_for_jobs(vault, names, timeout, poll_interval)
    else:
        jobs, pending = {name: _get_job_if_visible(vault, name) for name in names}, []
    for action in actions:
        action.job = jobs.get(action.started.job_name)
    return pending


def running_job(vault, scenario):
    """The job of a current scenario (resources_view scenario dict) when it is still NotStarted/InProgress, else None."""
    if not scenario or not scenario.get("job_name"):
        return None
    job = _get_job_if_visible(vault, scenario["job_name"])
    return job if job_state(job) in RUNNING_STATES else None


def follow_jobs(vault, job_names, wait, timeout, poll_interval):
    """Jobs already running (started by someone else or an earlier run): wait for them like our own. Returns (jobs, pending)."""
    if not job_names:
        return {}, []
    if wait:
        return wait_for_jobs(vault, job_names, timeout, poll_interval)
    return {name: _get_job_if_visible(vault, name) for name in job_names}, []


def parse_time(text):
    """An ISO-8601 time as an aware datetime (UTC when no offset); .NET's 7 fraction digits are cut to 6."""
    if not text:
        return None
    cleaned = re.sub(r"(\.\d{6})\d+", r"\1", text.strip()).replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def select_jobs(jobs, states=None, scenario=None, target=None, since=None, limit=20):
    """The jobs that pass the filters, newest first, at most limit (0: all)."""
    chosen = []
    for job in jobs:
        props = job.get("properties") or {}
        if states and props.get("state") not in states:
            continue
        if scenario and _letters(props.get("scenarioName")) != _letters(scenario):
            continue
        if target and target.lower() not in ((props.get("targetObjectName") or "").lower(), (props.get("targetObjectId") or "").lower()):
            continue
        started = parse_time(props.get("startTime"))
        if since and (started is None or started < since):
            continue
        chosen.append(job)
    chosen.sort(key=lambda job: parse_time((job.get("properties") or {}).get("startTime")) or datetime.min.replace(tzinfo=timezone.utc),
                reverse=True)
    return chosen[:limit] if limit else chosen


def _letters(text):
    return re.sub(r"[^a-z]", "", (text or "").lower())


def run_one(vault, doing, group, method, args, operation, params):
    """Start one action and wait as the task's wait options say; the job summary (None when ASR answered without a job).

    A failed, cancelled or timed-out job raises AsrError with changed=true and the job.
    """
    action = Action(operation, doing, group, method, args, operation)
    pending = run_actions(vault, [action], params["wait"], params["wait_timeout"], params["poll_interval"])
    summary = job_summary(action.job) if action.job else ({"name": action.started.job_name} if action.started.job_name else None)
    if pending:
        raise AsrError(timeout_message(pending, params["wait_timeout"]), changed=True, job=summary)
    problem = job_problem(action.job) if action.job else None
    if problem:
        raise AsrError("%s failed: %s" % (doing[0].upper() + doing[1:], problem), changed=True, job=summary)
    return summary
