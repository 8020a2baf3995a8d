# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import base64
import json
import re

import pytest
import tree_sitter
import tree_sitter_powershell

from ansible_collections.site_recovery.hyperv.plugins.plugin_utils import _runner
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._runner import (
    BOOTSTRAP,
    RUNNER,
    RunnerCall,
    RunnerError,
    RunnerProtocolError,
    build_stdin,
    parse_output,
)


def _parse(source):
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    return parser.parse(source.encode("utf-8"))


def _errors(node, found=None):
    found = [] if found is None else found
    if node.type == "ERROR" or node.is_missing:
        found.append((node.start_point, node.text[:60]))
    for child in node.children:
        _errors(child, found)
    return found


@pytest.mark.parametrize("name", ["BOOTSTRAP", "RUNNER"])
def test_powershell_parses_without_syntax_errors(name):
    tree = _parse(getattr(_runner, name))
    assert _errors(tree.root_node) == []


def test_syntax_check_catches_a_broken_script():
    # The check above must be able to fail: an unclosed block is reported.
    assert _errors(_parse(RUNNER.replace("foreach ($call in $payload.calls) {", "foreach ($call in $payload.calls) {{", 1)).root_node)


@pytest.mark.parametrize("construct, pattern", [
    ("-AsHashtable (PowerShell 6+)", r"-AsHashtable"),
    ("null-coalescing ?? (PowerShell 7)", r"\?\?"),
    ("ternary ? : (PowerShell 7)", r"\)\s*\?\s*\S+\s*:"),
    ("::new() (PowerShell 5.0+, not in older 5.1 constrained hosts)", r"::new\("),
    ("pipeline chain && / || (PowerShell 7)", r"&&|\|\|"),
])
def test_runner_stays_windows_powershell_51(construct, pattern):
    for source in (BOOTSTRAP, RUNNER):
        assert not re.search(pattern, source), construct


def test_bootstrap_fits_the_command_line_budget():
    # cmd.exe rejects lines over 8191 characters; Ansible's winrm plugin sends
    # "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand <b64>".
    encoded = base64.b64encode(BOOTSTRAP.encode("utf-16-le")).decode()
    command_line = "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand " + encoded
    assert len(command_line) < 8191
    assert BOOTSTRAP.startswith("<# site_recovery.hyperv bootstrap 1 #>")


def test_stdin_layout():
    data = build_stdin([RunnerCall("Get-VM", {"Name": ["a"]}, ["Name"]), RunnerCall("Get-VMHost", None, ["Name"])]).decode("utf-8")
    source, payload = data.split("\n" + "\0\0\0\0" + "\n")
    assert source.splitlines()[0] == "# site_recovery.hyperv runner 1"
    assert source == RUNNER
    doc = json.loads(payload)
    assert doc == {"v": 1, "calls": [
        {"cmdlet": "Get-VM", "params": {"Name": ["a"]}, "select": ["Name"]},
        {"cmdlet": "Get-VMHost", "params": {}, "select": ["Name"]},
    ]}
    # The payload is one line: the bootstrap concatenates the lines after the separator.
    assert payload.count("\n") == 1


def test_parse_output_results():
    out = '{"v":1,"results":[[{"Name":"a"}],[],{"Name":"h"}],"error":null}\r\n'
    assert parse_output("hv1", 0, out, "") == [[{"Name": "a"}], [], [{"Name": "h"}]]


def test_parse_output_error_carries_powershell_facts():
    out = json.dumps({"v": 1, "results": [[]], "error": {
        "index": 1, "cmdlet": "Get-VM", "message": 'Hyper-V was unable to find a virtual machine with name "x".',
        "fqid": "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM", "category": "InvalidArgument", "target": "x"}})
    with pytest.raises(RunnerError) as info:
        parse_output("hv1", 1, out, "")
    err = info.value
    assert (err.host, err.cmdlet, err.fqid, err.category, err.target, err.index) == (
        "hv1", "Get-VM", "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM", "InvalidArgument", "x", 1)
    assert "Get-VM failed on hv1" in str(err)
    assert err.to_result()["fully_qualified_error_id"] == err.fqid


@pytest.mark.parametrize("stdout, stderr, expect", [
    ("", "The command line is too long.", "The command line is too long."),
    ("hello\r\n", "", "hello"),
    ('{"v":2,"results":[]}', "", "rc=0"),
])
def test_parse_output_rejects_anything_but_the_runner_document(stdout, stderr, expect):
    with pytest.raises(RunnerProtocolError) as info:
        parse_output("hv1", 0, stdout, stderr)
    assert expect in str(info.value)
    assert "hv1" in str(info.value)
