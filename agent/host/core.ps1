# Aether-V host agent: core (Windows PowerShell 5.1).
#
# The dispatcher Invoke-AetherVAgent, the table of operations, the output protocol (one
# compact JSON object per line on stdout: log and progress lines (and event lines, from
# inventory.watch), then exactly one result line) and the helpers every operation file
# uses. The bootstrap dot-sources the whole bundle (core, errors, params, host, inventory,
# watch, power, vm, disk, nic, in that order) and
# calls Invoke-AetherVAgent with the request line. The contract is schemas/agent/ in the
# Aether-V repository.
#
# Records: every JSON object the agent writes is built by exactly one function whose
# "# record:" comment names the schema it must match; the repository's tests compare the
# keys of that function's [ordered]@{} literal with the schema.

$script:AgentVersion = '1.0.0'
$script:AgentProtocolVersions = @(1)
$script:AgentErrorCodes = @(
    'INVALID_REQUEST', 'UNSUPPORTED_PROTOCOL', 'UNSUPPORTED_OPERATION', 'AGENT_INTEGRITY',
    'HYPERV_UNAVAILABLE', 'VM_NOT_FOUND', 'NOT_FOUND', 'ALREADY_EXISTS', 'INVALID_STATE',
    'INSUFFICIENT_RESOURCES', 'OPERATION_FAILED', 'TIMEOUT', 'CANCELLED', 'INTERNAL'
)

# operation -> handler. Handlers take -Request (the validated request) and return the
# result record; everything else they write to the pipeline is discarded with a warning.
$script:AgentOperations = [ordered]@{
    'agent.info'        = 'Invoke-AgentInfoOperation'
    'noop'              = 'Invoke-NoopOperation'
    'inventory.collect' = 'Invoke-InventoryCollectOperation'
    'inventory.watch'   = 'Invoke-InventoryWatchOperation'
    'host.resources'    = 'Invoke-HostResourcesOperation'
    'vm.power'          = 'Invoke-VmPowerOperation'
    'vm.create'         = 'Invoke-VmCreateOperation'
    'vm.update'         = 'Invoke-VmUpdateOperation'
    'vm.delete'         = 'Invoke-VmDeleteOperation'
    'disk.create'       = 'Invoke-DiskCreateOperation'
    'disk.resize'       = 'Invoke-DiskResizeOperation'
    'disk.delete'       = 'Invoke-DiskDeleteOperation'
    'nic.create'        = 'Invoke-NicCreateOperation'
    'nic.update'        = 'Invoke-NicUpdateOperation'
    'nic.delete'        = 'Invoke-NicDeleteOperation'
}

# Operations that must answer on a host without Hyper-V.
$script:AgentOperationsWithoutHyperV = @('agent.info', 'noop')

$script:GuidPattern = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
$script:CorrelationIdPattern = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'
$script:CatalogueNamePattern = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'
$script:VmNamePattern = '^[^\\/:*?"<>|\u0000-\u001f ](?:[^\\/:*?"<>|\u0000-\u001f]*[^\\/:*?"<>|\u0000-\u001f. ])?$'
$script:DiskIdPattern = '^Microsoft:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\\[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\\[0-9]{1,2}\\[0-9]{1,2}\\D$'
$script:NicIdPattern = '^Microsoft:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\\[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$'
$script:StaticMacPattern = '^[0-9A-F][02468ACE][0-9A-F]{10}$'
$script:WindowsPathPattern = '^(?:[A-Za-z]:\\|\\\\)'

# ---------------------------------------------------------------------------------------
# Output: one UTF-8 JSON line per record, straight to the process's stdout handle, so that
# nothing PowerShell formats can be mistaken for protocol output.

function Initialize-AgentOutput {
    $stream = [Console]::OpenStandardOutput()
    $encoding = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false
    $writer = New-Object -TypeName System.IO.StreamWriter -ArgumentList @($stream, $encoding)
    $writer.AutoFlush = $true
    $writer.NewLine = "`n"
    $script:AgentOut = $writer
    $script:AgentResultWritten = $false
    # Windows PowerShell 5.1 serialises arrays that carry this type data as {"value":[..],"Count":n}.
    Remove-TypeData -TypeName System.Array -ErrorAction SilentlyContinue
}

# $null for $null or an empty string, else the value as a plain string. (A [string]
# parameter turns $null into '', so nullable text travels untyped until here.)
function ConvertTo-NullableString {
    param([AllowNull()] $Value)
    if ($null -eq $Value) { return $null }
    $text = [string]$Value
    if ($text.Length -eq 0) { return $null }
    $text
}

function ConvertTo-AgentJson {
    param([AllowNull()] $Value)
    ConvertTo-Json -InputObject $Value -Depth 100 -Compress
}

function Write-AgentLine {
    param([Parameter(Mandatory = $true)] [System.Collections.IDictionary] $Record)
    $script:AgentOut.WriteLine((ConvertTo-AgentJson -Value $Record))
}

# record: output-line.schema.json#/$defs/log
function New-LogLineRecord {
    param([string] $Level, [string] $Message)
    [ordered]@{
        type    = 'log'
        level   = $Level
        message = $Message
    }
}

# record: output-line.schema.json#/$defs/progress
function New-ProgressLineRecord {
    param([string] $Step, [int] $Percent, [AllowNull()] $Message)
    $record = [ordered]@{
        type    = 'progress'
        step    = $Step
        percent = [int][Math]::Max(0, [Math]::Min(100, $Percent))
        message = $Message
    }
    if ([string]::IsNullOrEmpty($Message)) { $record.Remove('message') }
    $record
}

# record: output-line.schema.json#/$defs/result
function New-ResultLineRecord {
    param([bool] $Ok, $Data, $AgentError)
    $record = [ordered]@{
        type  = 'result'
        ok    = $Ok
        data  = $Data
        error = $AgentError
    }
    if ($Ok) { $record.Remove('error') } else { $record.Remove('data') }
    $record
}

# Writes a log line. Never pass a secret: log lines reach the job output.
function Write-AgentLog {
    param(
        [Parameter(Mandatory = $true)] [ValidateSet('info', 'warning', 'error')] [string] $Level,
        [Parameter(Mandatory = $true)] [AllowEmptyString()] [string] $Message
    )
    Write-AgentLine -Record (New-LogLineRecord -Level $Level -Message $Message)
}

function Write-AgentProgress {
    param(
        [Parameter(Mandatory = $true)] [string] $Step,
        [Parameter(Mandatory = $true)] [int] $Percent,
        [string] $Message
    )
    Write-AgentLine -Record (New-ProgressLineRecord -Step $Step -Percent $Percent -Message $Message)
}

function Write-AgentResult {
    param([Parameter(Mandatory = $true)] [System.Collections.IDictionary] $Data)
    Write-AgentLine -Record (New-ResultLineRecord -Ok $true -Data $Data)
    $script:AgentResultWritten = $true
}

function Write-AgentFailure {
    param([Parameter(Mandatory = $true)] [System.Collections.IDictionary] $AgentError)
    Write-AgentLine -Record (New-ResultLineRecord -Ok $false -AgentError $AgentError)
    $script:AgentResultWritten = $true
}

# ---------------------------------------------------------------------------------------
# Shared helpers.

# A protocol VM state from Hyper-V's VMState name (services/hyperv vm_state.rs from_hyperv).
function ConvertTo-VmStateName {
    param([AllowNull()] $State)
    $name = [string]$State
    if ($name.EndsWith('Critical')) { $name = $name.Substring(0, $name.Length - 'Critical'.Length) }
    switch ($name) {
        'FastSaved' { return 'Saved' }
        'Hibernated' { return 'Saved' }
        'FastSaving' { return 'Saving' }
        'ForceShutdown' { return 'Stopping' }
        'ForceReboot' { return 'Reset' }
    }
    $known = @('Running', 'Off', 'Saved', 'Paused', 'Starting', 'Stopping', 'Saving', 'Pausing', 'Resuming', 'Reset')
    if ($known -ccontains $name) { return $name }
    'Other'
}

function ConvertTo-UtcText {
    param([Parameter(Mandatory = $true)] [DateTime] $Time)
    $Time.ToUniversalTime().ToString('o', [System.Globalization.CultureInfo]::InvariantCulture)
}

# Sets the step a ctrl+c would interrupt (reported in CANCELLED details).
function Set-AgentStep {
    param([AllowNull()] $Step)
    $script:AgentStep = ConvertTo-NullableString -Value $Step
    $script:AgentStepJson = ConvertTo-AgentJson -Value $script:AgentStep
}

# Loads the Hyper-V module and checks the vmms service.
function Assert-HyperVAvailable {
    $service = Get-Service -Name 'vmms' -ErrorAction SilentlyContinue
    if ($null -eq $service) {
        Stop-AgentOperation -Code 'HYPERV_UNAVAILABLE' -Message 'the hyper-v virtual machine management service (vmms) is not installed' `
            -Details (New-HypervUnavailableDetails -Component 'service' -Name 'vmms' -State $null)
    }
    if ($service.Status.ToString() -ne 'Running') {
        Stop-AgentOperation -Code 'HYPERV_UNAVAILABLE' -Message "the hyper-v virtual machine management service (vmms) is $($service.Status.ToString())" `
            -Details (New-HypervUnavailableDetails -Component 'service' -Name 'vmms' -State $service.Status.ToString())
    }
    try {
        Import-Module -Name 'Hyper-V' -ErrorAction Stop -Verbose:$false
    } catch {
        Stop-AgentOperation -Code 'HYPERV_UNAVAILABLE' -Message "the hyper-v powershell module cannot be loaded: $($_.Exception.Message)" `
            -Details (New-HypervUnavailableDetails -Component 'module' -Name 'Hyper-V' -State $null)
    }
}

# Loads Hyper-V when the operation needs it, then runs the operation's handler.
function Invoke-AgentOperation {
    param([Parameter(Mandatory = $true)] [hashtable] $Request)
    if ($script:AgentOperationsWithoutHyperV -notcontains $Request.operation) {
        Set-AgentStep -Step 'load hyper-v'
        Assert-HyperVAvailable
    }
    Set-AgentStep -Step $Request.operation
    & $script:AgentOperations[$Request.operation] -Request $Request
}

# Runs an operation: its information and warning streams (Write-Host and Write-Warning
# of any module included) become log lines as they arrive, its one result record is
# returned, and any other pipeline output is discarded.
function Invoke-AgentHandler {
    param([Parameter(Mandatory = $true)] [hashtable] $Request)
    $results = New-Object -TypeName System.Collections.ArrayList
    $stray = 0
    Invoke-AgentOperation -Request $Request 3>&1 6>&1 | ForEach-Object {
        $item = $_
        if ($item -is [System.Management.Automation.InformationRecord]) {
            Write-AgentLog -Level 'info' -Message ([string]$item.MessageData)
        } elseif ($item -is [System.Management.Automation.WarningRecord]) {
            Write-AgentLog -Level 'warning' -Message ([string]$item.Message)
        } elseif ($item -is [System.Collections.Specialized.OrderedDictionary]) {
            $null = $results.Add($item)
        } else {
            $stray++
        }
    }
    if ($stray -gt 0) {
        Write-AgentLog -Level 'warning' -Message "discarded $stray unexpected pipeline objects written by $($Request.operation)"
    }
    if ($results.Count -ne 1) {
        Stop-AgentOperation -Code 'INTERNAL' -Message "the $($Request.operation) handler produced $($results.Count) result records instead of one" `
            -Details (New-InternalDetails -ExceptionType 'AetherV.ResultCount' -ScriptStackTrace $null)
    }
    $results[0]
}

# The dispatcher: reads the request line, runs the operation, writes log/progress lines and
# exactly one result line, and returns the process exit code (0 ok, 1 otherwise).
function Invoke-AetherVAgent {
    param(
        [Parameter(Mandatory = $true)] [AllowEmptyString()] [string] $RequestLine,
        [Parameter(Mandatory = $true)] [string] $AgentSha256
    )
    $ErrorActionPreference = 'Stop'
    $ProgressPreference = 'SilentlyContinue'
    $InformationPreference = 'Continue'
    $WarningPreference = 'Continue'
    $VerbosePreference = 'SilentlyContinue'
    $ConfirmPreference = 'None'
    Initialize-AgentOutput
    $script:AgentSha256 = $AgentSha256
    $script:AgentStep = $null
    $script:AgentStepJson = 'null'
    $script:AgentWarnings = New-Object -TypeName System.Collections.ArrayList
    $exitCode = 1
    try {
        $request = Read-AgentRequest -RequestLine $RequestLine
        Write-AgentLog -Level 'info' -Message "running $($request.operation) (correlation id $($request.correlation_id)) with agent $($script:AgentVersion)"
        $data = Invoke-AgentHandler -Request $request
        Write-AgentResult -Data $data
        $exitCode = 0
    } catch {
        Write-AgentFailure -AgentError (ConvertTo-AgentError -ErrorRecord $_)
        $exitCode = 1
    } finally {
        if (-not $script:AgentResultWritten) {
            # Stopped by ctrl+c: catch blocks do not run and commands can no longer be
            # called, so this CANCELLED result (error.schema.json#/$defs/cancelled) is
            # written with .NET calls only.
            $script:AgentOut.WriteLine('{"type":"result","ok":false,"error":{"code":"CANCELLED","message":"the operation was interrupted","details":{"step":' + $script:AgentStepJson + '}}}')
            $script:AgentResultWritten = $true
        }
        $script:AgentOut.Flush()
    }
    $exitCode
}
