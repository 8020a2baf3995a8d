# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._sqlag import CONNECTION_SPEC, AGActionMixin
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._windows_action import WindowsActionBase


class ActionModule(AGActionMixin, WindowsActionBase):

    argument_spec = dict(CONNECTION_SPEC, name={"type": "str"})

    def run_module(self, args):
        groups = self.read_groups(args)
        if args["name"]:
            view, problem = self.find_group(args, groups)
            if problem:
                return {"failed": True, "changed": False, "msg": problem, "availability_groups": []}
            found = [view]
        else:
            found = [groups[key] for key in sorted(groups)]
        return {"changed": False, "availability_groups": found, "host_time": self.host_time,
                "sql_instance": args["sql_instance"]}
