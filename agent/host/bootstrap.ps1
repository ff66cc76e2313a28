# Aether-V agent bootstrap (Windows PowerShell 5.1), passed with -EncodedCommand.
#
# Template: aetherv-hyperv drops the comment lines, puts the bundle's SHA-256 in place of
# the placeholder, joins the lines with LF and encodes the result (UTF-16LE, base64).
# stdin (UTF-8, LF line ends): line 1 the request, then the agent bundle. powershell.exe
# hands redirected stdin to the command as $input, one string per line; the bundle is
# those lines joined with LF plus a final LF, and must hash to the pinned SHA-256 before
# it is dot-sourced. A mismatch answers AGENT_INTEGRITY and runs nothing.
$ErrorActionPreference='Stop';$ProgressPreference='SilentlyContinue'
$p='{{AGENT_SHA256}}'
$l=[string[]]@($input);if($l.Count -lt 1){$l=[string[]]@('')}
$s=[string]::Join("`n",$l,1,$l.Count-1)+"`n"
$e=New-Object Text.UTF8Encoding $false
$h=[BitConverter]::ToString([Security.Cryptography.SHA256]::Create().ComputeHash($e.GetBytes($s))).Replace('-','').ToLowerInvariant()
if($h -ne $p){$o=[Console]::OpenStandardOutput();$b=$e.GetBytes('{"type":"result","ok":false,"error":{"code":"AGENT_INTEGRITY","message":"the agent script received does not match the sha-256 pinned in the bootstrap; nothing was run","details":{"expected_sha256":"'+$p+'","actual_sha256":"'+$h+'"}}}'+"`n");$o.Write($b,0,$b.Length);$o.Flush();exit 1}
. ([ScriptBlock]::Create($s))
exit (Invoke-AetherVAgent -RequestLine $l[0] -AgentSha256 $h)
