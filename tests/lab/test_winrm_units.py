"""Unit tests for the WinRM endpoint's pure parts: CLIXML rendering, command lines, SOAP parsing, lab PKI, NTLM user file."""

from __future__ import annotations

import base64
import os
import ssl
import stat

import pytest
import winrm
from ansible.plugins.shell.powershell import _parse_clixml
from cryptography import x509

from lab._powershell import CommandResult, ErrorRecord, not_recognized
from lab.certs import create_lab_pki
from lab.winrm import clixml, commandline, ntlm, soap
from lab.winrm.shells import render


def clean(stderr: str) -> str:
    return winrm.Session("http://x", auth=("a", "b"))._clean_error_msg(stderr.encode()).decode()


def test_encode_string_round_trips_through_ansible():
    text = "a_x000D_b\x07<&>\"' 😀 é\r\n"
    enc = clixml.encode_string(text)
    assert "_x005F_x000D_" in enc and "_x0007_" in enc and "_xD83D__xDE00_" in enc and "&lt;&amp;&gt;" in enc
    doc = clixml.HEADER + '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><S S="Error">' + enc + "</S></Objs>"
    assert _parse_clixml(doc.encode()).decode("utf-8") == text


def test_not_recognized_rendering_matches_real_layout():
    rec = not_recognized("Get-SCVirtualMachine", "Get-SCVirtualMachine -Name x")
    lines = clixml.error_lines(rec)
    assert lines[0].startswith("Get-SCVirtualMachine : The term 'Get-SCVirtualMachine' is not recognized as the name of a cmdlet")
    assert lines[1:4] == ["At line:1 char:1", "+ Get-SCVirtualMachine -Name x", "+ " + "~" * len("Get-SCVirtualMachine")]
    assert lines[4] == "    + CategoryInfo          : ObjectNotFound: (Get-SCVirtualMachine:String) [], CommandNotFoundException"
    assert lines[5:] == ["    + FullyQualifiedErrorId : CommandNotFoundException", " "]


def test_write_error_rendering():
    rec = ErrorRecord(message="Error", fqid="Microsoft.PowerShell.Commands.WriteErrorException", category="NotSpecified",
                      reason="WriteErrorException", command="Write-Error")
    text = clixml.render_errors([rec])
    assert clean(text) == ("Write-Error : Error\n    + CategoryInfo          : NotSpecified: (:) [Write-Error], WriteErrorException\n"
                           "    + FullyQualifiedErrorId : Microsoft.PowerShell.Commands.WriteErrorException")
    assert text.count('<S S="Error">') == 4 and text.endswith("_x000D__x000A_</S></Objs>")


def test_wrap_width():
    rec = ErrorRecord(message="m" * 100, fqid="x", category="NotSpecified", reason="RuntimeException")
    text = clixml.render_errors([rec], width=80)
    assert '<S S="Error">' + "m" * 80 + "_x000D__x000A_</S>" in text
    assert clean(text).startswith("m" * 80 + "\n" + "m" * 20 + "\n")


def test_warning_and_progress_records():
    # pywinrm merges every S stream into the "error"; Ansible keeps only S="Error" (§3.3)
    warn = clixml.render_stream("warning", "disk almost full")
    assert clean(warn) == "disk almost full" and _parse_clixml(warn.encode()) == b""
    progress = clixml.render_progress()
    assert clean(progress) == progress  # no S nodes: pywinrm hands back the raw CLIXML (§8)
    assert "Preparing modules for first use." in progress and _parse_clixml(progress.encode()) == b""


def test_render_result_encoded_vs_plain():
    rec = ErrorRecord(message="boom", fqid="boom", category="OperationStopped", reason="RuntimeException", target="boom")
    out, err, rc = render(CommandResult(stdout="a\nb\r\n", errors=[rec], rc=1, raw_stderr="warn\n"), 437, encoded=True, wrap_width=None)
    assert (out, rc) == (b"a\r\nb\r\n", 1)
    assert err[0] == b"warn\r\n" and err[1] == b"#< CLIXML\r\n" and err[2].startswith(b"<Objs ")
    err = render(CommandResult(errors=[rec], rc=1), 437, encoded=False, wrap_width=None)[1]
    assert err == [b"boom\r\n    + CategoryInfo          : OperationStopped: (boom:String) [], RuntimeException\r\n"
                   b"    + FullyQualifiedErrorId : boom\r\n \r\n"]


def b64(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode()


@pytest.mark.parametrize("switch", ["-e", "-ec", "-enc", "-EncodedCommand", "/ENCODEDCOMMAND", "-encodedc"])
def test_encoded_command_prefixes(switch):
    what = commandline.interpret("PowerShell.exe", ["-NoProfile", "-ExecutionPolicy", "Bypass", switch, b64("Get-VM")], "h", False)
    assert what == commandline.PowerShell("Get-VM", encoded=True)


def test_command_forms():
    assert commandline.interpret("powershell -Command -", [], "h", False) == commandline.PowerShell(None, encoded=False)
    assert commandline.interpret("powershell", ["-NonInteractive"], "h", False) == commandline.PowerShell(None, encoded=False)
    assert commandline.interpret('powershell -c "Get-VM -Name x"', [], "h", False) == commandline.PowerShell("Get-VM -Name x", encoded=False)
    assert commandline.interpret("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe Get-Date", [], "h", False).script == "Get-Date"
    bad = commandline.interpret("powershell -EncodedCommand", ["not*base64"], "h", False)
    assert bad == commandline.Immediate(stderr=commandline.BAD_ENCODING, rc=1)


def test_cmd_exe_rules():
    assert commandline.interpret("hostname", [], "hv-pri-01", False) == commandline.Immediate(stdout="HV-PRI-01\r\n")
    assert commandline.interpret("x" * 8191, [], "h", False).stderr.startswith("'x")
    assert commandline.interpret("x" * 8192, [], "h", False) == commandline.Immediate(stderr=commandline.TOO_LONG, rc=1)
    # WINRS_SKIP_CMD_SHELL=TRUE: no cmd.exe, so no length limit and no cmd.exe message
    assert commandline.interpret("powershell -ec " + b64("a" * 5000), [], "h", True) == commandline.PowerShell("a" * 5000, encoded=True)
    assert commandline.interpret("ipconfig", [], "h", True) == commandline.NotFound("ipconfig")
    assert commandline.tokenize('a "b c" d""e') == ["a", "b c", "de"]


def test_soap_parse_and_duration():
    assert soap.parse_duration("PT20S", 1) == 20 and soap.parse_duration("PT7200.000S", 1) == 7200
    assert soap.parse_duration("P0DT1H2M3S", 1) == 3723 and soap.parse_duration("junk", 5) == 5
    with pytest.raises(soap.SoapError):
        soap.parse_request(b"<not-xml")
    with pytest.raises(soap.SoapError):
        soap.parse_request(b"<a/>")


def test_lab_pki(tmp_path):
    pki = create_lab_pki(tmp_path / "pki", ["hv-pri-01.lab.test"])
    cert = x509.load_pem_x509_certificate(pki.cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "hv-pri-01.lab.test" in san.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert stat.S_IMODE(os.stat(pki.key_path).st_mode) == 0o600
    assert isinstance(pki.server_context(), ssl.SSLContext)


def test_ntlm_user_file(make_endpoint):
    make_endpoint(name="hv-x", users={"LAB\\svc": "pw1", "localadmin": "pw2"})
    path = os.environ["NTLM_USER_FILE"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    lines = open(path, encoding="utf-8").read().splitlines()
    assert {"LAB:SVC:pw1", ":SVC@LAB.TEST:pw1", ":LOCALADMIN:pw2", "HV-X:LOCALADMIN:pw2"} <= set(lines)
    with pytest.raises(ValueError, match="two different passwords"):
        ntlm.UserStore.register({("LAB", "SVC"): "other"})


def test_seal_unseal_round_trip_and_tampering(make_endpoint):
    import spnego
    make_endpoint()  # writes NTLM_USER_FILE
    client, server = spnego.client("LAB\\drbot", "Secr3t!pw", protocol="ntlm"), ntlm.new_acceptor(None)
    server.step(client.step(server.step(client.step())))
    assert server.complete and server.client_principal.upper() == "LAB\\DRBOT"
    assert ntlm.unseal(client, ntlm.seal(server, b"<s:Envelope/>")) == b"<s:Envelope/>"
    framed = bytearray(ntlm.seal(server, b"second message"))
    framed[-30] ^= 0xFF  # inside the sealed payload
    with pytest.raises(ntlm.FramingError):
        ntlm.unseal(client, bytes(framed))
    with pytest.raises(ntlm.FramingError):
        ntlm.unseal(client, b"plain text")
