"""The lab WinRM endpoint against the real pywinrm 0.5.0 client (winrm-emulation.md §2-§4, §7)."""

from __future__ import annotations

import base64
import socket
import threading
import time

import pytest
import requests
import winrm
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WSManFaultError


USER, PW = "LAB\\drbot", "Secr3t!pw"


def http_session(ep, transport="ntlm", user=USER, password=PW, **kw):
    return winrm.Session(f"http://127.0.0.1:{ep.http_port}/wsman", auth=(user, password), transport=transport, **kw)


def https_session(ep, pki, transport="ntlm", user=USER, password=PW, **kw):
    return winrm.Session(f"https://127.0.0.1:{ep.https_port}/wsman", auth=(user, password), transport=transport,
                         server_cert_validation="validate", ca_trust_path=str(pki.ca_path), **kw)


def protocol(ep, **kw):
    kw.setdefault("transport", "ntlm")
    return winrm.Protocol(f"http://127.0.0.1:{ep.http_port}/wsman", username=USER, password=PW, **kw)


def test_run_ps_ntlm_http_encrypted(endpoint):
    r = http_session(endpoint).run_ps("Write-Output hello")
    assert (r.status_code, r.std_out, r.std_err) == (0, b"hello\r\n", b"")
    assert endpoint.executor.calls == [("hv-pri-01", "Write-Output hello")]
    assert endpoint.stats["open_shells"] == 0 and endpoint.stats["commands_run"] == 1


@pytest.mark.parametrize("user", ["LAB\\drbot", "drbot", "drbot@lab.test", "lab\\DRBOT"])
def test_ntlm_user_name_forms(endpoint, user):
    assert http_session(endpoint, user=user).run_ps("Write-Output x").std_out == b"x\r\n"


def test_basic_https_with_lab_ca(endpoint, pki):
    r = https_session(endpoint, pki, transport="basic").run_ps("Write-Output 42")
    assert (r.status_code, r.std_out) == (0, b"42\r\n")


def test_https_untrusted_ca_fails(endpoint, tmp_path):
    from lab.certs import create_lab_pki
    other = create_lab_pki(tmp_path / "other")
    with pytest.raises(requests.exceptions.SSLError):
        https_session(endpoint, other, transport="basic").run_ps("Write-Output 42")


def test_ntlm_https_with_cbt(endpoint, pki):
    assert https_session(endpoint, pki).run_ps("Write-Output cbt").std_out == b"cbt\r\n"


def test_ntlm_https_without_cbt_is_rejected(endpoint, pki):
    with pytest.raises(InvalidCredentialsError):
        https_session(endpoint, pki, send_cbt=False).run_ps("Write-Output cbt")
    assert endpoint.stats["auth_failures"] >= 1


def test_basic_over_http_refused(endpoint):
    with pytest.raises(InvalidCredentialsError):
        http_session(endpoint, transport="basic").run_ps("Write-Output 1")
    assert any(e["event"] == "unencrypted_refused" for e in endpoint.audit_log)


def test_basic_over_http_allowed_when_unencrypted_allowed(make_endpoint):
    ep = make_endpoint(allow_unencrypted=True)
    assert http_session(ep, transport="basic").run_ps("Write-Output 1").std_out == b"1\r\n"


@pytest.mark.parametrize("transport", ["ntlm", "basic"])
def test_wrong_password(endpoint, pki, transport):
    sess = https_session(endpoint, pki, transport=transport, password="wrong") if transport == "basic" else http_session(endpoint, password="wrong")
    with pytest.raises(InvalidCredentialsError):
        sess.run_ps("Write-Output 1")
    failures = [e for e in endpoint.audit_log if e["event"] == "auth_failure"]
    assert failures and all("wrong" not in repr(e) for e in endpoint.audit_log)
    assert failures[-1]["user"].upper().endswith("DRBOT") and failures[-1]["kind"] == "winrm"


def test_user_of_another_host_rejected(make_endpoint):
    make_endpoint(name="hv-dr-01", users={"LAB\\drsite": "Dr!pw"})
    ep = make_endpoint()
    with pytest.raises(InvalidCredentialsError):
        http_session(ep, user="LAB\\drsite", password="Dr!pw").run_ps("Write-Output 1")


def test_ntlm_http_without_encryption_is_500(endpoint):
    with pytest.raises(WSManFaultError) as exc:
        http_session(endpoint, message_encryption="never").run_ps("Write-Output 1")
    assert exc.value.code == 500 and exc.value.wsman_fault_code == 5 and "needs to be encrypted" in exc.value.response
    assert any(e["event"] == "unencrypted_refused" for e in endpoint.audit_log)


def test_error_record_rc1_and_message_recovered(endpoint):
    from ansible.plugins.shell.powershell import _parse_clixml
    p = protocol(endpoint)
    shell = p.open_shell()
    cmd = p.run_command(shell, "powershell -encodedcommand " + base64.b64encode('throw "VM lab-vm01 not found"'.encode("utf-16-le")).decode())
    out, err, rc = p.get_command_output(shell, cmd)
    p.cleanup_command(shell, cmd)
    p.close_shell(shell)
    assert rc == 1 and out == b""
    assert err.startswith(b'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><S S="Error">')
    cleaned = winrm.Session("http://x", auth=("a", "b"))._clean_error_msg(err).decode()
    assert cleaned.startswith("VM lab-vm01 not found\nAt line:1 char:1\n")
    assert "    + FullyQualifiedErrorId : VM lab-vm01 not found" in cleaned
    parsed = _parse_clixml(err).decode()
    assert parsed.startswith("VM lab-vm01 not found\r\nAt line:1 char:1\r\n+ throw")
    # run_ps reports the same text
    r = http_session(endpoint).run_ps('throw "VM lab-vm01 not found"')
    assert r.status_code == 1 and r.std_err.decode() == cleaned


def test_exit_code_passes_through(endpoint):
    assert http_session(endpoint).run_ps("exit 3").status_code == 3


def test_executor_exception_becomes_failed_command(endpoint):
    r = http_session(endpoint).run_ps("boom")
    assert r.status_code == 1 and b"world exploded" in r.std_err
    assert any(e["event"] == "executor_error" for e in endpoint.audit_log)


def test_command_line_limit(endpoint):
    sess = http_session(endpoint)
    ok = "Write-Output " + "a" * (3061 - 13)
    assert sess.run_ps(ok).status_code == 0
    r = sess.run_ps(ok + "a")
    assert (r.status_code, r.std_out, r.std_err) == (1, b"", b"The command line is too long.\r\n")
    assert any(e["event"] == "command_line_too_long" for e in endpoint.audit_log)
    assert len(endpoint.executor.calls) == 1


def test_operation_timeout_retry(make_endpoint, monkeypatch):
    ep = make_endpoint(receive_wait_cap=0.3)
    sess = http_session(ep, operation_timeout_sec=1, read_timeout_sec=3)
    seen = []
    original = winrm.Protocol.get_command_output_raw

    def counting(self, *a, **kw):
        try:
            return original(self, *a, **kw)
        except WinRMOperationTimeoutError:
            seen.append(1)
            raise

    monkeypatch.setattr(winrm.Protocol, "get_command_output_raw", counting)
    start = time.monotonic()
    r = sess.run_ps("sleep 1.5")
    assert (r.status_code, r.std_out) == (0, b"done\r\n")
    assert len(seen) >= 3 and time.monotonic() - start < 3
    assert ep.stats["faults_served"] == len(seen)


def test_receive_never_blocks_past_operation_timeout(make_endpoint):
    # cap larger than the client's OperationTimeout: the fault still comes OperationTimeout - 0.5 s later (§2.4).
    ep = make_endpoint(receive_wait_cap=30)
    sess = http_session(ep, operation_timeout_sec=1, read_timeout_sec=2)
    assert sess.run_ps("sleep 1.2").std_out == b"done\r\n"
    assert ep.stats["faults_served"] >= 1


def test_max_command_seconds_and_hang(make_endpoint):
    ep = make_endpoint(receive_wait_cap=0.2, max_command_seconds=0.6)
    ep.set_fault(hang=True)
    start = time.monotonic()
    r = http_session(ep, operation_timeout_sec=1, read_timeout_sec=3).run_ps("Write-Output never")
    assert r.status_code == 1 and b"longer than 0.6 seconds" in r.std_err
    assert 0.5 < time.monotonic() - start < 2.5
    assert ep.executor.calls == [] and ep.stats["faults_served"] >= 2
    ep.set_fault(hang=False)
    assert http_session(ep).run_ps("Write-Output back").std_out == b"back\r\n"


def test_latency_fault(endpoint):
    endpoint.set_fault(latency=0.05)
    start = time.monotonic()
    http_session(endpoint, transport="ntlm").run_ps("Write-Output x")
    assert time.monotonic() - start > 0.05 * 8  # 3 auth legs + 5 SOAP messages


def test_set_down_and_up_same_port(endpoint):
    port = endpoint.http_port
    p = protocol(endpoint)
    shell = p.open_shell()
    endpoint.set_down(True)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with pytest.raises(requests.exceptions.ConnectionError):
        http_session(endpoint).run_ps("Write-Output 1")
    endpoint.set_down(False)
    assert endpoint.http_port == port
    assert http_session(endpoint).run_ps("Write-Output up").std_out == b"up\r\n"
    # the shell opened before the outage is gone, as after a WinRM service restart (§2.4)
    p2 = protocol(endpoint)
    with pytest.raises(WSManFaultError) as exc:
        p2.run_command(shell, "hostname")
    assert exc.value.wsman_fault_code == 2150858843 and exc.value.fault_subcode == "w:InvalidSelectors"


def test_unknown_shell_id(endpoint):
    with pytest.raises(WSManFaultError) as exc:
        protocol(endpoint).run_command("00000000-0000-0000-0000-000000000000", "hostname")
    assert exc.value.code == 500 and exc.value.wsman_fault_code == 2150858843
    assert any(e["event"] == "shell_not_found" for e in endpoint.audit_log)


def test_shell_of_another_user_denied(make_endpoint, pki):
    ep = make_endpoint()
    p1 = winrm.Protocol(f"https://127.0.0.1:{ep.https_port}/wsman", transport="basic", username=USER, password=PW,
                        server_cert_validation="validate", ca_trust_path=str(pki.ca_path))
    p2 = winrm.Protocol(f"https://127.0.0.1:{ep.https_port}/wsman", transport="basic", username="LAB\\other", password="0ther!pw",
                        server_cert_validation="validate", ca_trust_path=str(pki.ca_path))
    shell = p1.open_shell()
    with pytest.raises(WSManFaultError) as exc:
        p2.run_command(shell, "hostname")
    assert exc.value.wsman_fault_code == 5


def test_stdin_command_dash(endpoint):
    p = protocol(endpoint)
    shell = p.open_shell()
    cmd = p.run_command(shell, "PowerShell -NoProfile -Command -", console_mode_stdin=False)
    p.send_command_input(shell, cmd, "Write-Output from-stdin", end=True)
    out, err, rc = p.get_command_output(shell, cmd)
    p.cleanup_command(shell, cmd)
    p.close_shell(shell)
    assert (out, err, rc) == (b"from-stdin\r\n", b"", 0)


def test_stdin_for_encoded_script_and_many_commands_per_shell(endpoint):
    p = protocol(endpoint)
    shell = p.open_shell(codepage=65001)
    enc = base64.b64encode("stdin".encode("utf-16-le")).decode()
    for i in range(3):
        cmd = p.run_command(shell, "PowerShell", ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Unrestricted", "-EncodedCommand", enc],
                            console_mode_stdin=False)
        p.send_command_input(shell, cmd, f"part{i}-".encode(), end=False)
        p.send_command_input(shell, cmd, "ü€".encode(), end=True)
        out, _err, rc = p.get_command_output(shell, cmd)
        p.cleanup_command(shell, cmd)
        assert (out.decode("utf-8"), rc) == (f"got:part{i}-ü€", 0)
    assert endpoint.stats["open_shells"] == 1
    p.close_shell(shell)
    assert endpoint.stats["open_shells"] == 0


def test_codepage_437_vs_65001(endpoint):
    # §3.4: cp437 maps ü to 0x81 and has no €, which becomes '?'
    for cp, expected in ((437, b"Z\x81rich ?"), (65001, "Zürich €".encode())):
        p = protocol(endpoint)
        shell = p.open_shell(codepage=cp)
        cmd = p.run_command(shell, "powershell -ec " + base64.b64encode("Write-Output Zürich €".encode("utf-16-le")).decode())
        out = p.get_command_output(shell, cmd)[0]
        p.close_shell(shell)
        assert out == expected + b"\r\n"


def test_large_output_is_chunked(endpoint):
    p = protocol(endpoint)
    shell = p.open_shell()
    cmd = p.run_command(shell, "powershell -e " + base64.b64encode("big 300000".encode("utf-16-le")).decode())
    replies = []
    done = False
    while not done:
        out, _err, rc, done = p._raw_get_command_output(shell, cmd)
        replies.append(out)
    p.close_shell(shell)
    assert b"".join(replies) == b"x" * 300000 and len(replies) == 3 and rc == 0


def test_cmd_exe_programs(endpoint):
    sess = http_session(endpoint)
    assert sess.run_cmd("hostname").std_out == b"HV-PRI-01\r\n"
    r = sess.run_cmd("ipconfig", ["/all"])
    assert (r.status_code, r.std_err) == (1, b"'ipconfig' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n")


def test_skip_cmd_shell_unknown_program_faults(endpoint):
    p = protocol(endpoint)
    shell = p.open_shell()
    with pytest.raises(WSManFaultError) as exc:
        p.run_command(shell, "ipconfig", skip_cmd_shell=True)
    assert exc.value.wsman_fault_code == 2
    p.close_shell(shell)


def test_signal_terminates_running_command(make_endpoint):
    ep = make_endpoint(receive_wait_cap=0.2)
    p = protocol(ep, operation_timeout_sec=1, read_timeout_sec=3)
    shell = p.open_shell()
    cmd = p.run_command(shell, "powershell -e " + base64.b64encode("sleep 0.5".encode("utf-16-le")).decode())
    p.cleanup_command(shell, cmd)
    with pytest.raises(WSManFaultError):
        p._raw_get_command_output(shell, cmd)
    p.close_shell(shell)


def test_idle_shell_expiry(make_endpoint):
    ep = make_endpoint(idle_timeout=0.2)
    p = protocol(ep)
    shell = p.open_shell()
    time.sleep(0.3)
    with pytest.raises(WSManFaultError) as exc:
        p.run_command(shell, "hostname")
    assert exc.value.wsman_fault_code == 2150858843


def test_concurrent_clients(make_endpoint):
    ep = make_endpoint(receive_wait_cap=0.2)
    results: list[bytes] = []

    def one(i: int) -> None:
        results.append(http_session(ep, operation_timeout_sec=1, read_timeout_sec=3).run_ps("sleep 0.4").std_out)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [b"done\r\n"] * 6 and time.monotonic() - start < 3
    assert ep.stats["open_shells"] == 0


def test_encrypted_body_on_fresh_connection_is_400(endpoint):
    # What Ansible's plugin meets when pywinrm resends a sealed cleanup on a new socket (§4.3, §6).
    body = b"--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n--Encrypted Boundary--\r\n"
    r = requests.post(f"http://127.0.0.1:{endpoint.http_port}/wsman", data=body,
                      headers={"Content-Type": 'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"'})
    assert r.status_code == 400


def test_unauthenticated_request_gets_both_challenges(endpoint):
    with requests.Session() as s:
        r = s.post(f"http://127.0.0.1:{endpoint.http_port}/wsman", data=b"<x/>" * 100)
        assert r.status_code == 401 and r.headers["Content-Length"] == "0" and r.headers["Server"] == "Microsoft-HTTPAPI/2.0"
        assert r.headers["WWW-Authenticate"] == 'Negotiate, Basic realm="WSMAN"'
        # the body was read and discarded: the same keep-alive connection still answers
        assert s.post(f"http://127.0.0.1:{endpoint.http_port}/wsman", data=b"").status_code == 401


def test_wrong_path_is_404(endpoint):
    r = requests.post(f"http://127.0.0.1:{endpoint.http_port}/other", data=b"x")
    assert r.status_code == 404


def test_any_spelling_of_an_account_owns_the_same_shell(endpoint, pki):
    def proto(user):
        return winrm.Protocol(f"https://127.0.0.1:{endpoint.https_port}/wsman", transport="basic", username=user, password=PW,
                              server_cert_validation="validate", ca_trust_path=str(pki.ca_path))
    shell = proto("drbot@lab.test").open_shell()
    p = proto("drbot")
    cmd = p.run_command(shell, "hostname")
    assert p.get_command_output(shell, cmd) == (b"HV-PRI-01\r\n", b"", 0)
    p.close_shell(shell)


def test_first_use_progress_record(make_endpoint):
    ep = make_endpoint(first_use_progress=True)
    # pywinrm hands back the raw CLIXML when it holds no S node (§8): a harmless record looks like an error
    r = http_session(ep).run_ps("Write-Output x")
    assert (r.status_code, r.std_out) == (0, b"x\r\n") and r.std_err.startswith(b"#< CLIXML\r\n<Objs") and b'S="progress"' in r.std_err
    # errors in the same run share one document, so pywinrm still extracts the message
    assert http_session(ep).run_ps('throw "bad"').std_err.startswith(b"bad\nAt line:1")
    p = protocol(ep)
    shell = p.open_shell()
    enc = "powershell -ec " + base64.b64encode("Write-Output y".encode("utf-16-le")).decode()
    first = p.run_command(shell, enc)
    assert p.get_command_output(shell, first)[1].startswith(b"#< CLIXML")
    second = p.run_command(shell, enc)
    assert p.get_command_output(shell, second) == (b"y\r\n", b"", 0)
    p.close_shell(shell)
