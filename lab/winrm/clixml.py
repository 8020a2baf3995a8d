"""powershell.exe's stderr under WinRS: CLIXML records (winrm-emulation.md §3.3).

With -EncodedCommand, a redirected stderr and no -OutputFormat, ConsoleHost serialises error records as one
<S S="Error"> per rendered line; warnings/verbose/debug as <S S="warning"> etc., progress as <Obj S="progress">.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

from lab._powershell import ErrorRecord

HEADER = "#< CLIXML\r\n"
_OBJS = '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
# An underscore that would read as the start of an _xHHHH_ escape is itself escaped (MS-PSRP 2.2.5.3.2).
_LOOKS_ESCAPED = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)")


def encode_string(text: str) -> str:
    """PowerShell's CLIXML string encoding, then XML escaping (§3.3)."""
    text = _LOOKS_ESCAPED.sub("_x005F_", text)
    out = []
    for ch in text:
        code = ord(ch)
        if code < 0x20 or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF):
            out.append(f"_x{code:04X}_")
        elif code > 0xFFFF:
            # Outside the BMP: two escaped UTF-16 code units, as .NET strings hold a surrogate pair.
            hi, lo = divmod(code - 0x10000, 0x400)
            out.append(f"_x{0xD800 + hi:04X}__x{0xDC00 + lo:04X}_")
        else:
            out.append(ch)
    return escape("".join(out))


def _wrap(line: str, width: int | None) -> list[str]:
    # The hidden console wraps long lines hard at its buffer width (§3.3: captures show 80 and ~120 columns).
    if not width or len(line) <= width:
        return [line]
    return [line[i:i + width] for i in range(0, len(line), width)]


def error_lines(rec: ErrorRecord) -> list[str]:
    """PowerShell 5.1 NormalView text of one error record (§3.3)."""
    prefix = rec.command
    if not prefix and rec.fqid == "CommandNotFoundException" and rec.target:
        prefix = rec.target  # "Get-X : The term 'Get-X' is not recognized ..."
    lines = [f"{prefix} : {rec.message}" if prefix else rec.message]
    if rec.script_line:
        char = max(rec.char, 1)
        rest = rec.script_line[char - 1:]
        # The extent is the unknown command's name, or the statement from char to the end of the line.
        extent = len(rec.target) if rec.fqid == "CommandNotFoundException" and rec.target and rest.startswith(rec.target) else len(rest)
        lines += [f"At line:1 char:{char}", f"+ {rec.script_line}", "+ " + " " * (char - 1) + "~" * max(extent, 1)]
    lines += [
        f"    + CategoryInfo          : {rec.category}: ({rec.target}:{rec.target_type if rec.target else ''}) [{rec.command}], {rec.reason}",
        f"    + FullyQualifiedErrorId : {rec.fqid}",
        " ",
    ]
    return lines


def render_errors(records: list[ErrorRecord], width: int | None = None, progress: bool = False) -> str:
    """The stderr text: '#< CLIXML\\r\\n<Objs ...>...</Objs>', or '' when there is nothing to write.

    progress puts the first-use progress record first, in the same document, as one powershell.exe run does."""
    if not records and not progress:
        return ""
    parts = [_progress_obj()] if progress else []
    parts += [
        f'<S S="Error">{encode_string(piece + chr(13) + chr(10))}</S>'
        for rec in records for line in error_lines(rec) for piece in _wrap(line, width)
    ]
    return HEADER + _OBJS + "".join(parts) + "</Objs>"


def render_stream(stream: str, text: str) -> str:
    """A Write-Warning/Write-Verbose/Write-Debug record (stream = 'warning', 'verbose' or 'debug')."""
    return HEADER + _OBJS + f'<S S="{stream}">{encode_string(text + chr(13) + chr(10))}</S></Objs>'


def _progress_obj(activity: str = "Preparing modules for first use.", status: str = " ") -> str:
    return (
        '<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN><MS>'
        f'<I64 N="SourceId">1</I64><PR N="Record"><AV>{encode_string(activity)}</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC>'
        f"<T>Completed</T><SR>-1</SR><SD>{encode_string(status)}</SD></PR></MS></Obj>"
    )


def render_progress(activity: str = "Preparing modules for first use.", status: str = " ") -> str:
    """The progress record a first PowerShell run often emits; only <Obj>, no <S> (§3.3, §8)."""
    return HEADER + _OBJS + _progress_obj(activity, status) + "</Objs>"
