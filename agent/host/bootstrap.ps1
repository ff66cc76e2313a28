# Aether-V agent bootstrap (Windows PowerShell 5.1), passed with -EncodedCommand.
#
# Template: aetherv-hyperv drops the comment lines, puts the bundle's SHA-256 in place of
# the placeholder, joins the lines with LF and encodes the result (UTF-16LE, base64).
# stdin: line 1 the request (UTF-8 JSON), line 2 the agent bundle gzip-compressed and
# base64-encoded (a quarter of its size: less to seal, send and unseal on every call).
# powershell.exe hands redirected stdin to the command as $input, one string per line.
# The bundle is line 2 decoded and decompressed; its bytes must hash to the pinned SHA-256
# before it is dot-sourced. A mismatch, or a line 2 that does not decode, answers
# AGENT_INTEGRITY and runs nothing.
$ErrorActionPreference='Stop';$ProgressPreference='SilentlyContinue'
$p='{{AGENT_SHA256}}'
$l=[string[]]@($input);if($l.Count -lt 1){$l=[string[]]@('')}
$b=[byte[]]@();try{$z=New-Object IO.Compression.GZipStream((New-Object IO.MemoryStream(,[Convert]::FromBase64String($l[1]))),([IO.Compression.CompressionMode]::Decompress));$m=New-Object IO.MemoryStream;$z.CopyTo($m);$b=$m.ToArray()}catch{$b=[byte[]]@()}
$e=New-Object Text.UTF8Encoding $false
$h=[BitConverter]::ToString([Security.Cryptography.SHA256]::Create().ComputeHash($b)).Replace('-','').ToLowerInvariant()
if($h -ne $p){$o=[Console]::OpenStandardOutput();$y=$e.GetBytes('{"type":"result","ok":false,"error":{"code":"AGENT_INTEGRITY","message":"the agent script received does not match the sha-256 pinned in the bootstrap; nothing was run","details":{"expected_sha256":"'+$p+'","actual_sha256":"'+$h+'"}}}'+"`n");$o.Write($y,0,$y.Length);$o.Flush();exit 1}
. ([ScriptBlock]::Create($e.GetString($b)))
exit (Invoke-AetherVAgent -RequestLine $l[0] -AgentSha256 $h)
