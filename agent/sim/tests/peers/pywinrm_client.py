"""pywinrm 0.5.0 against a simulated host, over NTLM with message encryption.

Reads HVSIM_ENDPOINT, HVSIM_USERNAME, HVSIM_PASSWORD (never from the command line),
HVSIM_ARGS (JSON list: powershell.exe's arguments, the bootstrap last) and HVSIM_STDIN
(a file: the request line then the agent bundle). Prints one JSON object.
"""
import json
import os

import winrm
from winrm.exceptions import InvalidCredentialsError

endpoint = os.environ["HVSIM_ENDPOINT"]
user = os.environ["HVSIM_USERNAME"]
password = os.environ["HVSIM_PASSWORD"]
args = json.loads(os.environ["HVSIM_ARGS"])
with open(os.environ["HVSIM_STDIN"], "rb") as f:
    stdin = f.read()


def run(protocol, command, arguments, data=None):
    shell = protocol.open_shell(codepage=65001)
    try:
        cmd = protocol.run_command(shell, command, arguments, console_mode_stdin=data is None)
        if data is not None:
            # The Ansible pattern: stdin in chunks, End on the last.
            step = 32 * 1024
            for start in range(0, len(data), step):
                chunk = data[start:start + step]
                protocol.send_command_input(shell, cmd, chunk, end=start + step >= len(data))
        out, err, rc = protocol.get_command_output(shell, cmd)
        protocol.cleanup_command(shell, cmd)
    finally:
        protocol.close_shell(shell)
    return {"stdout": out.decode("utf-8"), "stderr": err.decode("utf-8", "replace"), "rc": rc}


protocol = winrm.Protocol(
    endpoint=endpoint, transport="ntlm", username=user, password=password, message_encryption="always"
)
result = {
    "agent": run(protocol, "powershell.exe", args, stdin),
    "ipconfig": run(protocol, "ipconfig", ["/all"]),
    # Over cmd.exe's 8191-character limit: Windows' own answer, from the WinRM server.
    "too_long": run(protocol, "powershell.exe", ["-EncodedCommand", "A" * 9000]),
}
session = winrm.Session(endpoint, auth=(user, password), transport="ntlm", message_encryption="always")
r = session.run_cmd("ipconfig")
result["session_ipconfig"] = {"rc": r.status_code, "stderr": r.std_err.decode("utf-8", "replace")}
r = session.run_ps("Get-VM")
result["session_run_ps"] = {"rc": r.status_code, "stderr": r.std_err.decode("utf-8", "replace")}

wrong = winrm.Protocol(
    endpoint=endpoint, transport="ntlm", username=user, password="wrong-" + password, message_encryption="always"
)
try:
    wrong.open_shell()
    result["wrong_password"] = "accepted"
except InvalidCredentialsError:
    result["wrong_password"] = "InvalidCredentialsError"
except Exception as e:  # report anything else as it is
    result["wrong_password"] = type(e).__name__
print(json.dumps(result))
