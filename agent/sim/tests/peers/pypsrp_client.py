"""pypsrp 0.9.1's WinRS client against a simulated host (negotiate/NTLM, encrypted).

Same environment as pywinrm_client.py, plus HVSIM_HOST and HVSIM_PORT.
"""
import json
import os

from pypsrp.client import Client
from pypsrp.shell import Process, SignalCode, WinRS
from pypsrp.wsman import WSMan

host = os.environ["HVSIM_HOST"]
port = int(os.environ["HVSIM_PORT"])
user = os.environ["HVSIM_USERNAME"]
password = os.environ["HVSIM_PASSWORD"]
args = json.loads(os.environ["HVSIM_ARGS"])
with open(os.environ["HVSIM_STDIN"], "rb") as f:
    stdin = f.read()

wsman = WSMan(
    host, port=port, path="wsman", ssl=False, auth="negotiate", encryption="always",
    username=user, password=password, cert_validation=False,
)
result = {}
with wsman, WinRS(wsman, codepage=65001, no_profile=True) as shell:
    process = Process(shell, "powershell.exe", args)
    process.begin_invoke()
    process.send(stdin, end=True)
    process.end_invoke()
    process.signal(SignalCode.TERMINATE)
    result["agent"] = {
        "rc": process.rc,
        "stdout": process.stdout.decode("utf-8"),
        "stderr": process.stderr.decode("utf-8", "replace"),
    }
    process = Process(shell, "ipconfig")
    process.invoke()
    process.signal(SignalCode.TERMINATE)
    result["ipconfig"] = {"rc": process.rc, "stderr": process.stderr.decode("utf-8", "replace")}

client = Client(
    host, port=port, path="wsman", ssl=False, auth="negotiate", encryption="always",
    username=user, password=password,
)
stdout, stderr, rc = client.execute_cmd("hostname")
result["execute_cmd"] = {"rc": rc, "stderr": stderr}
print(json.dumps(result))
