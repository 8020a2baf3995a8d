# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared harness for the action plugin unit tests: an ActionModule on a mocked connection that answers as the runner does."""

from __future__ import annotations

import json
from unittest.mock import MagicMock

from ansible.playbook.play_context import PlayContext

# What a WinRM connection's get_option() answers for an NTLM-over-HTTP host.
NTLM_HTTP = {"transport": ["ntlm"], "scheme": "http"}
# build_stdin() puts this line between the runner's source and the JSON payload.
PAYLOAD_SEPARATOR = "\0\0\0\0\n"


def make_action(action_class, args, replies, check_mode=False, diff=False, transport="winrm", connection_options=None, task_action=None):
    """Build an action_class task on a mocked connection; return (action, connection).

    replies is connection.exec_command's side effect: the runner_reply() tuples in call order, an exception
    to raise, or a callable(cmd, in_data) standing in for the host. connection_options, when given, are what
    connection.get_option(name) answers. task_action defaults to site_recovery.hyperv.<plugin module name>.
    """
    task = MagicMock()
    task.args = args
    task.action = task_action or "site_recovery.hyperv." + action_class.__module__.rsplit(".", 1)[-1]
    task.async_val = 0
    task.check_mode = check_mode
    task.diff = diff
    connection = MagicMock()
    connection.transport = transport
    connection._shell.tmpdir = None
    if connection_options is not None:
        connection.get_option.side_effect = lambda name: connection_options[name]
    connection.exec_command.side_effect = replies
    action = action_class(task, connection, PlayContext(), loader=MagicMock(), templar=MagicMock(), shared_loader_obj=MagicMock())
    return action, connection


def runner_reply(results, error=None, now=None):
    """exec_command's (rc, stdout, stderr) for a runner that returned results (one list per call), or stopped on error;
    ``now`` is the host clock the runner reports (omitted, as an older runner would, when None)."""
    doc = {"v": 1, "results": list(results), "error": error}
    if now is not None:
        doc["now"] = now
    return (1 if error else 0, json.dumps(doc).encode() + b"\r\n", b"")


def payload_calls(in_data):
    """The calls of a runner payload (the stdin that build_stdin() wrote)."""
    return json.loads(in_data.decode().split(PAYLOAD_SEPARATOR)[1])["calls"]


def sent_calls(connection, n=None):
    """The calls sent with the n-th exec_command (negative counts from the last); every batch, in order, when n is None."""
    if n is None:
        return [payload_calls(c.kwargs["in_data"]) for c in connection.exec_command.call_args_list]
    return payload_calls(connection.exec_command.call_args_list[n].kwargs["in_data"])
