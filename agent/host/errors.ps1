# Aether-V host agent: errors (Windows PowerShell 5.1).
#
# The closed list of error codes (schemas/agent/error.schema.json): one detail record per
# code, the Stop-* functions that end an operation with an error, the mapping of any other
# failure to OPERATION_FAILED (a cmdlet) or INTERNAL (a defect), and the warnings of
# partial failures.

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
        [Parameter(Mandatory = $true)] [AllowEmptyString()] [string] $Message,
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
