# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""validate-modules cannot see the argument spec of a docs-only module backed by an action plugin,
so this test holds each action plugin's argument_spec to the module's DOCUMENTATION."""

from __future__ import annotations

import importlib
import os

import pytest
import yaml

PLUGINS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins")
ACTIONS = sorted(f[:-3] for f in os.listdir(os.path.join(PLUGINS, "action")) if f.endswith(".py") and not f.startswith("_"))


def _doc_options(name):
    module = importlib.import_module("ansible_collections.site_recovery.hyperv.plugins.modules." + name)
    return yaml.safe_load(module.DOCUMENTATION).get("options") or {}


def _compare(spec, doc, path):
    assert sorted(spec) == sorted(doc), "%s: options differ between argument_spec and DOCUMENTATION" % path
    for key, opt in spec.items():
        d = doc[key]
        where = "%s.%s" % (path, key)
        assert opt.get("type", "str") == d.get("type", "str"), where
        assert opt.get("elements") == d.get("elements"), where
        assert opt.get("default") == d.get("default"), where
        assert bool(opt.get("required")) == bool(d.get("required")), where
        assert sorted(opt.get("aliases") or []) == sorted(d.get("aliases") or []), where
        assert opt.get("choices") == d.get("choices"), where
        assert bool(opt.get("no_log")) == bool(d.get("no_log")) or not opt.get("no_log"), where
        if opt.get("options") or d.get("suboptions"):
            _compare(opt.get("options") or {}, d.get("suboptions") or {}, where)


def test_there_are_action_plugins():
    assert "vm_replication_info" in ACTIONS


@pytest.mark.parametrize("name", ACTIONS)
def test_action_argument_spec_matches_documentation(name):
    action = importlib.import_module("ansible_collections.site_recovery.hyperv.plugins.action." + name)
    _compare(action.ActionModule.argument_spec, _doc_options(name), name)
