"""pywinrm 0.5.0 against our WinRM server: NTLM with message encryption.

Usage: pywinrm_peer.py ENDPOINT USER  (password in the WINRM_PASSWORD environment variable)
Prints one JSON object with what each scenario observed.
"""
import json
import os
import sys

import winrm
from winrm.exceptions import InvalidCredentialsError, WinRMTransportError, WSManFaultError
from winrm.protocol import Protocol

endpoint, user = sys.argv[1], sys.argv[2]
password = os.environ["WINRM_PASSWORD"]
result = {}


def protocol(pw=password, encryption="always"):
    return Protocol(
        endpoint=endpoint,
        transport="ntlm",
        username=user,
        password=pw,
        message_encryption=encryption,
        operation_timeout_sec=2,
        read_timeout_sec=10,
    )


def output(p, shell, cmd):
    stdout, stderr, rc = p.get_command_output(shell, cmd)
    p.cleanup_command(shell, cmd)
    return {"stdout": stdout.decode("utf-8"), "stderr": stderr.decode("utf-8"), "rc": rc}


def fault(exc):
    return {
        "type": type(exc).__name__,
        "wsman_code": getattr(exc, "wsman_fault_code", None),
        "subcode": getattr(exc, "fault_subcode", None),
        "message": str(getattr(exc, "message", exc)),
    }


p = protocol()
shell = p.open_shell(codepage=65001)

# The Ansible pattern: stdin piped with console_mode_stdin=False, End on the last chunk.
cmd = p.run_command(shell, "echo", ["7"], console_mode_stdin=False)
p.send_command_input(shell, cmd, b"hello from pywinrm\n", end=False)
p.send_command_input(shell, cmd, "zwei \u00e9\n".encode("utf-8"), end=True)
result["stdin"] = output(p, shell, cmd)

cmd = p.run_command(shell, "ipconfig", ["/all"])
result["unknown"] = output(p, shell, cmd)

cmd = p.run_command(shell, "echo", ["x" * 9000])
result["too_long_cmd"] = output(p, shell, cmd)

try:
    p.run_command(shell, "echo", ["x" * 33000], skip_cmd_shell=True)
    result["too_long_process"] = "accepted"
except WSManFaultError as e:
    result["too_long_process"] = fault(e)

try:
    p.get_command_output(shell, "87E77BEB-6761-4C48-9D70-A00266B8459A")
    result["bad_command_id"] = "accepted"
except WSManFaultError as e:
    result["bad_command_id"] = fault(e)

p.close_shell(shell)

try:
    protocol(pw="wrong-password").open_shell()
    result["wrong_password"] = "accepted"
except InvalidCredentialsError as e:
    result["wrong_password"] = type(e).__name__

try:
    protocol(encryption="never").open_shell()
    result["unencrypted"] = "accepted"
except WinRMTransportError as e:
    result["unencrypted"] = {"code": e.code, "body": e.response_text}

session = winrm.Session(endpoint, auth=(user, password), transport="ntlm", message_encryption="always")
r = session.run_cmd("ipconfig")
result["session"] = {"rc": r.status_code, "stderr": r.std_err.decode("utf-8")}

print(json.dumps(result))
