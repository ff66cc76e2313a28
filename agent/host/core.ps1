# Aether-V host agent: core (Windows PowerShell 5.1).
#
# The dispatcher Invoke-AetherVAgent, the output protocol (one compact JSON object per line
# on stdout: log and progress lines, then exactly one result line), the closed list of
# error codes and their detail records, request and parameter validation, and the helpers
# every operation file uses. The bootstrap dot-sources the whole bundle (this file first,
# then host, inventory, power, vm, disk, nic) and calls Invoke-AetherVAgent with the
# request line. The contract is schemas/agent/ in the Aether-V repository.
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
# Errors: a closed list of codes, each with details of a fixed shape.

# record: error.schema.json
function New-AgentErrorRecord {
    param([string] $Code, [string] $Message, [System.Collections.IDictionary] $Details)
    if ([string]::IsNullOrWhiteSpace($Message)) { $Message = $Code.ToLowerInvariant() }
    [ordered]@{
        code    = $Code
        message = $Message
        details = $Details
    }
}

# record: error.schema.json#/$defs/field-error
function New-FieldErrorRecord {
    param([string] $Pointer, [string] $Message)
    [ordered]@{
        pointer = $Pointer
        message = $Message
    }
}

# record: error.schema.json#/$defs/invalid-request
function New-InvalidRequestDetails {
    param([object[]] $Errors)
    [ordered]@{
        errors = @($Errors)
    }
}

# record: error.schema.json#/$defs/unsupported-protocol
function New-UnsupportedProtocolDetails {
    param([AllowNull()] $Requested)
    [ordered]@{
        requested = $Requested
        supported = @($script:AgentProtocolVersions)
    }
}

# record: error.schema.json#/$defs/unsupported-operation
function New-UnsupportedOperationDetails {
    param([string] $Operation)
    [ordered]@{
        operation = $Operation
        supported = @($script:AgentOperations.Keys)
    }
}

# record: error.schema.json#/$defs/hyperv-unavailable
function New-HypervUnavailableDetails {
    param([string] $Component, [string] $Name, [AllowNull()] $State)
    [ordered]@{
        component = $Component
        name      = $Name
        state     = ConvertTo-NullableString -Value $State
    }
}

# record: error.schema.json#/$defs/vm-not-found
function New-VmNotFoundDetails {
    param([string] $VmId)
    [ordered]@{
        vm_id = $VmId
    }
}

# record: error.schema.json#/$defs/not-found
function New-NotFoundDetails {
    param([string] $Kind, [string] $Name, [object[]] $Available)
    [ordered]@{
        kind      = $Kind
        name      = $Name
        available = @($Available | ForEach-Object { [string]$_ })
    }
}

# record: error.schema.json#/$defs/already-exists
function New-AlreadyExistsDetails {
    param([string] $Kind, [string] $Name)
    [ordered]@{
        kind = $Kind
        name = $Name
    }
}

# record: error.schema.json#/$defs/invalid-state
function New-InvalidStateDetails {
    param([string] $VmId, [string] $State, [string[]] $AllowedStates)
    [ordered]@{
        vm_id          = $VmId
        state          = $State
        allowed_states = @($AllowedStates)
    }
}

# record: error.schema.json#/$defs/insufficient-resources
function New-InsufficientResourcesDetails {
    param([string] $Resource, [long] $RequiredBytes, [long] $AvailableBytes, [AllowNull()] $Path)
    [ordered]@{
        resource        = $Resource
        required_bytes  = [long][Math]::Max(0, $RequiredBytes)
        available_bytes = [long][Math]::Max(0, $AvailableBytes)
        path            = ConvertTo-NullableString -Value $Path
    }
}

# record: error.schema.json#/$defs/operation-failed
function New-OperationFailedDetails {
    param([string] $Cmdlet, [string] $Message, [AllowNull()] $ErrorId)
    [ordered]@{
        cmdlet   = $Cmdlet
        message  = $Message
        error_id = ConvertTo-NullableString -Value $ErrorId
    }
}

# record: error.schema.json#/$defs/timeout
function New-TimeoutDetails {
    param([string] $Step, [long] $WaitedSeconds)
    [ordered]@{
        step           = $Step
        waited_seconds = [long][Math]::Max(0, $WaitedSeconds)
    }
}

# record: error.schema.json#/$defs/cancelled
function New-CancelledDetails {
    param([AllowNull()] $Step)
    [ordered]@{
        step = ConvertTo-NullableString -Value $Step
    }
}

# record: error.schema.json#/$defs/internal
function New-InternalDetails {
    param([string] $ExceptionType, [AllowNull()] $ScriptStackTrace)
    [ordered]@{
        exception_type     = $ExceptionType
        script_stack_trace = ConvertTo-NullableString -Value $ScriptStackTrace
    }
}

# record: defs.schema.json#/$defs/warning
function New-WarningRecord {
    param([string] $Source, [string] $Message, [AllowNull()] $VmId)
    [ordered]@{
        source  = $Source
        message = $Message
        vm_id   = ConvertTo-NullableString -Value $VmId
    }
}

# Records a partial failure: inventory returns the list, every operation logs it.
function Add-AgentWarning {
    param(
        [Parameter(Mandatory = $true)] [string] $Source,
        [Parameter(Mandatory = $true)] [string] $Message,
        [AllowNull()] $VmId
    )
    $null = $script:AgentWarnings.Add((New-WarningRecord -Source $Source -Message $Message -VmId $VmId))
    $about = if ($null -ne $VmId) { " (vm $VmId)" } else { '' }
    Write-AgentLog -Level 'warning' -Message "${Source}${about}: $Message"
}

# Ends the operation with an agent error. The record travels beside the exception (the
# dispatcher recognises the exception by reference, however PowerShell wraps it).
function Stop-AgentOperation {
    param(
        [Parameter(Mandatory = $true)] [string] $Code,
        [Parameter(Mandatory = $true)] [string] $Message,
        [Parameter(Mandatory = $true)] [System.Collections.IDictionary] $Details
    )
    if ($script:AgentErrorCodes -notcontains $Code) {
        $Details = New-InternalDetails -ExceptionType 'AetherV.UnknownErrorCode' -ScriptStackTrace $null
        $Message = "the agent used an error code outside the closed list: $Code"
        $Code = 'INTERNAL'
    }
    $exception = New-Object -TypeName System.InvalidOperationException -ArgumentList $Message
    $script:AgentErrorException = $exception
    $script:AgentErrorRecord = New-AgentErrorRecord -Code $Code -Message $Message -Details $Details
    throw $exception
}

function Stop-InvalidRequest {
    param([Parameter(Mandatory = $true)] [object[]] $Errors)
    $first = $Errors[0]
    $at = if ($first.pointer) { $first.pointer } else { '/' }
    Stop-AgentOperation -Code 'INVALID_REQUEST' -Message "invalid request: ${at}: $($first.message)" `
        -Details (New-InvalidRequestDetails -Errors $Errors)
}

function Stop-InvalidParam {
    param([Parameter(Mandatory = $true)] [string] $Name, [Parameter(Mandatory = $true)] [string] $Message)
    Stop-InvalidRequest -Errors @(New-FieldErrorRecord -Pointer "/params/$Name" -Message $Message)
}

function Stop-VmNotFound {
    param([Parameter(Mandatory = $true)] [string] $VmId)
    Stop-AgentOperation -Code 'VM_NOT_FOUND' -Message "no vm with id $VmId on this host" `
        -Details (New-VmNotFoundDetails -VmId $VmId)
}

function Stop-NotFound {
    param(
        [Parameter(Mandatory = $true)] [string] $Kind,
        [Parameter(Mandatory = $true)] [string] $Name,
        [AllowEmptyCollection()] [object[]] $Available = @()
    )
    $label = $Kind.Replace('_', ' ')
    Stop-AgentOperation -Code 'NOT_FOUND' -Message "no $label named $Name on this host" `
        -Details (New-NotFoundDetails -Kind $Kind -Name $Name -Available $Available)
}

function Stop-AlreadyExists {
    param([Parameter(Mandatory = $true)] [string] $Kind, [Parameter(Mandatory = $true)] [string] $Name)
    $what = if ($Kind -eq 'vm') { "a vm named $Name" } else { "a file at $Name" }
    Stop-AgentOperation -Code 'ALREADY_EXISTS' -Message "$what exists already" `
        -Details (New-AlreadyExistsDetails -Kind $Kind -Name $Name)
}

function Stop-InvalidState {
    param(
        [Parameter(Mandatory = $true)] [string] $VmId,
        [Parameter(Mandatory = $true)] [string] $State,
        [Parameter(Mandatory = $true)] [string[]] $AllowedStates,
        [Parameter(Mandatory = $true)] [string] $Action
    )
    Stop-AgentOperation -Code 'INVALID_STATE' `
        -Message "cannot $Action vm $VmId while it is $State; allowed when $($AllowedStates -join ' or ')" `
        -Details (New-InvalidStateDetails -VmId $VmId -State $State -AllowedStates $AllowedStates)
}

function Stop-InsufficientDiskSpace {
    param([long] $RequiredBytes, [long] $AvailableBytes, [string] $Path)
    Stop-AgentOperation -Code 'INSUFFICIENT_RESOURCES' `
        -Message "the volume of $Path has $AvailableBytes bytes free; $RequiredBytes are needed" `
        -Details (New-InsufficientResourcesDetails -Resource 'disk_space' -RequiredBytes $RequiredBytes -AvailableBytes $AvailableBytes -Path $Path)
}

# A cmdlet failed for a reason no more specific code covers.
function Stop-OperationFailed {
    param(
        [Parameter(Mandatory = $true)] [string] $Cmdlet,
        [Parameter(Mandatory = $true)] [System.Management.Automation.ErrorRecord] $ErrorRecord
    )
    $message = [string]$ErrorRecord.Exception.Message
    Stop-AgentOperation -Code 'OPERATION_FAILED' -Message "$Cmdlet failed: $message" `
        -Details (New-OperationFailedDetails -Cmdlet $Cmdlet -Message $message -ErrorId $ErrorRecord.FullyQualifiedErrorId)
}

function Stop-OperationFailedWith {
    param([Parameter(Mandatory = $true)] [string] $Cmdlet, [Parameter(Mandatory = $true)] [string] $Message)
    Stop-AgentOperation -Code 'OPERATION_FAILED' -Message "$Cmdlet failed: $Message" `
        -Details (New-OperationFailedDetails -Cmdlet $Cmdlet -Message $Message -ErrorId $null)
}

# Whether an error record carries an agent error raised by Stop-AgentOperation.
function Test-AgentError {
    param([Parameter(Mandatory = $true)] [System.Management.Automation.ErrorRecord] $ErrorRecord)
    $exception = $ErrorRecord.Exception
    while ($null -ne $exception) {
        if ([object]::ReferenceEquals($exception, $script:AgentErrorException)) { return $true }
        $exception = $exception.InnerException
    }
    $false
}

# The agent error for anything that ended an operation.
function ConvertTo-AgentError {
    param([Parameter(Mandatory = $true)] [System.Management.Automation.ErrorRecord] $ErrorRecord)
    if (Test-AgentError -ErrorRecord $ErrorRecord) { return $script:AgentErrorRecord }
    $exception = $ErrorRecord.Exception
    if ($exception -is [System.Management.Automation.PipelineStoppedException]) {
        return New-AgentErrorRecord -Code 'CANCELLED' -Message 'the operation was interrupted' `
            -Details (New-CancelledDetails -Step $script:AgentStep)
    }
    $type = $exception.GetType().FullName
    New-AgentErrorRecord -Code 'INTERNAL' -Message "unexpected $type in the agent: $($exception.Message)" `
        -Details (New-InternalDetails -ExceptionType $type -ScriptStackTrace $ErrorRecord.ScriptStackTrace)
}

# Runs a cmdlet; any failure becomes OPERATION_FAILED naming it.
function Invoke-AgentCmdlet {
    param(
        [Parameter(Mandatory = $true)] [string] $Name,
        [System.Collections.IDictionary] $Parameters = @{}
    )
    try {
        & $Name @Parameters -ErrorAction Stop
    } catch {
        if (Test-AgentError -ErrorRecord $_) { throw }
        Stop-OperationFailed -Cmdlet $Name -ErrorRecord $_
    }
}

# ---------------------------------------------------------------------------------------
# Requests and parameters.

function Test-JsonObject {
    param([AllowNull()] $Value)
    $null -ne $Value -and $Value.GetType().FullName -eq 'System.Management.Automation.PSCustomObject'
}

function Get-JsonProperty {
    param([Parameter(Mandatory = $true)] $Object, [Parameter(Mandatory = $true)] [string] $Name)
    $Object.PSObject.Properties[$Name]
}

function ConvertTo-PointerToken {
    param([string] $Name)
    $Name.Replace('~', '~0').Replace('/', '~1')
}

function Test-JsonInteger {
    param([AllowNull()] $Value)
    $Value -is [int] -or $Value -is [long]
}

# Parses and checks the request line: protocol first, then operation, then the rest.
function Read-AgentRequest {
    param([Parameter(Mandatory = $true)] [AllowEmptyString()] [string] $RequestLine)
    $line = $RequestLine.TrimStart([char]0xFEFF).TrimEnd("`r", "`n")
    $request = $null
    try {
        $request = ConvertFrom-Json -InputObject $line -ErrorAction Stop
    } catch {
        $request = $null
    }
    if (-not (Test-JsonObject -Value $request)) {
        Stop-InvalidRequest -Errors @(New-FieldErrorRecord -Pointer '' -Message 'is not a json object')
    }
    $protocol = Get-JsonProperty -Object $request -Name 'protocol'
    if ($null -eq $protocol -or -not (Test-JsonInteger -Value $protocol.Value) -or $script:AgentProtocolVersions -notcontains $protocol.Value) {
        $requested = if ($null -ne $protocol -and (Test-JsonInteger -Value $protocol.Value)) { [long]$protocol.Value } else { $null }
        Stop-AgentOperation -Code 'UNSUPPORTED_PROTOCOL' `
            -Message "protocol version $requested is not supported; this agent speaks $($script:AgentProtocolVersions -join ', ')" `
            -Details (New-UnsupportedProtocolDetails -Requested $requested)
    }
    $errors = New-Object -TypeName System.Collections.ArrayList
    $operation = Get-JsonProperty -Object $request -Name 'operation'
    if ($null -eq $operation -or $operation.Value -isnot [string]) {
        $null = $errors.Add((New-FieldErrorRecord -Pointer '/operation' -Message 'is required and must be a string'))
    } elseif (-not $script:AgentOperations.Contains([string]$operation.Value)) {
        Stop-AgentOperation -Code 'UNSUPPORTED_OPERATION' -Message "operation $($operation.Value) is not supported" `
            -Details (New-UnsupportedOperationDetails -Operation ([string]$operation.Value))
    }
    $correlation = Get-JsonProperty -Object $request -Name 'correlation_id'
    if ($null -eq $correlation -or $correlation.Value -isnot [string] -or $correlation.Value -cnotmatch $script:CorrelationIdPattern) {
        $null = $errors.Add((New-FieldErrorRecord -Pointer '/correlation_id' -Message 'must be 1 to 128 letters, digits or . _ : -, starting with a letter or digit'))
    }
    $params = Get-JsonProperty -Object $request -Name 'params'
    if ($null -eq $params -or -not (Test-JsonObject -Value $params.Value)) {
        $null = $errors.Add((New-FieldErrorRecord -Pointer '/params' -Message 'is required and must be an object'))
    }
    foreach ($property in $request.PSObject.Properties) {
        if (@('protocol', 'operation', 'correlation_id', 'params') -notcontains $property.Name) {
            $null = $errors.Add((New-FieldErrorRecord -Pointer ('/' + (ConvertTo-PointerToken -Name $property.Name)) -Message 'is not an allowed field'))
        }
    }
    if ($errors.Count -gt 0) { Stop-InvalidRequest -Errors $errors.ToArray() }
    @{
        operation      = [string]$operation.Value
        correlation_id = [string]$correlation.Value
        params         = $params.Value
    }
}

# The problem with one parameter value, or $null when it follows its rule. Rules are
# hashtables: Type (guid, int, bool, string, enum, guid-list), Required, Nullable, Min,
# Max, MultipleOf, MinLength, MaxLength, Pattern, Values.
function Get-ParamProblem {
    param([Parameter(Mandatory = $true)] $Value, [Parameter(Mandatory = $true)] [hashtable] $Rule)
    switch ($Rule.Type) {
        'guid' {
            if ($Value -isnot [string] -or $Value -cnotmatch $script:GuidPattern) {
                return 'must be a lower-case guid like 0f8fad5b-d9cb-469f-a165-70867728950e'
            }
        }
        'int' {
            if (-not (Test-JsonInteger -Value $Value)) { return 'must be an integer' }
            if ($Rule.ContainsKey('Min') -and $Value -lt $Rule.Min) { return "must be at least $($Rule.Min)" }
            if ($Rule.ContainsKey('Max') -and $Value -gt $Rule.Max) { return "must be at most $($Rule.Max)" }
            if ($Rule.ContainsKey('MultipleOf') -and ([long]$Value % [long]$Rule.MultipleOf) -ne 0) { return "must be a multiple of $($Rule.MultipleOf)" }
        }
        'bool' {
            if ($Value -isnot [bool]) { return 'must be true or false' }
        }
        'string' {
            if ($Value -isnot [string]) { return 'must be a string' }
            if ($Rule.ContainsKey('MinLength') -and $Value.Length -lt $Rule.MinLength) { return "must be at least $($Rule.MinLength) characters" }
            if ($Rule.ContainsKey('MaxLength') -and $Value.Length -gt $Rule.MaxLength) { return "must be at most $($Rule.MaxLength) characters" }
            if ($Rule.ContainsKey('Pattern') -and $Value -cnotmatch $Rule.Pattern) {
                if ($Rule.ContainsKey('Hint')) { return $Rule.Hint }
                return 'has the wrong format'
            }
        }
        'enum' {
            if ($Value -isnot [string] -or $Rule.Values -cnotcontains $Value) { return "must be one of: $($Rule.Values -join ', ')" }
        }
        'guid-list' {
            if ($Value -isnot [array]) { return 'must be an array of vm ids' }
            $seen = @{}
            foreach ($item in $Value) {
                if ($item -isnot [string] -or $item -cnotmatch $script:GuidPattern) { return 'must contain only lower-case guids' }
                if ($seen.ContainsKey($item)) { return 'must not repeat an id' }
                $seen[$item] = $true
            }
        }
        default { return "has an unknown rule type $($Rule.Type)" }
    }
    $null
}

# Checks the request's params against a spec (name -> rule) and returns a hashtable of the
# present values (a present JSON null stays present with the value $null). Unknown fields,
# missing required ones and bad values are all reported at once, as INVALID_REQUEST.
function Read-AgentParams {
    param(
        [Parameter(Mandatory = $true)] [hashtable] $Request,
        [Parameter(Mandatory = $true)] [System.Collections.IDictionary] $Spec
    )
    $params = $Request.params
    $errors = New-Object -TypeName System.Collections.ArrayList
    $values = @{}
    foreach ($property in $params.PSObject.Properties) {
        if (-not $Spec.Contains($property.Name)) {
            $null = $errors.Add((New-FieldErrorRecord -Pointer ('/params/' + (ConvertTo-PointerToken -Name $property.Name)) -Message 'is not an allowed field'))
        }
    }
    foreach ($name in $Spec.Keys) {
        $rule = $Spec[$name]
        $property = Get-JsonProperty -Object $params -Name $name
        $pointer = "/params/$name"
        if ($null -eq $property) {
            if ($rule.Required) { $null = $errors.Add((New-FieldErrorRecord -Pointer $pointer -Message 'is required')) }
            continue
        }
        if ($null -eq $property.Value) {
            if ($rule.Nullable) { $values[$name] = $null }
            else { $null = $errors.Add((New-FieldErrorRecord -Pointer $pointer -Message 'must not be null')) }
            continue
        }
        $problem = Get-ParamProblem -Value $property.Value -Rule $rule
        if ($null -ne $problem) {
            $null = $errors.Add((New-FieldErrorRecord -Pointer $pointer -Message $problem))
            continue
        }
        $value = $property.Value
        if ($rule.Type -eq 'int') { $value = [long]$value }
        if ($rule.Type -eq 'guid-list') { $value = [string[]]@($value) }
        $values[$name] = $value
    }
    if ($errors.Count -gt 0) { Stop-InvalidRequest -Errors $errors.ToArray() }
    $values
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

# Runs a handler: its information and warning streams become log lines as they arrive,
# its one result record is returned, and any other pipeline output is discarded.
function Invoke-AgentHandler {
    param([Parameter(Mandatory = $true)] [string] $Handler, [Parameter(Mandatory = $true)] [hashtable] $Request)
    $results = New-Object -TypeName System.Collections.ArrayList
    $stray = 0
    & $Handler -Request $Request 3>&1 6>&1 | ForEach-Object {
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
        if ($script:AgentOperationsWithoutHyperV -notcontains $request.operation) {
            Set-AgentStep -Step 'load hyper-v'
            Assert-HyperVAvailable
        }
        $data = Invoke-AgentHandler -Handler $script:AgentOperations[$request.operation] -Request $request
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
