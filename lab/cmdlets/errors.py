"""PowerShell errors raised by the binder and the cmdlet handlers, as ErrorRecords."""

from __future__ import annotations

from lab._powershell import ErrorRecord


class CmdletError(Exception):
    """A PowerShell error from a cmdlet. terminating=False is a WriteError (ErrorAction can silence it)."""

    def __init__(self, record: ErrorRecord, terminating: bool = True) -> None:
        super().__init__(record.message)
        self.record = record
        self.terminating = terminating
        # Objects written before a non-terminating error, and further non-terminating errors of the same call.
        self.partial: list = []
        self.more: list = []


class BindingError(CmdletError):
    """ParameterBindingException: always terminating, raised before the cmdlet runs."""


def record(message: str, fqid: str, category: str, reason: str, target: str = "", command: str = "") -> ErrorRecord:
    return ErrorRecord(message=message, fqid=fqid, category=category, reason=reason, target=target, command=command)


def not_modelled(cmdlet: str, command_type: str, what: str = "") -> CmdletError:
    """A cmdlet (or a way of calling it) the lab has no model for: fail loudly, never pretend."""
    subject = cmdlet + (" " + what if what else "")
    return CmdletError(record("The DR lab does not model {0} yet.".format(subject), "LabNotModelled," + command_type,
                              "NotImplemented", "NotImplementedException", command=cmdlet))
