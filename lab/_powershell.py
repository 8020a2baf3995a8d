"""What a simulated Windows host hands back for one command line: PowerShell's view of the outcome.

Shared by the WinRM endpoint (which renders it onto the wire: stdout in the shell's code page,
error records as CLIXML on stderr) and the world (which decides what a command does).
"""

from __future__ import annotations

import dataclasses
import threading


NOT_RECOGNIZED = (
    "The term '{name}' is not recognized as the name of a cmdlet, function, script file, or "
    "operable program. Check the spelling of the name, or if a path was included, verify that "
    "the path is correct and try again."
)


@dataclasses.dataclass
class ErrorRecord:
    """A PowerShell ErrorRecord as powershell.exe renders it in NormalView (see winrm-emulation.md §3.3)."""

    message: str
    fqid: str  # FullyQualifiedErrorId, e.g. "CommandNotFoundException"
    category: str  # ErrorCategory name, e.g. "ObjectNotFound"
    reason: str  # CategoryInfo reason, usually the exception type name, e.g. "CommandNotFoundException"
    target: str = ""  # CategoryInfo target text
    target_type: str = "String"
    command: str = ""  # cmdlet name that wrote it; rendered as "<command> : <message>"
    script_line: str = ""  # the source line shown under "At line:1 char:N"
    char: int = 1


@dataclasses.dataclass
class CommandResult:
    stdout: str = ""
    errors: list[ErrorRecord] = dataclasses.field(default_factory=list)
    rc: int = 0
    # Plain (non-CLIXML) stderr text, e.g. cmd.exe's "The command line is too long."
    raw_stderr: str = ""


def not_recognized(name: str, script_line: str = "", char: int = 1) -> ErrorRecord:
    return ErrorRecord(
        message=NOT_RECOGNIZED.format(name=name),
        fqid="CommandNotFoundException",
        category="ObjectNotFound",
        reason="CommandNotFoundException",
        target=name,
        script_line=script_line or name,
        char=char,
    )


class StdinReader:
    """The command's stdin as the client sends it with WinRS Send; read_all() blocks until End=true."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._done = threading.Event()

    def feed(self, data: bytes, end: bool) -> None:
        self._chunks.append(data)
        if end:
            self._done.set()

    def close(self) -> None:
        self._done.set()

    def read_all(self, timeout: float | None = None) -> bytes:
        """Everything the client sent; b'' if it sends nothing before timeout (no console stdin)."""
        self._done.wait(timeout)
        return b"".join(self._chunks)
