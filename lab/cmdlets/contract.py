"""PowerShell's parameter binder, applied to the documented contract of each cmdlet (contracts.json).

Every rule cites its source: parameter sets, types, mandatory flags, aliases and accepted values come
from the cmdlet's doc (doc_path in contracts.json); the binding algorithm and message texts are those
of Windows PowerShell 5.1 (ParameterBinderStrings), checked against real transcripts where one was found.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import os
import re
import uuid

from lab._powershell import not_recognized
from lab.cmdlets.errors import BindingError, record

_CONTRACTS = os.path.join(os.path.dirname(__file__), "contracts.json")

# Windows PowerShell 5.1 common parameters (about_CommonParameters) and their aliases.
COMMON = {
    "Verbose": ("SwitchParameter", ["vb"]),
    "Debug": ("SwitchParameter", ["db"]),
    "ErrorAction": ("ActionPreference", ["ea"]),
    "WarningAction": ("ActionPreference", ["wa"]),
    "InformationAction": ("ActionPreference", ["infa"]),
    "ErrorVariable": ("String", ["ev"]),
    "WarningVariable": ("String", ["wv"]),
    "InformationVariable": ("String", ["iv"]),
    "OutVariable": ("String", ["ov"]),
    "OutBuffer": ("Int32", ["ob"]),
    "PipelineVariable": ("String", ["pv"]),
}
SHOULD_PROCESS = {"WhatIf": ("SwitchParameter", ["wi"]), "Confirm": ("SwitchParameter", ["cf"])}
ACTION_PREFERENCE = ["SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend"]

# .NET names used in conversion messages.
_DOTNET = {
    "String": "System.String", "Int32": "System.Int32", "Int64": "System.Int64", "UInt32": "System.UInt32",
    "UInt64": "System.UInt64", "Boolean": "System.Boolean", "SwitchParameter": "System.Management.Automation.SwitchParameter",
    "DateTime": "System.DateTime", "Guid": "System.Guid", "TimeSpan": "System.TimeSpan",
    "CimSession": "Microsoft.Management.Infrastructure.CimSession", "PSCredential": "System.Management.Automation.PSCredential",
    "Hashtable": "System.Collections.Hashtable", "ActionPreference": "System.Management.Automation.ActionPreference",
}
_MODULE_NS = {"Hyper-V": "Microsoft.HyperV.PowerShell", "FailoverClusters": "Microsoft.FailoverClusters.PowerShell",
              "VirtualMachineManager": "Microsoft.SystemCenter.VirtualMachineManager",
              "SqlServer": "Microsoft.SqlServer.Management.Smo"}  # INFERRED for VMM/SqlServer object types
_INT_RANGE = {"Int32": (-2**31, 2**31 - 1), "Int64": (-2**63, 2**63 - 1), "UInt32": (0, 2**32 - 1), "UInt64": (0, 2**64 - 1)}


@dataclasses.dataclass
class Bound:
    parameter_set: str
    params: dict
    common: dict = dataclasses.field(default_factory=dict)
    cmdlet: str = ""
    command_type: str = ""


@functools.lru_cache(maxsize=1)
def contracts() -> dict:
    with open(_CONTRACTS, encoding="utf-8") as fh:
        return json.load(fh)["cmdlets"]


def lookup(cmdlet: str) -> tuple[str, dict] | None:
    """Command names resolve case-insensitively, as in PowerShell."""
    for name, spec in contracts().items():
        if name.lower() == cmdlet.lower():
            return name, spec
    return None


def command_type(cmdlet: str) -> str:
    found = lookup(cmdlet)
    return found[1]["command_type"] if found else ""


class _Binder:
    def __init__(self, name: str, spec: dict) -> None:
        self.name = name
        self.spec = spec
        self.ctype = spec["command_type"]
        # Canonical parameter -> merged metadata (type/aliases/accepted values are the same in every set).
        self.params: dict[str, dict] = {}
        for params in spec["parameter_sets"].values():
            for pname, meta in params.items():
                self.params.setdefault(pname, meta)
        self.common: dict[str, dict] = {}
        if spec["common_parameters"]:
            extra = dict(COMMON)
            if spec["supports_should_process"]:
                extra.update(SHOULD_PROCESS)
            for pname, (ptype, aliases) in extra.items():
                if pname not in self.params:
                    self.common[pname] = {"type": ptype, "aliases": aliases}

    def fail(self, message: str, fqid: str, category: str = "InvalidArgument",
             reason: str = "ParameterBindingException") -> BindingError:
        return BindingError(record(message, fqid + "," + self.ctype, category, reason, command=self.name))

    def resolve_name(self, given: str) -> str:
        """Exact name or alias first, then unambiguous prefix (ParameterBinderController semantics)."""
        low = given.lower()
        names = list(self.params.items()) + list(self.common.items())
        for pname, meta in names:
            if low == pname.lower() or low in (a.lower() for a in meta.get("aliases", [])):
                return pname
        matches = []
        for pname, meta in names:
            if pname.lower().startswith(low) or any(a.lower().startswith(low) for a in meta.get("aliases", [])):
                matches.append(pname)
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise self.fail("Parameter cannot be processed because the parameter name '{0}' is ambiguous. "
                            "Possible matches include: {1}.".format(given, " ".join("-" + m for m in matches)),
                            "AmbiguousParameter")
        raise self.fail("A parameter cannot be found that matches parameter name '{0}'.".format(given), "NamedParameterNotFound")

    def choose_set(self, given: set[str]) -> str:
        sets = self.spec["parameter_sets"]
        default = self.spec["default_parameter_set"]
        candidates = [s for s, params in sets.items() if given <= set(params)]
        if not candidates:
            raise self.fail("Parameter set cannot be resolved using the specified named parameters.", "AmbiguousParameterSet")
        satisfied = [s for s in candidates if self.missing(s, given) == []]
        if len(satisfied) == 1:
            return satisfied[0]
        if satisfied:
            if default in satisfied:
                return default
            raise self.fail("Parameter set cannot be resolved using the specified named parameters.", "AmbiguousParameterSet")
        # Nothing satisfied: PowerShell would prompt for the default (or only) set; -NonInteractive fails instead.
        target = default if default in candidates else (candidates[0] if len(candidates) == 1 else None)
        if target is None:
            raise self.fail("Parameter set cannot be resolved using the specified named parameters.", "AmbiguousParameterSet")
        raise self.fail("Cannot process command because of one or more missing mandatory parameters: {0}."
                        .format(" ".join(self.missing(target, given))), "MissingMandatoryParameter")

    def missing(self, set_name: str, given: set[str]) -> list[str]:
        return [p for p, meta in self.spec["parameter_sets"][set_name].items() if meta["mandatory"] and p not in given]

    def check_not_empty(self, pname: str, value) -> None:
        """Mandatory parameters refuse null, '' and @() (ParameterBinderBase.ValidateNullOrEmptyArgument)."""
        if value is None:
            raise self.fail("Cannot bind argument to parameter '{0}' because it is null.".format(pname),
                            "ParameterArgumentValidationErrorNullNotAllowed", "InvalidData", "ParameterBindingValidationException")
        if value == "" or (isinstance(value, list) and "" in value):
            raise self.fail("Cannot bind argument to parameter '{0}' because it is an empty string.".format(pname),
                            "ParameterArgumentValidationErrorEmptyStringNotAllowed", "InvalidData",
                            "ParameterBindingValidationException")
        if isinstance(value, list) and not value:
            raise self.fail("Cannot bind argument to parameter '{0}' because it is an empty array.".format(pname),
                            "ParameterArgumentValidationErrorEmptyArrayNotAllowed", "InvalidData",
                            "ParameterBindingValidationException")


def bind(cmdlet: str, params: dict, convert_argument=None) -> Bound:
    """Bind params to the cmdlet's contract as PowerShell does.

    convert_argument(binder, pname, meta, value, module), when given, converts each argument in place of
    convert: the hook through which objects.bind_call binds raw objects ({"$call": N} references).
    """
    convert_argument = convert_argument or convert
    found = lookup(cmdlet)
    if found is None:
        raise BindingError(not_recognized(cmdlet))
    name, spec = found
    binder = _Binder(name, spec)
    canonical: dict[str, object] = {}
    for given, value in params.items():
        pname = binder.resolve_name(given)
        if pname in canonical:
            raise binder.fail("Cannot bind parameter because parameter '{0}' is specified more than once. To provide multiple "
                              "values to parameters that can accept multiple values, use the array syntax. For example, "
                              "\"-parameter value1,value2,value3\".".format(pname), "ParameterAlreadyBound")
        canonical[pname] = value
    bound: dict[str, object] = {}
    common: dict[str, object] = {}
    for pname, value in canonical.items():
        meta = binder.params.get(pname) or binder.common[pname]
        converted = convert_argument(binder, pname, meta, value, spec["module"])
        (common if pname in binder.common else bound)[pname] = converted
    set_name = binder.choose_set(set(bound))
    for pname, meta in spec["parameter_sets"][set_name].items():
        if meta["mandatory"] and pname in bound:
            binder.check_not_empty(pname, bound[pname])
    return Bound(set_name, bound, common, name, binder.ctype)


def _type_name(value) -> str:
    if isinstance(value, bool):
        return "System.Boolean"
    if isinstance(value, int):
        return "System.Int32" if -2**31 <= value < 2**31 else "System.Int64"
    if isinstance(value, float):
        return "System.Decimal"  # INFERRED: Windows PowerShell 5.1 ConvertFrom-Json yields Decimal for JSON reals
    if isinstance(value, dict):
        return "System.Collections.Hashtable"
    if isinstance(value, list):
        return "System.Object[]"
    return "System.String"


def _text(value) -> str:
    """PowerShell's string form of a scalar, as shown inside conversion messages."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, dict):
        return "System.Collections.Hashtable"
    if isinstance(value, list):
        return "System.Object[]"
    return str(value)


def convert(binder: _Binder, pname: str, meta: dict, value, module: str):
    ptype = meta["type"]
    if value is None:
        return None
    if ptype == "StringCollection":
        # FailoverClusters' -Name (System.Collections.Specialized.StringCollection): PowerShell fills the collection
        # from one string or an array of strings, as for String[] (Get-ClusterNode node1,node2).
        return convert(binder, pname, dict(meta, type="String[]"), value, module)
    if ptype.endswith("[]"):
        element = dict(meta, type=ptype[:-2])
        items = value if isinstance(value, list) else [value]
        return [convert(binder, pname, element, item, module) for item in items]
    if isinstance(value, list) and ptype not in ("PSObject", "Object"):
        if len(value) == 1:
            return convert(binder, pname, meta, value[0], module)
        raise binder.fail("Cannot convert 'System.Object[]' to the type '{0}' required by parameter '{1}'. Specified method is "
                          "not supported.".format(_dotnet(ptype, module), pname), "CannotConvertArgument")
    return _scalar(binder, pname, meta, value, module)


def _dotnet(ptype: str, module: str) -> str:
    if ptype in _DOTNET:
        return _DOTNET[ptype]
    if "." in ptype:
        return ptype
    return _MODULE_NS.get(module, "System") + "." + ptype


def _cannot_convert(binder, pname, value, ptype, module, error: str) -> BindingError:
    return binder.fail("Cannot bind parameter '{0}'. Cannot convert value \"{1}\" to type \"{2}\". Error: \"{3}\""
                       .format(pname, _text(value), _dotnet(ptype, module), error), "CannotConvertArgumentNoMessage")


def _scalar(binder: _Binder, pname: str, meta: dict, value, module: str):
    ptype = meta["type"]
    if ptype in ("SwitchParameter", "Boolean"):
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return value != 0
        raise binder.fail("Cannot process argument transformation on parameter '{0}'. Cannot convert value \"{1}\" to type "
                          "\"{2}\". Boolean parameters accept only Boolean values and numbers, such as $True, $False, 1 or 0."
                          .format(pname, _type_name(value), _dotnet(ptype, module)),
                          "ParameterArgumentTransformationError", "InvalidData", "ParameterBindingArgumentTransformationException")
    if ptype in _INT_RANGE:
        return _integer(binder, pname, ptype, value, module)
    if ptype == "String":
        text = _text(value)
        allowed = meta.get("accepted_values")
        if allowed and text.lower() not in (a.lower() for a in allowed):
            raise binder.fail("Cannot validate argument on parameter '{0}'. The argument \"{1}\" does not belong to the set "
                              "\"{2}\" specified by the ValidateSet attribute. Supply an argument that is in the set and then "
                              "try the command again.".format(pname, text, ",".join(allowed)),
                              "ParameterArgumentValidationError", "InvalidData", "ParameterBindingValidationException")
        return text
    if ptype == "Guid":
        try:
            return str(uuid.UUID(str(value).strip().strip("{}")))
        except ValueError as exc:
            raise _cannot_convert(binder, pname, value, ptype, module,
                                  "Guid should contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).") from exc
    if ptype == "DateTime":
        return _datetime(binder, pname, value, module)
    if ptype == "TimeSpan":
        return _timespan(binder, pname, value, module)
    enum_names = meta.get("accepted_values") if meta.get("enum_type") else None
    if ptype == "ActionPreference":
        enum_names = ACTION_PREFERENCE
    if enum_names:
        return _enum(binder, pname, meta.get("enum_type") or _dotnet(ptype, module), enum_names, value)
    if ptype in ("PSObject", "Object") or (ptype == "Hashtable" and isinstance(value, dict)):
        return value
    raise binder.fail("Cannot bind parameter '{0}'. Cannot convert the \"{1}\" value of type \"{2}\" to type \"{3}\"."
                      .format(pname, _text(value), _type_name(value), _dotnet(ptype, module)), "CannotConvertArgumentNoMessage")


def _integer(binder, pname, ptype, value, module) -> int:
    if isinstance(value, bool):
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float):
        number = round(value)  # .NET Convert rounds half to even, as Python's round does
    elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*0x[0-9a-fA-F]+\s*", value):
        number = int(value, 16)
    else:
        raise _cannot_convert(binder, pname, value, ptype, module, "Input string was not in a correct format.")
    low, high = _INT_RANGE[ptype]
    if not low <= number <= high:
        raise _cannot_convert(binder, pname, value, ptype, module,
                              "Value was either too large or too small for {0} {1}.".format("an" if ptype.startswith(("I", "U")) else "a", ptype))
    return number


def _datetime(binder, pname, value, module) -> datetime.datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            # INFERRED: lab hosts run in UTC, so a time without offset is UTC.
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)
    raise _cannot_convert(binder, pname, value, "DateTime", module, "String was not recognized as a valid DateTime.")


def _timespan(binder, pname, value, module) -> datetime.timedelta:
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.timedelta(microseconds=value / 10)  # [TimeSpan]<number> is ticks (100 ns)
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(-)?(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?\s*", value)
        if match:
            sign, days, hours, minutes, seconds, frac = match.groups()
            span = datetime.timedelta(days=int(days or 0), hours=int(hours), minutes=int(minutes), seconds=int(seconds or 0),
                                      microseconds=int((frac or "0").ljust(7, "0")) / 10)
            return -span if sign else span
    raise _cannot_convert(binder, pname, value, "TimeSpan", module, "String was not recognized as a valid TimeSpan.")


def _enum(binder, pname, enum_type, names, value) -> str:
    if isinstance(value, str):
        for name in names:
            if name.lower() == value.strip().lower():
                return name
    raise binder.fail("Cannot bind parameter '{0}'. Cannot convert value \"{1}\" to type \"{2}\". Error: \"Unable to match the "
                      "identifier name {1} to a valid enumerator name. Specify one of the following enumerator names and try "
                      "again: {3}\"".format(pname, _text(value), enum_type, ", ".join(names)), "CannotConvertArgumentNoMessage")
