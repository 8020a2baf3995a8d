# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: results_json
type: aggregate
short_description: Test helper that writes every task result to a JSON file
description:
  - Used by the collection's integration tests to assert on module results, not on console text.
  - The file named by E(SRH_RESULTS_FILE) receives a list of C({task, host, status, result}) records.
options: {}
"""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "results_json"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.records = []

    def _add(self, status, result):
        self.records.append({
            "task": result.task_name,
            "host": result._host.get_name(),
            "status": status,
            "result": result._result,
        })

    def v2_runner_on_ok(self, result):
        self._add("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._add("failed", result)

    def v2_runner_on_unreachable(self, result):
        self._add("unreachable", result)

    def v2_runner_on_skipped(self, result):
        self._add("skipped", result)

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("SRH_RESULTS_FILE")
        if path:
            with open(path, "w", encoding="utf-8") as f:
                json.dump(self.records, f, default=str)
