# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one PowerShell program of the collection, and how a batch of cmdlet calls travels to it.

PRIVATE to the collection: no compatibility promise.

A command line on Windows is capped (cmd.exe rejects lines over 8191 characters, about 3,000
characters of script once encoded), so the command line carries only BOOTSTRAP. Standard input
carries RUNNER, a line of four NUL characters, and the JSON payload. See docs/runner-protocol.md.
"""

from __future__ import annotations

import json

PROTOCOL_VERSION = 1

# Reads stdin as lines (like Ansible's own bootstrap_wrapper.ps1): runner source up to the NUL
# separator line, then the payload; runs the runner with the payload as its only argument.
BOOTSTRAP = (
    "<# site_recovery.hyperv bootstrap 1 #>"
    "$ErrorActionPreference='Stop';$r=New-Object Text.StringBuilder;$p=$null;"
    "foreach($l in $input){if($null -ne $p){$p+=$l}elseif($l -eq \"`0`0`0`0\"){$p=''}"
    "else{[void]$r.AppendLine($l)}};"
    "&([ScriptBlock]::Create($r.ToString())) $p"
)

# Windows PowerShell 5.1: no -AsHashtable, no ?? or ?:, no ::new() on older builds.
RUNNER = r"""# site_recovery.hyperv runner 1
param([string]$PayloadJson)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

function ConvertTo-SrhValue($Value) {
    if ($null -eq $Value) { return $null }
    if ($Value -is [string] -or $Value -is [bool]) { return $Value }
    if ($Value -is [enum]) { return $Value.ToString() }
    if ($Value -is [datetime]) { return $Value.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ss.fffZ') }
    if ($Value -is [timespan]) { return $Value.TotalSeconds }
    if ($Value -is [guid]) { return $Value.ToString() }
    if ($Value -is [ValueType]) { return $Value }
    if ($Value -is [System.Collections.IEnumerable]) {
        $list = New-Object System.Collections.ArrayList
        foreach ($item in $Value) { [void]$list.Add((ConvertTo-SrhValue $item)) }
        return ,$list
    }
    return $Value.ToString()
}

function ConvertTo-SrhParam($Value) {
    if ($Value -is [System.Management.Automation.PSCustomObject]) {
        $ref = $Value.PSObject.Properties['$call']
        if ($null -ne $ref) {
            # An object that an earlier call of the batch returned (a VMSnapshot, a VMM server connection, ...).
            $found = $raw[[int]$ref.Value]
            if ($found.Count -eq 1) { return $found[0] }
            return ,$found.ToArray()
        }
        $table = @{}
        foreach ($prop in $Value.PSObject.Properties) { $table[$prop.Name] = ConvertTo-SrhParam $prop.Value }
        return $table
    }
    if ($Value -is [object[]]) { return ,[object[]]@($Value | ForEach-Object { ConvertTo-SrhParam $_ }) }
    return $Value
}

$payload = ConvertFrom-Json -InputObject $PayloadJson
$results = New-Object System.Collections.ArrayList
$raw = New-Object System.Collections.ArrayList
$failure = $null
$index = 0
foreach ($call in $payload.calls) {
    $splat = @{}
    if ($null -ne $call.params) {
        foreach ($prop in $call.params.PSObject.Properties) { $splat[$prop.Name] = ConvertTo-SrhParam $prop.Value }
    }
    try {
        $objects = New-Object System.Collections.ArrayList
        $kept = New-Object System.Collections.ArrayList
        foreach ($obj in @(& $call.cmdlet @splat)) {
            if ($null -eq $obj) { continue }
            [void]$kept.Add($obj)
            $row = [ordered]@{}
            foreach ($name in $call.select) {
                $prop = $obj.PSObject.Properties[$name]
                if ($null -eq $prop) { $row[$name] = $null } else { $row[$name] = ConvertTo-SrhValue $prop.Value }
            }
            [void]$objects.Add($row)
        }
        [void]$results.Add($objects)
        [void]$raw.Add($kept)
    }
    catch {
        $record = $_
        $target = $null
        if ($null -ne $record.TargetObject) { $target = $record.TargetObject.ToString() }
        $failure = [ordered]@{
            index = $index
            cmdlet = [string]$call.cmdlet
            message = $record.Exception.Message
            fqid = $record.FullyQualifiedErrorId
            category = $record.CategoryInfo.Category.ToString()
            target = $target
        }
        break
    }
    $index++
}
$doc = [ordered]@{ v = 1; now = [DateTime]::UtcNow.ToString('o'); results = $results; error = $failure }
[Console]::Out.WriteLine((ConvertTo-Json -InputObject $doc -Depth 8 -Compress))
if ($null -ne $failure) { exit 1 }
"""

STDIN_SEPARATOR = "\0\0\0\0"


def call_ref(index):
    """A parameter value that stands for the objects call ``index`` of the same batch returned."""
    return {"$call": index}


class RunnerCall:
    """One cmdlet call of a batch: splatted parameters, and the properties to bring back."""

    __slots__ = ("cmdlet", "params", "select")

    def __init__(self, cmdlet, params=None, select=None):
        self.cmdlet = cmdlet
        self.params = dict(params or {})
        self.select = list(select or [])

    def to_json(self):
        return {"cmdlet": self.cmdlet, "params": self.params, "select": self.select}


def build_stdin(calls):
    """The bytes that go on the runner's standard input for a batch of RunnerCall."""
    payload = json.dumps({"v": PROTOCOL_VERSION, "calls": [c.to_json() for c in calls]}, separators=(",", ":"))
    return (RUNNER + "\n" + STDIN_SEPARATOR + "\n" + payload + "\n").encode("utf-8")


class RunnerError(Exception):
    """A cmdlet of the batch failed on the Windows host: PowerShell's own account of it."""

    def __init__(self, host, cmdlet, message, fqid=None, category=None, target=None, index=None):
        super(RunnerError, self).__init__(message)
        self.host = host
        self.cmdlet = cmdlet
        self.message = message
        self.fqid = fqid
        self.category = category
        self.target = target
        self.index = index

    def to_result(self):
        return {
            "cmdlet": self.cmdlet,
            "fully_qualified_error_id": self.fqid,
            "category": self.category,
            "target": self.target,
            "message": self.message,
        }

    def __str__(self):
        return "%s failed on %s: %s [%s]" % (self.cmdlet, self.host, self.message, self.fqid or self.category or "error")


class RunnerProtocolError(Exception):
    """The host answered, but not with the runner's JSON document (wrong shell, truncated output, ...)."""


def parse_output(host, rc, stdout, stderr_text, meta=None):
    """Turn the runner's stdout into the list of per-call results, or raise RunnerError.

    ``meta``, a dict, receives ``host_time``: the host's UTC clock when the batch ended (ISO-8601), so that ages such as
    replication lag are measured on the host's clock, not the controller's."""
    doc = None
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            break
    if not isinstance(doc, dict) or doc.get("v") != PROTOCOL_VERSION or "results" not in doc:
        detail = stderr_text.strip() or stdout.strip() or "no output"
        raise RunnerProtocolError(
            "%s did not return the runner's result (rc=%s): %s. Is it a Windows host with Windows PowerShell 5.1 "
            "reached with ansible_connection=winrm?" % (host, rc, detail[:2000])
        )
    if meta is not None:
        meta["host_time"] = doc.get("now")
    error = doc.get("error")
    if error:
        raise RunnerError(
            host,
            error.get("cmdlet"),
            error.get("message") or "unknown error",
            fqid=error.get("fqid"),
            category=error.get("category"),
            target=error.get("target"),
            index=error.get("index"),
        )
    results = doc["results"]
    # ConvertTo-Json on Windows PowerShell 5.1 serialises a one-element ArrayList nested in a
    # hashtable as that element: normalise so every call yields a list of objects.
    return [r if isinstance(r, list) else ([] if r is None else [r]) for r in results]
