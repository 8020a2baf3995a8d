"""What WinRS does with a Command's command line before anything runs (winrm-emulation.md §3.1).

Unless WINRS_SKIP_CMD_SHELL=TRUE the line goes through cmd.exe (8191-character limit, its own "not recognized"
message). powershell.exe takes the script from -EncodedCommand (UTF-16-LE base64), from -Command <text>, or from
stdin with -Command - (or with no command at all).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses

CMD_MAX = 8191
TOO_LONG = "The command line is too long.\r\n"
CMD_NOT_RECOGNIZED = "'{name}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
BAD_ENCODING = (
    "Cannot process the command because the value specified with -EncodedCommand is not properly encoded. "
    "The value must be Base64 encoded.\r\n"
)
# powershell.exe switches that consume the next token; the rest take none.
_WITH_VALUE = ("executionpolicy", "outputformat", "inputformat", "windowstyle", "version", "psconsolefile",
               "configurationname", "encodedarguments", "settingsfile", "workingdirectory")
_FLAGS = ("noprofile", "noninteractive", "nologo", "noexit", "sta", "mta")


@dataclasses.dataclass
class PowerShell:
    script: str | None  # None: the script is the command's stdin
    encoded: bool  # -EncodedCommand: errors go to stderr as CLIXML (§3.3)


@dataclasses.dataclass
class Immediate:
    """Answered without running anything: cmd.exe errors and trivial programs."""

    stdout: str = ""
    stderr: str = ""
    rc: int = 0


@dataclasses.dataclass
class NotFound:
    """WINRS_SKIP_CMD_SHELL=TRUE and no such program: CreateProcess fails, WinRS answers a fault."""

    program: str


def tokenize(line: str) -> list[str]:
    """Split like CommandLineToArgvW for the simple cases clients produce: whitespace, double quotes."""
    tokens: list[str] = []
    cur: list[str] = []
    quoted = in_token = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
            in_token = True
        elif ch in " \t" and not quoted:
            if in_token:
                tokens.append("".join(cur))
                cur, in_token = [], False
        else:
            cur.append(ch)
            in_token = True
    if in_token:
        tokens.append("".join(cur))
    return tokens


def _program(token: str) -> str:
    name = token.replace("/", "\\").rsplit("\\", 1)[-1].lower()
    return name[:-4] if name.endswith(".exe") else name


def _matches(switch: str, full: str) -> bool:
    # PowerShell 5.1 ParseHelper: any prefix of the parameter name selects it (MatchSwitch).
    return bool(switch) and full.startswith(switch)


def _powershell(args: list[str]) -> PowerShell | Immediate:
    i = 0
    while i < len(args):
        tok = args[i]
        if not tok.startswith(("-", "/")):
            break  # a positional argument starts -Command text
        switch = tok[1:].lower()
        if _matches(switch, "encodedcommand") or switch == "ec":
            try:
                raw = base64.b64decode(args[i + 1], validate=True)
                return PowerShell(raw.decode("utf-16-le"), encoded=True)
            except (IndexError, binascii.Error, UnicodeDecodeError):
                return Immediate(stderr=BAD_ENCODING, rc=1)
        if _matches(switch, "command"):
            rest = args[i + 1:]
            return PowerShell(None if rest in ([], ["-"]) else " ".join(rest), encoded=False)
        if any(_matches(switch, name) for name in _FLAGS):
            i += 1
        elif any(_matches(switch, name) for name in _WITH_VALUE):
            i += 2
        else:
            break  # PowerShell reads an unknown switch as the start of the command text
    rest = args[i:]
    return PowerShell(" ".join(rest) if rest else None, encoded=False)


def interpret(command: str, arguments: list[str], host: str, skip_cmd_shell: bool) -> PowerShell | Immediate | NotFound:
    """Classify one WinRS command line; host is the machine name `hostname` prints."""
    line = " ".join([command, *arguments]) if arguments else command
    if not skip_cmd_shell and len(line) > CMD_MAX:
        return Immediate(stderr=TOO_LONG, rc=1)
    tokens = tokenize(line)
    if not tokens:
        return Immediate()
    program = _program(tokens[0])
    if program == "powershell":
        return _powershell(tokens[1:])
    if program == "hostname":
        return Immediate(stdout=host.upper() + "\r\n")
    if skip_cmd_shell:
        return NotFound(tokens[0])
    return Immediate(stderr=CMD_NOT_RECOGNIZED.format(name=tokens[0]), rc=1)
