"""pypsrp 0.9.1's WinRS client against our WinRM server: Negotiate (SPNEGO/NTLM) with
message encryption.

Usage: pypsrp_peer.py HOST PORT USER  (password in the WINRM_PASSWORD environment variable)
Prints one JSON object with what each scenario observed.
"""
import json
import os
import sys

from pypsrp.client import Client
from pypsrp.exceptions import AuthenticationError, WSManFaultError
from pypsrp.shell import Process, SignalCode, WinRS
from pypsrp.wsman import WSMan

host, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3]
password = os.environ["WINRM_PASSWORD"]
result = {}


def wsman(pw=password):
    return WSMan(
        host,
        port=port,
        username=user,
        password=pw,
        ssl=False,
        auth="negotiate",
        encryption="always",
        operation_timeout=2,
        read_timeout=10,
    )


with wsman() as w:
    result["max_envelope_kb"] = w.max_envelope_size // 1024
    w.update_max_payload_size()
    result["max_envelope_kb_after_get"] = w.max_envelope_size // 1024
    with WinRS(w, environment={"AETHERV": "1"}, no_profile=True, codepage=65001) as shell:
        process = Process(shell, "echo", ["11"])
        process.begin_invoke()
        process.send(b"hello from pypsrp\n", end=False)
        process.send(b"second line\n", end=True)
        process.end_invoke()
        process.signal(SignalCode.TERMINATE)
        result["stdin"] = {
            "stdout": process.stdout.decode("utf-8"),
            "stderr": process.stderr.decode("utf-8"),
            "rc": process.rc,
        }
        process = Process(shell, "ipconfig")
        process.invoke()
        process.signal(SignalCode.CTRL_C)
        result["unknown"] = {"rc": process.rc, "stderr": process.stderr.decode("utf-8")}

client = Client(host, port=port, username=user, password=password, ssl=False, auth="negotiate", encryption="always")
stdout, stderr, rc = client.execute_cmd("ipconfig /all")
result["execute_cmd"] = {"rc": rc, "stderr": stderr}

try:
    with wsman(pw="wrong-password") as w, WinRS(w):
        pass
    result["wrong_password"] = "accepted"
except (AuthenticationError, WSManFaultError) as e:
    result["wrong_password"] = type(e).__name__

print(json.dumps(result))
