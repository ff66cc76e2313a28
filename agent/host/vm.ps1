# Aether-V host agent: virtual machines (Windows PowerShell 5.1).
#
# vm.create (New-VM, Set-VMProcessor, Set-VMMemory, Set-VMFirmware, Set-VM; the network
# adapter New-VM adds is removed; a VM that fails half-way is removed again), vm.update
# (Hyper-V's rules on what needs the VM Off) and vm.delete (cluster role first, then
# Remove-VM, then the disk files when asked, then the VM's folder if it is left empty).

$script:MemorySizeRule = @{ Type = 'int'; Min = 33554432; Max = 13194139533312; MultipleOf = 2097152 }
$script:Generation1MaxCpus = 64
$script:Generation1MaxMemoryBytes = [long]1099511627776

function New-MemoryRule {
    param([bool] $Required = $false)
    $rule = $script:MemorySizeRule.Clone()
    $rule.Required = $Required
    $rule
}

# The field errors of dynamic memory ordering (minimum <= startup <= maximum), as
# services/hyperv checks them.
function Get-MemoryOrderErrors {
    param([AllowNull()] $Minimum, [AllowNull()] $Startup, [AllowNull()] $Maximum)
    $errors = New-Object -TypeName System.Collections.ArrayList
    if ($null -ne $Minimum -and $null -ne $Startup -and $Minimum -gt $Startup) {
        $null = $errors.Add((New-FieldErrorRecord -Pointer '/params/memory_minimum_bytes' -Message 'must not exceed memory_startup_bytes'))
    }
    if ($null -ne $Startup -and $null -ne $Maximum -and $Startup -gt $Maximum) {
        $null = $errors.Add((New-FieldErrorRecord -Pointer '/params/memory_maximum_bytes' -Message 'must not be below memory_startup_bytes'))
    } elseif ($null -ne $Minimum -and $null -ne $Maximum -and $Minimum -gt $Maximum) {
        $null = $errors.Add((New-FieldErrorRecord -Pointer '/params/memory_maximum_bytes' -Message 'must not be below memory_minimum_bytes'))
    }
    $errors.ToArray()
}

function Get-ParamOrNull {
    param([hashtable] $Params, [string] $Name)
    if ($Params.ContainsKey($Name)) { return $Params[$Name] }
    $null
}

function Get-HostLogicalProcessorCount {
    try {
        [int](Get-HostComputerSystem).NumberOfLogicalProcessors
    } catch {
        $null
    }
}

# The VMs of this host named $Name (Hyper-V compares names case-insensitively; no wildcards).
function Find-VmsByName {
    param([Parameter(Mandatory = $true)] [string] $Name)
    @(Invoke-AgentCmdlet -Name 'Get-VM') | Where-Object { $_.Name -eq $Name }
}

# Checks vm.create's cross-field rules and the host's limits.
function Assert-VmCreateRules {
    param([Parameter(Mandatory = $true)] [hashtable] $Params)
    $errors = New-Object -TypeName System.Collections.ArrayList
    $dynamic = [bool]$Params.dynamic_memory_enabled
    $generation = [int]$Params.generation
    foreach ($name in @('memory_minimum_bytes', 'memory_maximum_bytes')) {
        if ($dynamic -and -not $Params.ContainsKey($name)) { $null = $errors.Add((New-FieldErrorRecord -Pointer "/params/$name" -Message 'is required with dynamic memory')) }
        if (-not $dynamic -and $Params.ContainsKey($name)) { $null = $errors.Add((New-FieldErrorRecord -Pointer "/params/$name" -Message 'is only allowed with dynamic memory')) }
    }
    if ($generation -eq 2 -and -not $Params.ContainsKey('secure_boot_enabled')) {
        $null = $errors.Add((New-FieldErrorRecord -Pointer '/params/secure_boot_enabled' -Message 'is required for a generation 2 vm'))
    }
    if ($generation -eq 1) {
        foreach ($name in @('secure_boot_enabled', 'secure_boot_template')) {
            if ($Params.ContainsKey($name)) { $null = $errors.Add((New-FieldErrorRecord -Pointer "/params/$name" -Message 'is only allowed for a generation 2 vm')) }
        }
        if ($Params.cpu_count -gt $script:Generation1MaxCpus) {
            $null = $errors.Add((New-FieldErrorRecord -Pointer '/params/cpu_count' -Message 'must be at most 64 for a generation 1 vm'))
        }
        foreach ($name in @('memory_startup_bytes', 'memory_maximum_bytes')) {
            if ($Params.ContainsKey($name) -and $Params[$name] -gt $script:Generation1MaxMemoryBytes) {
                $null = $errors.Add((New-FieldErrorRecord -Pointer "/params/$name" -Message 'must be at most 1 TiB for a generation 1 vm'))
            }
        }
    }
    $secureBoot = $Params.ContainsKey('secure_boot_enabled') -and [bool]$Params.secure_boot_enabled
    if ($secureBoot -and -not $Params.ContainsKey('secure_boot_template')) {
        $null = $errors.Add((New-FieldErrorRecord -Pointer '/params/secure_boot_template' -Message 'is required with secure boot'))
    }
    if ($generation -eq 2 -and -not $secureBoot -and $Params.ContainsKey('secure_boot_template')) {
        $null = $errors.Add((New-FieldErrorRecord -Pointer '/params/secure_boot_template' -Message 'is only allowed with secure boot'))
    }
    if ($dynamic) {
        foreach ($item in (Get-MemoryOrderErrors -Minimum (Get-ParamOrNull $Params 'memory_minimum_bytes') -Startup $Params.memory_startup_bytes -Maximum (Get-ParamOrNull $Params 'memory_maximum_bytes'))) {
            $null = $errors.Add($item)
        }
    }
    $processors = Get-HostLogicalProcessorCount
    if ($null -ne $processors -and $Params.cpu_count -gt $processors) {
        $null = $errors.Add((New-FieldErrorRecord -Pointer '/params/cpu_count' -Message "must not exceed the host's $processors logical processors"))
    }
    if ($errors.Count -gt 0) { Stop-InvalidRequest -Errors $errors.ToArray() }
}

# vm.create: a new VM, turned off, without disks or network adapters.
function Invoke-VmCreateOperation {
    param([Parameter(Mandatory = $true)] [hashtable] $Request)
    $params = Read-AgentParams -Request $Request -Spec @{
        name                   = @{ Type = 'string'; Required = $true; MinLength = 1; MaxLength = 100; Pattern = $script:VmNamePattern; Hint = 'must be a valid folder name: no \ / : * ? " < > | or control characters, no leading space, no trailing space or dot' }
        cpu_count              = @{ Type = 'int'; Required = $true; Min = 1; Max = 240 }
        generation             = @{ Type = 'int'; Required = $true; Min = 1; Max = 2 }
        memory_startup_bytes   = New-MemoryRule -Required $true
        dynamic_memory_enabled = @{ Type = 'bool'; Required = $true }
        memory_minimum_bytes   = New-MemoryRule
        memory_maximum_bytes   = New-MemoryRule
        secure_boot_enabled    = @{ Type = 'bool' }
        secure_boot_template   = @{ Type = 'enum'; Values = $script:SecureBootTemplates }
        notes                  = @{ Type = 'string'; MaxLength = 4096 }
        storage_class          = @{ Type = 'string'; Required = $true; Pattern = $script:CatalogueNamePattern; Hint = 'must be a catalogue name' }
    }
    Assert-VmCreateRules -Params $params
    $name = [string]$params.name
    $class = Find-StorageClass -Name $params.storage_class
    if (@(Find-VmsByName -Name $name).Count -gt 0) { Stop-AlreadyExists -Kind 'vm' -Name $name }
    $folder = Join-Path -Path $class.path -ChildPath $name
    if ((Test-Path -LiteralPath $folder) -and @(Get-ChildItem -LiteralPath $folder -Force -ErrorAction SilentlyContinue).Count -gt 0) {
        Stop-AlreadyExists -Kind 'file' -Name $folder
    }
    $space = Get-VolumeSpace -Path $class.path
    if ($null -ne $space -and $space.Free -lt [long]$params.memory_startup_bytes) {
        Stop-InsufficientDiskSpace -RequiredBytes ([long]$params.memory_startup_bytes) -AvailableBytes $space.Free -Path $class.path
    }
    Set-AgentStep -Step 'create vm'
    Write-AgentLog -Level 'info' -Message "creating vm $name (generation $($params.generation), $($params.cpu_count) cpus) in $folder"
    Write-AgentProgress -Step 'create vm' -Percent 10 -Message 'New-VM'
    $folderExisted = Test-Path -LiteralPath $folder
    $vm = Invoke-AgentCmdlet -Name 'New-VM' -Parameters @{
        Name               = $name
        Generation         = [int16]$params.generation
        MemoryStartupBytes = [long]$params.memory_startup_bytes
        Path               = $class.path
        NoVHD              = $true
    }
    $vm = @($vm)[0]
    $id = Get-VmIdText -Vm $vm
    try {
        Write-AgentProgress -Step 'create vm' -Percent 40 -Message 'settings'
        foreach ($adapter in @(Invoke-AgentCmdlet -Name 'Get-VMNetworkAdapter' -Parameters @{ VM = $vm })) {
            Invoke-AgentCmdlet -Name 'Remove-VMNetworkAdapter' -Parameters @{ VMNetworkAdapter = $adapter }
        }
        Invoke-AgentCmdlet -Name 'Set-VMProcessor' -Parameters @{ VM = $vm; Count = [long]$params.cpu_count }
        $memory = @{ VM = $vm; DynamicMemoryEnabled = [bool]$params.dynamic_memory_enabled; StartupBytes = [long]$params.memory_startup_bytes }
        if ($params.dynamic_memory_enabled) {
            $memory.MinimumBytes = [long]$params.memory_minimum_bytes
            $memory.MaximumBytes = [long]$params.memory_maximum_bytes
        }
        Invoke-AgentCmdlet -Name 'Set-VMMemory' -Parameters $memory
        if ([int]$params.generation -eq 2) {
            $firmware = @{ VM = $vm; EnableSecureBoot = if ($params.secure_boot_enabled) { 'On' } else { 'Off' } }
            if ($params.secure_boot_enabled) { $firmware.SecureBootTemplate = [string]$params.secure_boot_template }
            Invoke-AgentCmdlet -Name 'Set-VMFirmware' -Parameters $firmware
        }
        if ($params.ContainsKey('notes')) { Invoke-AgentCmdlet -Name 'Set-VM' -Parameters @{ VM = $vm; Notes = [string]$params.notes } }
    } catch {
        Write-AgentLog -Level 'warning' -Message "vm $name was not completed; removing it"
        Remove-VM -VM $vm -Force -ErrorAction SilentlyContinue
        if (-not $folderExisted) { Remove-EmptyFolders -Path $folder }
        throw
    }
    Write-AgentProgress -Step 'create vm' -Percent 100 -Message 'created'
    Get-VmRecord -VmId $id
}

# Checks vm.update against Hyper-V's rules and the VM's unchanged values.
function Assert-VmUpdateRules {
    param([Parameter(Mandatory = $true)] [hashtable] $Params, [Parameter(Mandatory = $true)] $Vm)
    $id = Get-VmIdText -Vm $Vm
    $state = ConvertTo-VmStateName -State $Vm.State
    $errors = New-Object -TypeName System.Collections.ArrayList
    $changes = @('cpu_count', 'memory_startup_bytes', 'dynamic_memory_enabled', 'memory_minimum_bytes', 'memory_maximum_bytes', 'notes') | Where-Object { $Params.ContainsKey($_) }
    if (@($changes).Count -eq 0) {
        Stop-InvalidRequest -Errors @(New-FieldErrorRecord -Pointer '/params' -Message 'needs one of: cpu_count, memory_startup_bytes, dynamic_memory_enabled, memory_minimum_bytes, memory_maximum_bytes, notes')
    }
    $dynamicAfter = if ($Params.ContainsKey('dynamic_memory_enabled')) { [bool]$Params.dynamic_memory_enabled } else { [bool]$Vm.DynamicMemoryEnabled }
    foreach ($name in @('memory_minimum_bytes', 'memory_maximum_bytes')) {
        if ($Params.ContainsKey($name) -and -not $dynamicAfter) {
            $null = $errors.Add((New-FieldErrorRecord -Pointer "/params/$name" -Message 'is only allowed when dynamic memory is (or becomes) on'))
        }
    }
    if ($Params.ContainsKey('cpu_count')) {
        $processors = Get-HostLogicalProcessorCount
        if ($null -ne $processors -and $Params.cpu_count -gt $processors) {
            $null = $errors.Add((New-FieldErrorRecord -Pointer '/params/cpu_count' -Message "must not exceed the host's $processors logical processors"))
        }
    }
    $minimum = if ($Params.ContainsKey('memory_minimum_bytes')) { $Params.memory_minimum_bytes } else { [long]$Vm.MemoryMinimum }
    $startup = if ($Params.ContainsKey('memory_startup_bytes')) { $Params.memory_startup_bytes } else { [long]$Vm.MemoryStartup }
    $maximum = if ($Params.ContainsKey('memory_maximum_bytes')) { $Params.memory_maximum_bytes } else { [long]$Vm.MemoryMaximum }
    if ($dynamicAfter) {
        foreach ($item in (Get-MemoryOrderErrors -Minimum $minimum -Startup $startup -Maximum $maximum)) { $null = $errors.Add($item) }
    }
    if ($errors.Count -gt 0) { Stop-InvalidRequest -Errors $errors.ToArray() }
    if ($state -ne 'Off') {
        foreach ($name in @('cpu_count', 'dynamic_memory_enabled', 'memory_startup_bytes')) {
            if ($Params.ContainsKey($name)) { Stop-InvalidState -VmId $id -State $state -AllowedStates @('Off') -Action "change $name of" }
        }
        if ($Params.ContainsKey('memory_minimum_bytes') -and $Params.memory_minimum_bytes -gt [long]$Vm.MemoryMinimum) {
            Stop-InvalidState -VmId $id -State $state -AllowedStates @('Off') -Action 'raise memory_minimum_bytes of'
        }
        if ($Params.ContainsKey('memory_maximum_bytes') -and $Params.memory_maximum_bytes -lt [long]$Vm.MemoryMaximum) {
            Stop-InvalidState -VmId $id -State $state -AllowedStates @('Off') -Action 'lower memory_maximum_bytes of'
        }
    }
}

# vm.update: processors, memory and notes.
function Invoke-VmUpdateOperation {
    param([Parameter(Mandatory = $true)] [hashtable] $Request)
    $params = Read-AgentParams -Request $Request -Spec @{
        vm_id                  = @{ Type = 'guid'; Required = $true }
        cpu_count              = @{ Type = 'int'; Min = 1; Max = 240 }
        memory_startup_bytes   = New-MemoryRule
        dynamic_memory_enabled = @{ Type = 'bool' }
        memory_minimum_bytes   = New-MemoryRule
        memory_maximum_bytes   = New-MemoryRule
        notes                  = @{ Type = 'string'; MaxLength = 4096 }
    }
    $vm = Get-AgentVm -VmId $params.vm_id
    Assert-VmUpdateRules -Params $params -Vm $vm
    Set-AgentStep -Step 'update vm'
    Write-AgentLog -Level 'info' -Message "updating vm $($vm.Name) ($($params.vm_id)): $((@($params.Keys | Where-Object { $_ -ne 'vm_id' }) | Sort-Object) -join ', ')"
    if ($params.ContainsKey('cpu_count')) { Invoke-AgentCmdlet -Name 'Set-VMProcessor' -Parameters @{ VM = $vm; Count = [long]$params.cpu_count } }
    $memory = @{ VM = $vm }
    if ($params.ContainsKey('dynamic_memory_enabled')) { $memory.DynamicMemoryEnabled = [bool]$params.dynamic_memory_enabled }
    if ($params.ContainsKey('memory_startup_bytes')) { $memory.StartupBytes = [long]$params.memory_startup_bytes }
    if ($params.ContainsKey('memory_minimum_bytes')) { $memory.MinimumBytes = [long]$params.memory_minimum_bytes }
    if ($params.ContainsKey('memory_maximum_bytes')) { $memory.MaximumBytes = [long]$params.memory_maximum_bytes }
    if ($memory.Count -gt 1) { Invoke-AgentCmdlet -Name 'Set-VMMemory' -Parameters $memory }
    if ($params.ContainsKey('notes')) { Invoke-AgentCmdlet -Name 'Set-VM' -Parameters @{ VM = $vm; Notes = [string]$params.notes } }
    Get-VmRecord -VmId $params.vm_id
}

# Removes empty folders from $Path down (deepest first); never a folder with a file in it.
function Remove-EmptyFolders {
    param([Parameter(Mandatory = $true)] [string] $Path)
    if (-not (Test-Path -LiteralPath $Path -PathType Container)) { return }
    $folders = @(Get-ChildItem -LiteralPath $Path -Directory -Recurse -Force -ErrorAction SilentlyContinue | Sort-Object -Property @{ Expression = { $_.FullName.Length } } -Descending)
    foreach ($folder in ($folders + @(Get-Item -LiteralPath $Path -Force))) {
        if (@(Get-ChildItem -LiteralPath $folder.FullName -Force -ErrorAction SilentlyContinue).Count -eq 0) {
            Remove-Item -LiteralPath $folder.FullName -Force -ErrorAction SilentlyContinue
        }
    }
}

# Removes the failover-cluster role of a clustered VM.
function Remove-VmClusterRole {
    param([Parameter(Mandatory = $true)] $Vm)
    $id = Get-VmIdText -Vm $Vm
    Import-Module -Name 'FailoverClusters' -ErrorAction Stop -Verbose:$false
    $resources = @(Invoke-AgentCmdlet -Name 'Get-ClusterResource') | Where-Object { $_.ResourceType.ToString() -eq 'Virtual Machine' }
    foreach ($resource in $resources) {
        $parameter = Get-ClusterParameter -InputObject $resource -Name 'VmID' -ErrorAction SilentlyContinue
        if ($null -ne $parameter -and ([string]$parameter.Value).ToLowerInvariant() -eq $id) {
            Write-AgentLog -Level 'info' -Message "removing cluster role $($resource.OwnerGroup) of vm $($Vm.Name)"
            Invoke-AgentCmdlet -Name 'Remove-ClusterGroup' -Parameters @{ Name = [string]$resource.OwnerGroup; RemoveResources = $true; Force = $true }
            return
        }
    }
    Write-AgentLog -Level 'warning' -Message "vm $($Vm.Name) is marked clustered but no cluster resource names it"
}

# record: vm.delete.result.schema.json
function New-VmDeleteResultRecord {
    param([string] $VmId, [string] $Name, [object[]] $Deleted, [object[]] $Retained)
    [ordered]@{
        vm_id               = $VmId
        name                = $Name
        deleted_disk_paths  = @($Deleted)
        retained_disk_paths = @($Retained)
    }
}

# vm.delete: the VM, and its disks when asked.
function Invoke-VmDeleteOperation {
    param([Parameter(Mandatory = $true)] [hashtable] $Request)
    $params = Read-AgentParams -Request $Request -Spec @{
        vm_id        = @{ Type = 'guid'; Required = $true }
        force        = @{ Type = 'bool'; Required = $true }
        delete_disks = @{ Type = 'bool'; Required = $true }
    }
    $vm = Get-AgentVm -VmId $params.vm_id
    $name = [string]$vm.Name
    $state = ConvertTo-VmStateName -State $vm.State
    if ($state -ne 'Off') {
        if (-not $params.force) { Stop-InvalidState -VmId $params.vm_id -State $state -AllowedStates @('Off') -Action 'delete' }
        Set-AgentStep -Step 'turn off'
        Write-AgentLog -Level 'info' -Message "turning off vm $name ($state) before deleting it"
        Invoke-AgentCmdlet -Name 'Stop-VM' -Parameters @{ VM = $vm; TurnOff = $true; Force = $true }
        $null = Wait-VmState -VmId $params.vm_id -State 'Off' -Step 'turn off'
    }
    $paths = @(Invoke-AgentCmdlet -Name 'Get-VMHardDiskDrive' -Parameters @{ VM = $vm } | ForEach-Object { [string]$_.Path } | Where-Object { $_ -match $script:WindowsPathPattern })
    $folder = [string]$vm.ConfigurationLocation
    if ($vm.IsClustered) {
        Set-AgentStep -Step 'remove cluster role'
        Remove-VmClusterRole -Vm $vm
    }
    Set-AgentStep -Step 'remove vm'
    Write-AgentProgress -Step 'remove vm' -Percent 40 -Message "Remove-VM $name"
    Invoke-AgentCmdlet -Name 'Remove-VM' -Parameters @{ VM = $vm; Force = $true }
    $deleted = New-Object -TypeName System.Collections.ArrayList
    $retained = New-Object -TypeName System.Collections.ArrayList
    if ($params.delete_disks) {
        Set-AgentStep -Step 'delete disks'
        $inUse = @{}
        foreach ($drive in @(@(Invoke-AgentCmdlet -Name 'Get-VM') | Get-VMHardDiskDrive -ErrorAction SilentlyContinue)) { $inUse[([string]$drive.Path).ToLowerInvariant()] = $true }
        foreach ($path in $paths) {
            if ($inUse.ContainsKey($path.ToLowerInvariant())) {
                Write-AgentLog -Level 'warning' -Message "kept ${path}: another vm uses it"
                $null = $retained.Add($path)
                continue
            }
            if (Test-Path -LiteralPath $path -PathType Leaf) {
                Invoke-AgentCmdlet -Name 'Remove-Item' -Parameters @{ LiteralPath = $path; Force = $true }
                Write-AgentLog -Level 'info' -Message "deleted $path"
            }
            $null = $deleted.Add($path)
        }
    } else {
        foreach ($path in $paths) { $null = $retained.Add($path) }
    }
    if ($folder -match $script:WindowsPathPattern) { Remove-EmptyFolders -Path $folder }
    Write-AgentProgress -Step 'remove vm' -Percent 100 -Message 'deleted'
    New-VmDeleteResultRecord -VmId $params.vm_id -Name $name -Deleted $deleted.ToArray() -Retained $retained.ToArray()
}
