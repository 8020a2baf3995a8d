"""Executes the collection's runner (plugins/plugin_utils/_runner.py) the way Windows PowerShell would.

The endpoint hands over each command line's script and stdin; a script that is the collection's
BOOTSTRAP gets its stdin parsed as BOOTSTRAP does (runner source, NUL line, payload) and every call
is bound against the documented contract, answered from the world, projected and printed exactly
as RUNNER prints it. Anything else fails as PowerShell fails on an unknown command.
"""

from __future__ import annotations

import datetime
import json
import re

from lab._powershell import CommandResult, ErrorRecord, not_recognized
from lab.cmdlets import cluster, hyperv, hyperv_ops, sql, vmm
from lab.cmdlets.contract import command_type
from lab.cmdlets.errors import CmdletError, not_modelled, record
from lab.cmdlets.objects import bind_call

BOOTSTRAP_MARKER = "<# site_recovery.hyperv bootstrap 1 #>"
RUNNER_MARKER = "# site_recovery.hyperv runner 1"
SEPARATOR = "\0\0\0\0"
STDIN_TIMEOUT_S = 60
_SILENT = ("SilentlyContinue", "Ignore")
_TO_ERROR_STREAM = ("Continue", "Inquire")
# Windows PowerShell 5.1 ConvertTo-Json (JavaScriptSerializer) escapes these as \uXXXX.
_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027"}


class LabExecutor:
    """run_powershell(host, script, stdin) -> CommandResult; one audit record per cmdlet call."""

    def __init__(self, world, audit, handlers: dict | None = None) -> None:
        self.world = world
        self.audit = audit
        self.handlers = dict(hyperv.HANDLERS)
        self.handlers.update(hyperv_ops.HANDLERS)  # state-changing Hyper-V cmdlets (they take world.lock themselves)
        self.handlers.update(vmm.HANDLERS)  # SC* cmdlets, answered on the VMM server (lab/cmdlets/vmm.py)
        self.handlers.update(sql.HANDLERS)  # SqlServer module: Invoke-Sqlcmd and the AG cmdlets (lab/cmdlets/sql.py)
        self.handlers.update(cluster.HANDLERS)  # FailoverClusters cmdlets, answered on cluster nodes (lab/cmdlets/cluster.py)
        self.handlers.update(handlers or {})

    def run_powershell(self, host: str, script: str, stdin) -> CommandResult:
        if not script.lstrip("\ufeff").startswith(BOOTSTRAP_MARKER):
            return self._not_recognized(host, script)
        raw = stdin.read_all(timeout=STDIN_TIMEOUT_S)
        text = raw.decode("utf-8", errors="replace").lstrip("\ufeff")
        source, payload = _split_stdin(text)
        if not source or source[0] != RUNNER_MARKER:
            # Real PowerShell would run whatever script arrived; the lab only knows the collection's runner.
            rec = record("The DR lab does not model this runner program (expected first line '{0}').".format(RUNNER_MARKER),
                         "LabNotModelled", "NotImplemented", "NotImplementedException")
            self._audit(host, "script", recognized=False, script=script[:200], reason="unknown runner")
            return CommandResult(errors=[rec], rc=1)
        with vmm.powershell_session():  # one powershell.exe run: VMM's session connection lives this long
            return self._run_payload(host, payload)

    # ---- the runner --------------------------------------------------------------------------
    def _run_payload(self, host: str, payload_json: str) -> CommandResult:
        try:
            if not payload_json:
                # param([string]$PayloadJson) turns a missing payload into '', which ConvertFrom-Json refuses.
                raise CmdletError(record("Cannot bind argument to parameter 'InputObject' because it is an empty string.",
                                         "ParameterArgumentValidationErrorEmptyStringNotAllowed,"
                                         "Microsoft.PowerShell.Commands.ConvertFromJsonCommand",
                                         "InvalidData", "ParameterBindingValidationException", command="ConvertFrom-Json"))
            payload = json.loads(payload_json)
        except ValueError as exc:
            # INFERRED: JavaScriptSerializer's message is approximated.
            rec = record("Invalid JSON primitive: {0}.".format(exc.msg), "System.ArgumentException,"
                         "Microsoft.PowerShell.Commands.ConvertFromJsonCommand", "NotSpecified", "ArgumentException",
                         command="ConvertFrom-Json")
            return CommandResult(errors=[rec], rc=1)
        except CmdletError as exc:
            return CommandResult(errors=[exc.record], rc=1)
        calls = payload.get("calls") if isinstance(payload, dict) else None
        if isinstance(calls, dict):
            calls = [calls]  # foreach over a single object iterates it once
        results: list = []
        raw: list = []  # RUNNER's $raw: the unprojected objects of each call, for {"$call": N}
        failure = None
        stream_errors: list[ErrorRecord] = []
        for index, call in enumerate(calls or []):
            try:
                params = resolve_refs(call.get("params") or {}, raw)
            except CmdletError as exc:
                # ConvertTo-SrhParam runs outside RUNNER's try: the script itself stops, nothing is printed.
                return CommandResult(errors=stream_errors + [exc.record], rc=1)
            try:
                objects, kept = self._call(host, call, params, stream_errors)
            except CmdletError as exc:
                rec = exc.record
                failure = {"index": index, "cmdlet": _ps_string(call.get("cmdlet")), "message": rec.message, "fqid": rec.fqid,
                           "category": rec.category, "target": rec.target or None}
                break
            results.append(objects)
            raw.append(kept)
        # RUNNER: [DateTime]::UtcNow.ToString('o') - seven fraction digits and Z; the host's clock is the lab's clock.
        now = self.world.clock.now().astimezone(datetime.timezone.utc).replace(tzinfo=None)
        doc = {"v": 1, "now": now.isoformat(timespec="microseconds") + "0Z", "results": results, "error": failure}
        return CommandResult(stdout=to_json(doc) + "\r\n", errors=stream_errors, rc=1 if failure else 0)

    def _call(self, host: str, call: dict, resolved: dict, stream_errors: list) -> tuple[list[dict], list]:
        cmdlet = _ps_string(call.get("cmdlet"))
        params = call.get("params") or {}
        select = call.get("select") or []
        if isinstance(select, str):
            select = [select]
        bound = None
        try:
            bound = bind_call(cmdlet, resolved)
            handler = self.handlers.get(bound.cmdlet)
            if handler is None:
                raise not_modelled(bound.cmdlet, bound.command_type)
            self._injected_fault(host, bound)
            if hasattr(self.world, "settle"):
                self.world.settle()
            try:
                if getattr(handler, "locks_world", False):
                    # It waits out simulated durations without the lock (lab/world/durations.py).
                    objects = handler(self.world, host, bound)
                else:
                    with self.world.lock:
                        objects = handler(self.world, host, bound)
            except CmdletError as exc:
                objects = self._non_terminating(exc, bound, stream_errors)
        except CmdletError as exc:
            self._audit_call(host, cmdlet, bound, params, "error", exc.record.fqid, 0)
            raise
        kept = [obj for obj in objects if obj is not None]
        rows = [project(obj, select) for obj in kept]
        self._audit_call(host, cmdlet, bound, params, "ok", None, len(rows))
        return rows, kept

    def _injected_fault(self, host: str, bound) -> None:
        """A fault set with World.inject_cmdlet_fault fails the call before the cmdlet changes anything."""
        take = getattr(self.world, "take_cmdlet_fault", None)
        fault = take(host, bound.cmdlet) if take else None
        if fault is not None:
            # INFERRED default id: Hyper-V's generic failure id for the cmdlet.
            fqid = fault["fqid"] or "OperationFailed"
            if "," not in fqid:
                fqid += "," + bound.command_type
            raise CmdletError(record(fault["message"], fqid, fault["category"] or "NotSpecified", "VirtualizationException",
                                     command=bound.cmdlet))

    @staticmethod
    def _non_terminating(exc: CmdletError, bound, stream_errors: list) -> list:
        """-ErrorAction decides what a WriteError does; the runner's default is Stop."""
        action = bound.common.get("ErrorAction", "Stop")
        if exc.terminating or action not in _SILENT + _TO_ERROR_STREAM:
            raise exc
        if action in _TO_ERROR_STREAM:
            stream_errors.extend(e.record for e in [exc] + exc.more)
        return exc.partial

    # ---- not the bootstrap -------------------------------------------------------------------
    def _not_recognized(self, host: str, script: str) -> CommandResult:
        self._audit(host, "script", recognized=False, script=script[:200])
        stripped = script.lstrip()
        if not stripped:
            return CommandResult()
        first_line = stripped.splitlines()[0]
        word = re.match(r"[^\s;|(){}]+", first_line)
        name = word.group(0) if word else first_line[:1]
        rec = not_recognized(name, script_line=first_line, char=len(script) - len(stripped) + 1)
        return CommandResult(errors=[rec], rc=1)

    def _audit_call(self, host, cmdlet, bound, params, outcome, fqid, count) -> None:
        self._audit(host, "cmdlet", cmdlet=bound.cmdlet if bound else cmdlet,
                    parameter_set=bound.parameter_set if bound else None, params=params,
                    outcome=outcome, fqid=fqid, objects=count, command_type=command_type(cmdlet) or None)

    def _audit(self, host: str, kind: str, **fields) -> None:
        if self.audit is not None:
            self.audit.record(kind, host, **fields)


def resolve_refs(value, raw: list):
    """ConvertTo-SrhParam: {"$call": N} -> the objects call N returned (one object, or the array); other objects recurse."""
    if isinstance(value, dict):
        ref_key = next((k for k in value if k.lower() == "$call"), None)  # PSObject property names are case-insensitive
        if ref_key is None:
            return {k: resolve_refs(v, raw) for k, v in value.items()}
        index = _ps_int(value[ref_key])
        found = raw[index] if -len(raw) <= index < len(raw) else None
        if found is None:
            # $raw[N] out of range is $null; $null.ToArray() fails, outside the runner's try.
            raise CmdletError(record("You cannot call a method on a null-valued expression.", "InvokeMethodOnNull", "InvalidOperation",
                                     "RuntimeException"))
        return found[0] if len(found) == 1 else list(found)
    if isinstance(value, list):
        return [resolve_refs(v, raw) for v in value]
    return value


def _ps_int(value) -> int:
    """[int] cast of a JSON value (numbers round half to even, as .NET does)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return int(round(value))
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise CmdletError(record("Cannot convert value \"{0}\" to type \"System.Int32\". Error: \"Input string was not in a correct "
                             "format.\"".format(_ps_string(value)), "InvalidCastFromStringToInteger", "InvalidArgument",
                             "RuntimeException"))


def _split_stdin(text: str) -> tuple[list[str], str]:
    """BOOTSTRAP: lines before the NUL line are the runner; later lines are concatenated (no newlines) as payload."""
    source: list[str] = []
    payload = None
    for line in re.split(r"\r\n|\n", text):
        if payload is not None:
            payload += line
        elif line == SEPARATOR:
            payload = ""
        else:
            source.append(line)
    if text.endswith("\n") and source and source[-1] == "" and payload is None:
        source.pop()
    return source, payload or ""


def _ps_string(value) -> str:
    """[string] cast of a JSON value as ConvertFrom-Json gave it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def project(obj: dict, select: list) -> dict:
    """RUNNER's row: each selected property (case-insensitive lookup, as PSObject.Properties) or null."""
    lowered = {k.lower(): k for k in obj}
    row: dict = {}
    keys: dict[str, str] = {}
    for name in select:
        name = _ps_string(name)
        key = lowered.get(name.lower())
        value = convert_value(obj[key]) if key is not None else None
        # [ordered]@{} keys are case-insensitive: a repeated name overwrites the first spelling's slot.
        slot = keys.setdefault(name.lower(), name)
        row[slot] = value
    return row


def convert_value(value):
    """ConvertTo-SrhValue: enums are already names; datetimes, timespans, lists converted like RUNNER."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, datetime.datetime):
        utc = value.astimezone(datetime.timezone.utc)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + "{0:03d}Z".format(utc.microsecond // 1000)
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (list, tuple)):
        return [convert_value(v) for v in value]
    if isinstance(value, dict):
        raise TypeError("a handler returned a nested dict; model it as an object with a string form")
    return str(value)


def _number(value) -> str:
    """JavaScriptSerializer renders an integral double without a fraction (300.0 -> 300)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def to_json(value) -> str:
    """ConvertTo-Json -Compress as Windows PowerShell 5.1 prints it (HTML-sensitive characters escaped)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        for char, escape in _HTML_ESCAPES.items():
            text = text.replace(char, escape)
        return text
    if isinstance(value, dict):
        return "{" + ",".join(to_json(str(k)) + ":" + to_json(v) for k, v in value.items()) + "}"
    return "[" + ",".join(to_json(v) for v in value) + "]"
