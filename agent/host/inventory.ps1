# Aether-V host agent: inventory (Windows PowerShell 5.1).
#
# inventory.collect, and the VM, NIC and disk records every VM operation answers with.
# VM data comes from one call per kind for all VMs at once (Get-VM, Get-VMNetworkAdapter,
# Get-VMNetworkAdapterVlan, Get-VMHardDiskDrive, Get-VMFirmware; Get-VHD once per file),
# never one call per VM; host facts, volume space and the guests' OS names come from CIM
# (Win32_ComputerSystem, Win32_OperatingSystem, Win32_Volume, Msvm_KvpExchangeComponent).
# Get-VM's State names map exactly onto the protocol's states, which Msvm EnabledState
# codes (different between Hyper-V versions) do not. A failed lookup becomes a warning
# and null values, never a failed inventory.

$script:VirtualizationNamespace = 'root\virtualization\v2'
$script:SecureBootTemplates = @('MicrosoftWindows', 'MicrosoftUEFICertificateAuthority', 'OpenSourceShieldedVM')

# The VM with this id, or VM_NOT_FOUND.
function Get-AgentVm {
    param([Parameter(Mandatory = $true)] [string] $VmId)
    try {
        $vm = Get-VM -Id $VmId -ErrorAction Stop
    } catch {
        if ($_.CategoryInfo.Category.ToString() -eq 'ObjectNotFound' -or $_.FullyQualifiedErrorId -like 'InvalidParameter,*') { Stop-VmNotFound -VmId $VmId }
        Stop-OperationFailed -Cmdlet 'Get-VM' -ErrorRecord $_
    }
    if ($null -eq $vm) { Stop-VmNotFound -VmId $VmId }
    @($vm)[0]
}

function Get-VmIdText {
    param([Parameter(Mandatory = $true)] $Vm)
    $Vm.Id.ToString().ToLowerInvariant()
}

# Runs one batched lookup; a failure becomes a warning and an empty answer.
function Invoke-InventoryLookup {
    param([Parameter(Mandatory = $true)] [string] $Source, [Parameter(Mandatory = $true)] [scriptblock] $Lookup)
    try {
        @(& $Lookup)
    } catch {
        Add-AgentWarning -Source $Source -Message $_.Exception.Message -VmId $null
        @()
    }
}

# Guest OS names by upper-case VM GUID, from the guests' intrinsic KVP items.
function Get-GuestOsNames {
    $names = @{}
    $components = @(Invoke-InventoryLookup -Source 'Msvm_KvpExchangeComponent' -Lookup {
        Get-CimInstance -Namespace $script:VirtualizationNamespace -ClassName 'Msvm_KvpExchangeComponent' -ErrorAction Stop -Verbose:$false
    })
    foreach ($component in $components) {
        foreach ($item in @($component.GuestIntrinsicExchangeItems)) {
            if ([string]::IsNullOrEmpty($item)) { continue }
            try {
                $xml = [xml]$item
                $name = $xml.SelectSingleNode("/INSTANCE/PROPERTY[@NAME='Name']/VALUE")
                if ($null -eq $name -or $name.InnerText -ne 'OSName') { continue }
                $data = $xml.SelectSingleNode("/INSTANCE/PROPERTY[@NAME='Data']/VALUE")
                if ($null -ne $data -and $data.InnerText.Length -gt 0) {
                    $names[([string]$component.SystemName).ToUpperInvariant()] = [string]$data.InnerText
                }
            } catch {
                continue
            }
        }
    }
    $names
}

# Everything the records need, looked up once for a set of VMs.
function Get-VmInventoryContext {
    param([Parameter(Mandatory = $true)] [AllowEmptyCollection()] [object[]] $Vms)
    $context = @{
        Catalogue = Read-HostCatalogue
        Adapters  = @{}
        Vlans     = @{}
        Drives    = @{}
        Vhds      = @{}
        Firmware  = @{}
        OsNames   = @{}
    }
    if ($Vms.Count -eq 0) { return $context }
    $adapters = @(Invoke-InventoryLookup -Source 'Get-VMNetworkAdapter' -Lookup { Get-VMNetworkAdapter -VM $Vms -ErrorAction Stop })
    foreach ($adapter in $adapters) {
        $key = $adapter.VMId.ToString()
        if (-not $context.Adapters.ContainsKey($key)) { $context.Adapters[$key] = New-Object -TypeName System.Collections.ArrayList }
        $null = $context.Adapters[$key].Add($adapter)
    }
    if ($adapters.Count -gt 0) {
        $vlans = @(Invoke-InventoryLookup -Source 'Get-VMNetworkAdapterVlan' -Lookup { Get-VMNetworkAdapterVlan -VMNetworkAdapter $adapters -ErrorAction Stop })
        foreach ($vlan in $vlans) { $context.Vlans[[string]$vlan.ParentAdapter.Id] = $vlan }
    }
    $drives = @(Invoke-InventoryLookup -Source 'Get-VMHardDiskDrive' -Lookup { Get-VMHardDiskDrive -VM $Vms -ErrorAction Stop })
    foreach ($drive in $drives) {
        $key = $drive.VMId.ToString()
        if (-not $context.Drives.ContainsKey($key)) { $context.Drives[$key] = New-Object -TypeName System.Collections.ArrayList }
        $null = $context.Drives[$key].Add($drive)
        $path = [string]$drive.Path
        if ($path.Length -gt 0 -and -not $context.Vhds.ContainsKey($path)) {
            try {
                $context.Vhds[$path] = Get-VHD -Path $path -ErrorAction Stop
            } catch {
                $context.Vhds[$path] = $null
                Add-AgentWarning -Source 'Get-VHD' -Message "${path}: $($_.Exception.Message)" -VmId $drive.VMId.ToString()
            }
        }
    }
    $generation2 = @($Vms | Where-Object { $_.Generation -eq 2 })
    if ($generation2.Count -gt 0) {
        $firmware = @(Invoke-InventoryLookup -Source 'Get-VMFirmware' -Lookup { Get-VMFirmware -VM $generation2 -ErrorAction Stop })
        foreach ($item in $firmware) { $context.Firmware[$item.VMId.ToString()] = $item }
    }
    $context.OsNames = Get-GuestOsNames
    $context
}

# The guest addresses worth reporting: valid IPs, no IPv6 link-local, no duplicates.
function Select-GuestAddresses {
    param([AllowNull()] [object[]] $Addresses)
    $seen = @{}
    foreach ($text in @($Addresses)) {
        $candidate = ([string]$text).Split('%')[0]
        $address = $null
        if (-not [System.Net.IPAddress]::TryParse($candidate, [ref]$address)) { continue }
        if ($address.IsIPv6LinkLocal) { continue }
        $canonical = $address.ToString()
        if ($seen.ContainsKey($canonical)) { continue }
        $seen[$canonical] = $true
        $canonical
    }
}

# The catalogue network whose switch and VLAN match, or $null.
function Find-NetworkName {
    param([hashtable] $Catalogue, [AllowNull()] $SwitchName, [AllowNull()] $VlanId)
    if ($null -eq $SwitchName) { return $null }
    foreach ($network in $Catalogue.Networks) {
        if ($network.switch_name -eq $SwitchName -and $network.vlan_id -eq $VlanId) { return $network.name }
    }
    $null
}

# record: defs.schema.json#/$defs/nic
function New-NicRecord {
    param([Parameter(Mandatory = $true)] $Adapter, [Parameter(Mandatory = $true)] [hashtable] $Context)
    $vlan = $Context.Vlans[[string]$Adapter.Id]
    $vlanId = $null
    if ($null -ne $vlan -and $vlan.OperationMode.ToString() -eq 'Access' -and [int]$vlan.AccessVlanId -gt 0) { $vlanId = [int]$vlan.AccessVlanId }
    $switchName = ConvertTo-NullableString -Value $Adapter.SwitchName
    [ordered]@{
        id                 = [string]$Adapter.Id
        name               = [string]$Adapter.Name
        switch_name        = $switchName
        vlan_id            = $vlanId
        mac_address        = ([string]$Adapter.MacAddress).ToUpperInvariant()
        mac_address_static = -not [bool]$Adapter.DynamicMacAddressEnabled
        ip_addresses       = @(Select-GuestAddresses -Addresses $Adapter.IPAddresses)
        network_name       = Find-NetworkName -Catalogue $Context.Catalogue -SwitchName $switchName -VlanId $vlanId
    }
}

# record: defs.schema.json#/$defs/disk
function New-DiskRecord {
    param([Parameter(Mandatory = $true)] $Drive, [AllowNull()] $Vhd)
    $path = [string]$Drive.Path
    $type = $null
    if ($null -ne $Vhd -and @('Dynamic', 'Fixed', 'Differencing') -contains $Vhd.VhdType.ToString()) { $type = $Vhd.VhdType.ToString() }
    [ordered]@{
        id                  = [string]$Drive.Id
        name                = [System.IO.Path]::GetFileName($path)
        path                = $path
        type                = $type
        capacity_bytes      = if ($null -ne $Vhd) { [long]$Vhd.Size } else { $null }
        file_size_bytes     = if ($null -ne $Vhd) { [long]$Vhd.FileSize } else { $null }
        controller_type     = $Drive.ControllerType.ToString()
        controller_number   = [int]$Drive.ControllerNumber
        controller_location = [int]$Drive.ControllerLocation
    }
}

# The disk records of a VM; pass-through disks (no file) and other controller kinds are
# left out with a warning.
function Get-VmDiskRecords {
    param([Parameter(Mandatory = $true)] $Vm, [Parameter(Mandatory = $true)] [hashtable] $Context)
    $drives = $Context.Drives[$Vm.Id.ToString()]
    foreach ($drive in @($drives)) {
        if ($null -eq $drive) { continue }
        $path = [string]$drive.Path
        if ($path -notmatch $script:WindowsPathPattern) {
            Add-AgentWarning -Source 'Get-VMHardDiskDrive' -Message "drive $($drive.Id) is a pass-through disk; left out" -VmId (Get-VmIdText -Vm $Vm)
            continue
        }
        if (@('IDE', 'SCSI') -notcontains $drive.ControllerType.ToString()) {
            Add-AgentWarning -Source 'Get-VMHardDiskDrive' -Message "drive $($drive.Id) is on a $($drive.ControllerType) controller; left out" -VmId (Get-VmIdText -Vm $Vm)
            continue
        }
        New-DiskRecord -Drive $drive -Vhd $Context.Vhds[$path]
    }
}

# record: defs.schema.json#/$defs/vm
function New-VmRecord {
    param([Parameter(Mandatory = $true)] $Vm, [Parameter(Mandatory = $true)] [hashtable] $Context)
    $id = Get-VmIdText -Vm $Vm
    $nics = @(foreach ($adapter in @($Context.Adapters[$Vm.Id.ToString()])) { if ($null -ne $adapter) { New-NicRecord -Adapter $adapter -Context $Context } })
    $addresses = @(Select-GuestAddresses -Addresses @($nics | ForEach-Object { $_.ip_addresses }))
    $dynamic = [bool]$Vm.DynamicMemoryEnabled
    $secureBoot = $null
    $template = $null
    if ([int]$Vm.Generation -eq 2) {
        $firmware = $Context.Firmware[$Vm.Id.ToString()]
        if ($null -ne $firmware) {
            $secureBoot = $firmware.SecureBoot.ToString() -eq 'On'
            $name = [string]$firmware.SecureBootTemplate
            if ($script:SecureBootTemplates -ccontains $name) { $template = $name }
            elseif ($name.Length -gt 0) { Add-AgentWarning -Source 'Get-VMFirmware' -Message "secure boot template $name is not one the protocol knows" -VmId $id }
        }
    }
    $running = @('Off', 'Saved') -notcontains (ConvertTo-VmStateName -State $Vm.State)
    [ordered]@{
        id                     = $id
        name                   = [string]$Vm.Name
        state                  = ConvertTo-VmStateName -State $Vm.State
        generation             = [int]$Vm.Generation
        configuration_version  = [string]$Vm.Version
        cpu_count              = [int]$Vm.ProcessorCount
        memory_assigned_bytes  = if ($running) { [long]$Vm.MemoryAssigned } else { [long]0 }
        memory_startup_bytes   = [long]$Vm.MemoryStartup
        dynamic_memory_enabled = $dynamic
        memory_minimum_bytes   = if ($dynamic) { [long]$Vm.MemoryMinimum } else { $null }
        memory_maximum_bytes   = if ($dynamic) { [long]$Vm.MemoryMaximum } else { $null }
        secure_boot_enabled    = $secureBoot
        secure_boot_template   = $template
        notes                  = [string]$Vm.Notes
        guest_os_name          = $Context.OsNames[$Vm.Id.ToString().ToUpperInvariant()]
        creation_time          = ConvertTo-UtcText -Time $Vm.CreationTime
        uptime_seconds         = if ($running) { [long][Math]::Floor($Vm.Uptime.TotalSeconds) } else { [long]0 }
        clustered              = [bool]$Vm.IsClustered
        configuration_path     = [string]$Vm.ConfigurationLocation
        ip_addresses           = $addresses
        nics                   = $nics
        disks                  = @(Get-VmDiskRecords -Vm $Vm -Context $Context)
    }
}

# The records of these VMs (one batched lookup for all of them).
function Get-VmRecords {
    param([Parameter(Mandatory = $true)] [AllowEmptyCollection()] [object[]] $Vms)
    $context = Get-VmInventoryContext -Vms $Vms
    foreach ($vm in $Vms) { New-VmRecord -Vm $vm -Context $context }
}

# The record of one VM, read afresh (what vm.create and vm.update answer with).
function Get-VmRecord {
    param([Parameter(Mandatory = $true)] [string] $VmId)
    $vm = Get-AgentVm -VmId $VmId
    @(Get-VmRecords -Vms @($vm))[0]
}

# record: defs.schema.json#/$defs/virtual-switch
function New-VirtualSwitchRecord {
    param([Parameter(Mandatory = $true)] $VirtualSwitch)
    $type = $VirtualSwitch.SwitchType.ToString()
    [ordered]@{
        id     = $VirtualSwitch.Id.ToString().ToLowerInvariant()
        name   = [string]$VirtualSwitch.Name
        type   = $type
        uplink = if ($type -eq 'External') { ConvertTo-NullableString -Value $VirtualSwitch.NetAdapterInterfaceDescription } else { $null }
    }
}

# record: defs.schema.json#/$defs/storage-location
function New-StorageLocationRecord {
    param([string] $Path, [hashtable] $Space)
    [ordered]@{
        path        = $Path
        total_bytes = $Space.Total
        free_bytes  = $Space.Free
    }
}

# Hyper-V's default folders, the storage classes' folders and the cluster shared volumes,
# each once, with their volume's space (folders that cannot be measured are left out).
function Get-StorageLocationRecords {
    param([hashtable] $Catalogue)
    $paths = New-Object -TypeName System.Collections.ArrayList
    $vmHost = @(Invoke-InventoryLookup -Source 'Get-VMHost' -Lookup { Get-VMHost -ErrorAction Stop })
    foreach ($item in $vmHost) {
        $null = $paths.Add([string]$item.VirtualMachinePath)
        $null = $paths.Add([string]$item.VirtualHardDiskPath)
    }
    foreach ($class in $Catalogue.StorageClasses) { $null = $paths.Add([string]$class.path) }
    foreach ($volume in @(Get-ChildItem -Path 'C:\ClusterStorage' -Directory -ErrorAction SilentlyContinue)) { $null = $paths.Add([string]$volume.FullName) }
    $seen = @{}
    foreach ($path in $paths) {
        if ($path -notmatch $script:WindowsPathPattern) { continue }
        $key = $path.TrimEnd('\').ToLowerInvariant()
        if ($seen.ContainsKey($key)) { continue }
        $seen[$key] = $true
        $space = Get-VolumeSpace -Path $path
        if ($null -ne $space) { New-StorageLocationRecord -Path $path -Space $space }
    }
}

# record: inventory.collect.result.schema.json#/$defs/host
function New-HostInventoryRecord {
    param([hashtable] $Catalogue)
    $system = Get-HostComputerSystem
    $os = Get-HostOperatingSystem
    [ordered]@{
        computer_name           = Get-HostComputerName
        fqdn                    = Get-HostFqdn
        cluster_name            = Get-HostClusterName
        logical_processor_count = [int]$system.NumberOfLogicalProcessors
        memory_total_bytes      = [long]$system.TotalPhysicalMemory
        memory_available_bytes  = [long]$os.FreePhysicalMemory * 1024
        virtual_switches        = @(Invoke-InventoryLookup -Source 'Get-VMSwitch' -Lookup { Get-VMSwitch -ErrorAction Stop } | ForEach-Object { New-VirtualSwitchRecord -VirtualSwitch $_ })
        storage_locations       = @(Get-StorageLocationRecords -Catalogue $Catalogue)
        resources               = New-CatalogueRecord -Catalogue $Catalogue
        collected_at            = ConvertTo-UtcText -Time ([DateTime]::UtcNow)
    }
}

# record: inventory.collect.result.schema.json
function New-InventoryResultRecord {
    param($HostRecord, [object[]] $VmRecords)
    [ordered]@{
        host     = $HostRecord
        vms      = @($VmRecords)
        warnings = @($script:AgentWarnings)
    }
}

# inventory.collect: the host and its VMs (or only those asked for).
function Invoke-InventoryCollectOperation {
    param([Parameter(Mandatory = $true)] [hashtable] $Request)
    $params = Read-AgentParams -Request $Request -Spec @{
        vm_ids = @{ Type = 'guid-list' }
    }
    Set-AgentStep -Step 'collect host'
    $catalogue = Read-HostCatalogue
    $hostRecord = New-HostInventoryRecord -Catalogue $catalogue
    Set-AgentStep -Step 'collect vms'
    $vms = @(Invoke-AgentCmdlet -Name 'Get-VM')
    if ($params.ContainsKey('vm_ids')) {
        $wanted = @{}
        foreach ($id in $params.vm_ids) { $wanted[$id] = $true }
        $vms = @($vms | Where-Object { $wanted.ContainsKey((Get-VmIdText -Vm $_)) })
    }
    Write-AgentProgress -Step 'collect vms' -Percent 50 -Message "$($vms.Count) vms"
    $records = @(Get-VmRecords -Vms $vms)
    New-InventoryResultRecord -HostRecord $hostRecord -VmRecords $records
}
