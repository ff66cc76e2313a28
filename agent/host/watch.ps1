# Aether-V host agent: inventory.watch (Windows PowerShell 5.1).
#
# Subscribes to WMI instance events of the Hyper-V provider (root\virtualization\v2) with
# Register-CimIndicationEvent: VMs created, deleted or changing state (Msvm_ComputerSystem
# with Caption 'Virtual Machine'), and changes of their settings (system, processor,
# memory, drive, disk and network adapter setting data), each mapped to its VM's id. Then
# it waits for events (Wait-Event -Timeout 1) until the requested time has passed,
# writing one event line per change and removing every event it handled. Bursts are
# coalesced: a second change of the same VM within a second of the line written for it is
# held back and written once, when that second is over. The subscriptions are always
# removed (finally), also when the operation is interrupted; terminating the process
# removes them with it.

$script:WatchNamespace = 'root\virtualization\v2'
$script:WatchSourcePrefix = 'AetherV.Watch.'
$script:WatchVmIdPattern = '^Microsoft:([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})'

# The subscriptions: name -> WQL. 'vm-*' are about Msvm_ComputerSystem (the VM's id is its
# Name); the others are setting data (the VM's id is in VirtualSystemIdentifier or at the
# start of InstanceID). State changes are filtered to the properties that matter, so the
# uptime counters of running VMs do not fire every second.
function Get-WatchSubscriptions {
    $vm = "TargetInstance ISA 'Msvm_ComputerSystem' AND TargetInstance.Caption = 'Virtual Machine'"
    $subscriptions = [System.Collections.Specialized.OrderedDictionary]::new()
    $subscriptions.Add('vm-created', "SELECT * FROM __InstanceCreationEvent WITHIN 1 WHERE $vm")
    $subscriptions.Add('vm-deleted', "SELECT * FROM __InstanceDeletionEvent WITHIN 1 WHERE $vm")
    $subscriptions.Add('vm-modified', "SELECT * FROM __InstanceModificationEvent WITHIN 1 WHERE $vm AND (TargetInstance.EnabledState <> PreviousInstance.EnabledState OR TargetInstance.ElementName <> PreviousInstance.ElementName OR TargetInstance.HealthState <> PreviousInstance.HealthState)")
    foreach ($class in @(
            'Msvm_VirtualSystemSettingData',
            'Msvm_ProcessorSettingData',
            'Msvm_MemorySettingData',
            'Msvm_ResourceAllocationSettingData',
            'Msvm_StorageAllocationSettingData',
            'Msvm_SyntheticEthernetPortSettingData',
            'Msvm_EthernetPortAllocationSettingData'
        )) {
        $subscriptions.Add("settings-$class", "SELECT * FROM __InstanceOperationEvent WITHIN 1 WHERE TargetInstance ISA '$class'")
    }
    $subscriptions
}

# record: output-line.schema.json#/$defs/event
function New-EventLineRecord {
    param([string] $Kind, [string] $Change, [AllowNull()] $VmId)
    [ordered]@{
        type   = 'event'
        kind   = $Kind
        change = $Change
        vm_id  = $VmId
    }
}

# record: inventory.watch.result.schema.json
function New-InventoryWatchResultRecord {
    param([long] $Events, [long] $WatchedSeconds)
    [ordered]@{
        events          = [long]$Events
        watched_seconds = [long]$WatchedSeconds
    }
}

# The VM id (lower case) of a setting data instance, or $null.
function Get-WatchSettingVmId {
    param([AllowNull()] $Instance)
    if ($null -eq $Instance) { return $null }
    $identifier = ConvertTo-NullableString -Value $Instance.VirtualSystemIdentifier
    if ($null -ne $identifier -and $identifier.ToLowerInvariant() -cmatch $script:GuidPattern) {
        return $identifier.ToLowerInvariant()
    }
    $instanceId = [string]$Instance.InstanceID
    if ($instanceId -match $script:WatchVmIdPattern) { return $Matches[1].ToLowerInvariant() }
    $null
}

# The event line of one PowerShell event of a watch subscription: (key, record).
function ConvertTo-WatchLine {
    param([Parameter(Mandatory = $true)] $AgentEvent)
    $indication = $AgentEvent.SourceEventArgs.NewEvent
    $target = $indication.TargetInstance
    $name = [string]$AgentEvent.SourceIdentifier
    $vmId = $null
    $change = 'modified'
    if ($name.StartsWith($script:WatchSourcePrefix + 'vm-')) {
        $text = [string]$target.Name
        if ($text.ToLowerInvariant() -cmatch $script:GuidPattern) { $vmId = $text.ToLowerInvariant() }
        $class = [string]$indication.CimClass.CimClassName
        if ($class -eq '__InstanceCreationEvent') { $change = 'created' }
        if ($class -eq '__InstanceDeletionEvent') { $change = 'deleted' }
    } else {
        $vmId = Get-WatchSettingVmId -Instance $target
    }
    if ($null -eq $vmId) {
        return @('host', (New-EventLineRecord -Kind 'host' -Change 'modified' -VmId $null))
    }
    @("$change $vmId", (New-EventLineRecord -Kind 'vm' -Change $change -VmId $vmId))
}

# inventory.watch: event lines for changes on the host until params.seconds have passed.
function Invoke-InventoryWatchOperation {
    param([Parameter(Mandatory = $true)] [hashtable] $Request)
    $params = Read-AgentParams -Request $Request -Spec @{
        seconds = @{ Type = 'int'; Min = 1; Max = 3600 }
    }
    $seconds = 300
    if ($params.ContainsKey('seconds')) { $seconds = [int]$params.seconds }
    $started = [DateTime]::UtcNow
    $until = $started.AddSeconds($seconds)
    $sources = New-Object -TypeName System.Collections.ArrayList
    $written = [long]0
    # key -> time its last line was written; key -> line held back since.
    $lastWritten = @{}
    $held = [System.Collections.Specialized.OrderedDictionary]::new()
    try {
        Set-AgentStep -Step 'subscribe'
        $subscriptions = Get-WatchSubscriptions
        foreach ($name in $subscriptions.Keys) {
            $source = $script:WatchSourcePrefix + $name + '.' + [guid]::NewGuid().ToString()
            $null = Invoke-AgentCmdlet -Name 'Register-CimIndicationEvent' -Parameters @{
                Namespace        = $script:WatchNamespace
                Query            = $subscriptions[$name]
                SourceIdentifier = $source
            }
            $null = $sources.Add($source)
        }
        Write-AgentLog -Level 'info' -Message "watching $($sources.Count) event subscriptions for $seconds seconds"
        Set-AgentStep -Step 'watch'
        while ([DateTime]::UtcNow -lt $until) {
            $null = Wait-Event -Timeout 1
            $now = [DateTime]::UtcNow
            foreach ($item in @(Get-Event)) {
                $identifier = [string]$item.SourceIdentifier
                if ($identifier.StartsWith($script:WatchSourcePrefix)) {
                    $line = ConvertTo-WatchLine -AgentEvent $item
                    $key = $line[0]
                    if ($lastWritten.ContainsKey($key) -and ($now - $lastWritten[$key]).TotalSeconds -lt 1) {
                        $held[$key] = $line[1]
                    } else {
                        Write-AgentLine -Record $line[1]
                        $written++
                        $lastWritten[$key] = $now
                    }
                }
                Remove-Event -EventIdentifier $item.EventIdentifier -ErrorAction SilentlyContinue
            }
            foreach ($key in @($held.Keys)) {
                if (($now - $lastWritten[$key]).TotalSeconds -ge 1) {
                    Write-AgentLine -Record $held[$key]
                    $written++
                    $lastWritten[$key] = $now
                    $held.Remove($key)
                }
            }
        }
        foreach ($key in @($held.Keys)) {
            Write-AgentLine -Record $held[$key]
            $written++
        }
    } finally {
        foreach ($source in $sources) {
            Unregister-Event -SourceIdentifier $source -ErrorAction SilentlyContinue
            Remove-Event -SourceIdentifier $source -ErrorAction SilentlyContinue
        }
    }
    $watched = [long][Math]::Floor(([DateTime]::UtcNow - $started).TotalSeconds)
    New-InventoryWatchResultRecord -Events $written -WatchedSeconds $watched
}
