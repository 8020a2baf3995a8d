"""Objects handlers return: their .NET properties plus the type name and string form PowerShell sees.

The runner passes such raw objects between calls of a batch ({"$call": N}, docs/runner-protocol.md);
the binder then checks the object's type against the parameter's, as PowerShell does.
"""

from __future__ import annotations

from lab.cmdlets import contract
from lab.cmdlets.contract import _dotnet

HYPERV = "Microsoft.HyperV.PowerShell."


class PSObject(dict):
    """A dict of properties that also knows its .NET type name and its ToString()."""

    def __init__(self, type_name: str, props: dict, text: str | None = None) -> None:
        super().__init__(props)
        self.type_name = type_name
        self.text = text if text is not None else type_name

    def __str__(self) -> str:
        return self.text


def type_name(value) -> str:
    """The .NET type PowerShell would report for a value a handler returned."""
    if isinstance(value, PSObject):
        return value.type_name
    if isinstance(value, dict):
        return "System.Management.Automation.PSCustomObject"
    if isinstance(value, str):
        return "System.String"
    return "System.Object"


def hyperv(kind: str, props: dict, name_key: str = "Name", id_key: str = "Id") -> PSObject:
    # INFERRED string form, shaped like the Hyper-V module's "VirtualMachine (Name = 'x') [Id = '...']".
    text = "{0} (Name = '{1}') [Id = '{2}']".format(kind, props.get(name_key), props.get(id_key))
    return PSObject(HYPERV + kind, props, text)


def holds_object(value) -> bool:
    if isinstance(value, list):
        return any(isinstance(v, PSObject) for v in value)
    return isinstance(value, PSObject)


def bind_call(cmdlet: str, params: dict):
    """contract.bind, extended to raw objects (PSObject) that {"$call": N} references put into params.

    An object binds to a parameter of its own type, to a String parameter through ToString(), and fails
    on any other type with PowerShell's conversion error.
    """
    return contract.bind(cmdlet, params, _convert_argument)


def _convert_argument(binder, pname: str, meta: dict, value, module: str):
    if holds_object(value):
        return _convert_object(binder, pname, meta, value, module)
    return contract.convert(binder, pname, meta, value, module)


def _convert_object(binder, pname: str, meta: dict, value, module: str):
    ptype = meta["type"]
    if ptype.rstrip("[]") in ("PSObject", "Object"):
        return value
    element = ptype[:-2] if ptype.endswith("[]") else ptype
    target = _dotnet(element, module)

    def one(item):
        if not isinstance(item, PSObject):
            return contract.convert(binder, pname, dict(meta, type=element), item, module)
        if element == "String":
            return str(item)  # LanguagePrimitives converts an object to a string through ToString()
        if item.type_name == target:
            return item
        raise binder.fail("Cannot bind parameter '{0}'. Cannot convert the \"{1}\" value of type \"{2}\" to type \"{3}\"."
                          .format(pname, item, item.type_name, target), "CannotConvertArgumentNoMessage")
    if ptype.endswith("[]"):
        return [one(item) for item in (value if isinstance(value, list) else [value])]
    if isinstance(value, list):
        if len(value) == 1:
            return one(value[0])
        return contract.convert(binder, pname, meta, value, module)  # "Cannot convert 'System.Object[]' ..."
    return one(value)
