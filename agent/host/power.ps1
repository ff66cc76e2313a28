# Aether-V host agent: power (Windows PowerShell 5.1).
#
# vm.power: checks the VM's state against Hyper-V's rules (the table below is
# services/hyperv vm_state.rs), runs the cmdlet, and waits until the VM reaches the
# action's final state. A graceful shutdown runs as a job so the agent can give up after
# shutdown_timeout_seconds and, when asked, turn the VM off instead.

$script:PowerRules = @{
    'start'    = @{ From = @('Off', 'Saved', 'Paused'); To = 'Running'; Cmdlet = 'Start-VM' }
    'shutdown' = @{ From = @('Running'); To = 'Off'; Cmdlet = 'Stop-VM' }
    'stop'     = @{ From = @('Running', 'Paused', 'Saved'); To = 'Off'; Cmdlet = 'Stop-VM' }
    'reset'    = @{ From = @('Running'); To = 'Running'; Cmdlet = 'Restart-VM' }
    'save'     = @{ From = @('Running', 'Paused'); To = 'Saved'; Cmdlet = 'Save-VM' }
    'pause'    = @{ From = @('Running'); To = 'Paused'; Cmdlet = 'Suspend-VM' }
    'resume'   = @{ From = @('Paused'); To = 'Running'; Cmdlet = 'Resume-VM' }
}
$script:PowerActionNames = @('start', 'shutdown', 'stop', 'reset', 'save', 'pause', 'resume')
$script:DefaultShutdownTimeoutSeconds = 300
$script:StateSettleTimeoutSeconds = 120

# record: vm.power.result.schema.json
function New-PowerResultRecord {
    param([string] $VmId, [string] $Action, [string] $PreviousState, [string] $State, [bool] $TurnedOffAfterTimeout)
    [ordered]@{
        vm_id                    = $VmId
        action                   = $Action
        previous_state           = $PreviousState
        state                    = $State
        turned_off_after_timeout = $TurnedOffAfterTimeout
    }
}

function Get-VmStateName {
    param([Parameter(Mandatory = $true)] [string] $VmId)
    ConvertTo-VmStateName -State (Get-AgentVm -VmId $VmId).State
}

# Free physical memory of the host, or $null when it cannot be read.
function Get-HostFreeMemoryBytes {
    try {
        [long](Get-HostOperatingSystem).FreePhysicalMemory * 1024
    } catch {
        $null
    }
}

function Stop-InsufficientMemory {
    param([long] $RequiredBytes, [AllowNull()] $AvailableBytes, [string] $VmName)
    $available = if ($null -ne $AvailableBytes) { [long]$AvailableBytes } else { [long]0 }
    Stop-AgentOperation -Code 'INSUFFICIENT_RESOURCES' `
        -Message "the host has $available bytes of memory free; vm $VmName needs $RequiredBytes to start" `
        -Details (New-InsufficientResourcesDetails -Resource 'memory' -RequiredBytes $RequiredBytes -AvailableBytes $available -Path $null)
}

# Start-VM, answering INSUFFICIENT_RESOURCES when the host cannot give the VM its memory.
function Start-AgentVm {
    param([Parameter(Mandatory = $true)] $Vm, [Parameter(Mandatory = $true)] [string] $PreviousState)
    $required = [long]$Vm.MemoryStartup
    $free = Get-HostFreeMemoryBytes
    if ($PreviousState -ne 'Paused' -and $null -ne $free -and $required -gt $free) {
        Stop-InsufficientMemory -RequiredBytes $required -AvailableBytes $free -VmName $Vm.Name
    }
    try {
        Start-VM -VM $Vm -ErrorAction Stop
    } catch {
        if (Test-AgentError -ErrorRecord $_) { throw }
        if ($_.Exception.Message -match 'memory') {
            Stop-InsufficientMemory -RequiredBytes $required -AvailableBytes (Get-HostFreeMemoryBytes) -VmName $Vm.Name
        }
        Stop-OperationFailed -Cmdlet 'Start-VM' -ErrorRecord $_
    }
}

# Asks the guest to shut down and waits; returns $true when it had to turn the VM off.
function Stop-AgentVmGracefully {
    param(
        [Parameter(Mandatory = $true)] $Vm,
        [Parameter(Mandatory = $true)] [int] $TimeoutSeconds,
        [Parameter(Mandatory = $true)] [bool] $TurnOffAfterTimeout
    )
    $id = Get-VmIdText -Vm $Vm
    $job = Invoke-AgentCmdlet -Name 'Stop-VM' -Parameters @{ VM = $Vm; Force = $true; AsJob = $true }
    $started = [DateTime]::UtcNow
    $elapsed = 0
    try {
        while ($true) {
            if ((Get-VmStateName -VmId $id) -eq 'Off') { return $false }
            if ($job.State.ToString() -eq 'Failed') {
                $reason = $job.ChildJobs | ForEach-Object { $_.JobStateInfo.Reason } | Where-Object { $null -ne $_ } | Select-Object -First 1
                $message = if ($null -ne $reason) { [string]$reason.Message } else { 'the shutdown job failed' }
                Stop-OperationFailedWith -Cmdlet 'Stop-VM' -Message $message
            }
            $elapsed = ([DateTime]::UtcNow - $started).TotalSeconds
            if ($elapsed -ge $TimeoutSeconds) { break }
            Write-AgentProgress -Step 'shutdown' -Percent ([int](10 + 80 * $elapsed / $TimeoutSeconds)) -Message "waiting for the guest to shut down ($([int]$elapsed) of $TimeoutSeconds s)"
            Start-Sleep -Seconds 1
        }
    } finally {
        Remove-Job -Job $job -Force -ErrorAction SilentlyContinue
    }
    if (-not $TurnOffAfterTimeout) {
        Stop-AgentOperation -Code 'TIMEOUT' -Message "vm $($Vm.Name) did not shut down within $TimeoutSeconds s; it is still running" `
            -Details (New-TimeoutDetails -Step 'guest shutdown' -WaitedSeconds ([long]$elapsed))
    }
    Write-AgentLog -Level 'warning' -Message "vm $($Vm.Name) did not shut down within $TimeoutSeconds s; turning it off"
    Invoke-AgentCmdlet -Name 'Stop-VM' -Parameters @{ VM = $Vm; TurnOff = $true; Force = $true }
    $true
}

# Waits until the VM is in $State; returns it. TIMEOUT when it does not get there.
function Wait-VmState {
    param(
        [Parameter(Mandatory = $true)] [string] $VmId,
        [Parameter(Mandatory = $true)] [string] $State,
        [Parameter(Mandatory = $true)] [string] $Step
    )
    $started = [DateTime]::UtcNow
    while ($true) {
        $current = Get-VmStateName -VmId $VmId
        if ($current -eq $State) { return $current }
        $elapsed = ([DateTime]::UtcNow - $started).TotalSeconds
        if ($elapsed -ge $script:StateSettleTimeoutSeconds) {
            Stop-AgentOperation -Code 'TIMEOUT' -Message "vm $VmId is $current, not $State, $([int]$elapsed) s after $Step" `
                -Details (New-TimeoutDetails -Step "$Step to reach $State" -WaitedSeconds ([long]$elapsed))
        }
        Start-Sleep -Milliseconds 500
    }
}

# vm.power: one power action on one VM.
function Invoke-VmPowerOperation {
    param([Parameter(Mandatory = $true)] [hashtable] $Request)
    $params = Read-AgentParams -Request $Request -Spec @{
        vm_id                    = @{ Type = 'guid'; Required = $true }
        action                   = @{ Type = 'enum'; Required = $true; Values = $script:PowerActionNames }
        shutdown_timeout_seconds = @{ Type = 'int'; Min = 1; Max = 3600 }
        turn_off_after_timeout   = @{ Type = 'bool' }
    }
    $action = $params.action
    if ($action -ne 'shutdown') {
        foreach ($name in @('shutdown_timeout_seconds', 'turn_off_after_timeout')) {
            if ($params.ContainsKey($name)) { Stop-InvalidParam -Name $name -Message 'only applies to the shutdown action' }
        }
    }
    $rule = $script:PowerRules[$action]
    $vm = Get-AgentVm -VmId $params.vm_id
    $previous = ConvertTo-VmStateName -State $vm.State
    if ($rule.From -notcontains $previous) {
        Stop-InvalidState -VmId $params.vm_id -State $previous -AllowedStates $rule.From -Action $action
    }
    Set-AgentStep -Step $action
    Write-AgentLog -Level 'info' -Message "$action vm $($vm.Name) ($($params.vm_id)), now $previous, with $($rule.Cmdlet)"
    Write-AgentProgress -Step $action -Percent 10 -Message "$($rule.Cmdlet) $($vm.Name)"
    $turnedOff = $false
    switch ($action) {
        'start' { Start-AgentVm -Vm $vm -PreviousState $previous }
        'shutdown' {
            $timeout = if ($params.ContainsKey('shutdown_timeout_seconds')) { [int]$params.shutdown_timeout_seconds } else { $script:DefaultShutdownTimeoutSeconds }
            $turnOff = $params.ContainsKey('turn_off_after_timeout') -and [bool]$params.turn_off_after_timeout
            $turnedOff = Stop-AgentVmGracefully -Vm $vm -TimeoutSeconds $timeout -TurnOffAfterTimeout $turnOff
        }
        'stop' { Invoke-AgentCmdlet -Name 'Stop-VM' -Parameters @{ VM = $vm; TurnOff = $true; Force = $true } }
        'reset' { Invoke-AgentCmdlet -Name 'Restart-VM' -Parameters @{ VM = $vm; Force = $true } }
        'save' { Invoke-AgentCmdlet -Name 'Save-VM' -Parameters @{ VM = $vm } }
        'pause' { Invoke-AgentCmdlet -Name 'Suspend-VM' -Parameters @{ VM = $vm } }
        'resume' { Invoke-AgentCmdlet -Name 'Resume-VM' -Parameters @{ VM = $vm } }
    }
    Write-AgentProgress -Step $action -Percent 90 -Message "waiting for $($rule.To)"
    $state = Wait-VmState -VmId $params.vm_id -State $rule.To -Step $action
    Write-AgentProgress -Step $action -Percent 100 -Message $state
    New-PowerResultRecord -VmId $params.vm_id -Action $action -PreviousState $previous -State $state -TurnedOffAfterTimeout ([bool]$turnedOff)
}
