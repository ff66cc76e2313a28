# Aether-V host agent: network adapters (Windows PowerShell 5.1).
#
# nic.create (Add-VMNetworkAdapter, then Set-VMNetworkAdapterVlan; an adapter whose VLAN
# cannot be set is removed again), nic.update (Connect-VMNetworkAdapter,
# Set-VMNetworkAdapterVlan, Rename-VMNetworkAdapter, Set-VMNetworkAdapter) and nic.delete
# (Remove-VMNetworkAdapter). A catalogue network names a switch and a VLAN; a switch can
# also be named directly.

# The adapter of this VM with this id (compared case-insensitively), or NOT_FOUND.
function Find-VmAdapter {
    param([Parameter(Mandatory = $true)] $Vm, [Parameter(Mandatory = $true)] [string] $NicId)
    $adapters = @(Invoke-AgentCmdlet -Name 'Get-VMNetworkAdapter' -Parameters @{ VM = $Vm })
    foreach ($adapter in $adapters) {
        if ([string]$adapter.Id -eq $NicId) { return $adapter }
    }
    Stop-NotFound -Kind 'nic' -Name $NicId -Available @($adapters | ForEach-Object { [string]$_.Id })
}

# The virtual switch of this exact name (no wildcards), or NOT_FOUND.
function Find-VirtualSwitch {
    param([Parameter(Mandatory = $true)] [string] $Name)
    $switches = @(Invoke-AgentCmdlet -Name 'Get-VMSwitch')
    foreach ($item in $switches) {
        if ([string]$item.Name -eq $Name) { return [string]$item.Name }
    }
    Stop-NotFound -Kind 'switch' -Name $Name -Available @($switches | ForEach-Object { [string]$_.Name })
}

# Generation 1 VMs take adapter changes only while Off.
function Assert-AdapterChangeAllowed {
    param([Parameter(Mandatory = $true)] $Vm, [Parameter(Mandatory = $true)] [string] $Action)
    $state = ConvertTo-VmStateName -State $Vm.State
    if ([int]$Vm.Generation -eq 1 -and $state -ne 'Off') {
        Stop-InvalidState -VmId (Get-VmIdText -Vm $Vm) -State $state -AllowedStates @('Off') -Action "$Action a generation 1"
    }
}

# The adapter's record, read afresh.
function Get-AdapterRecord {
    param([Parameter(Mandatory = $true)] $Vm, [Parameter(Mandatory = $true)] [string] $NicId)
    $adapter = Find-VmAdapter -Vm $Vm -NicId $NicId
    $context = Get-VmInventoryContext -Vms @($Vm)
    New-NicRecord -Adapter $adapter -Context $context
}

function Set-AdapterVlan {
    param([Parameter(Mandatory = $true)] $Adapter, [AllowNull()] $VlanId)
    if ($null -eq $VlanId) {
        Invoke-AgentCmdlet -Name 'Set-VMNetworkAdapterVlan' -Parameters @{ VMNetworkAdapter = $Adapter; Untagged = $true }
    } else {
        Invoke-AgentCmdlet -Name 'Set-VMNetworkAdapterVlan' -Parameters @{ VMNetworkAdapter = $Adapter; Access = $true; VlanId = [int]$VlanId }
    }
}

function Get-NicParamsSpec {
    param([bool] $Update)
    @{
        vm_id       = @{ Type = 'guid'; Required = $true }
        nic_id      = @{ Type = 'string'; Required = $Update; Pattern = $script:NicIdPattern; Hint = 'must look like Microsoft:<guid>\<guid>' }
        network     = @{ Type = 'string'; Pattern = $script:CatalogueNamePattern; Hint = 'must be a catalogue name' }
        switch_name = @{ Type = 'string'; MinLength = 1 }
        vlan_id     = @{ Type = 'int'; Min = 1; Max = 4094; Nullable = $Update }
        name        = @{ Type = 'string'; MinLength = 1; MaxLength = 100 }
        mac_address = @{ Type = 'string'; Pattern = $script:StaticMacPattern; Hint = 'must be 12 upper-case hex digits of a unicast address'; Nullable = $Update }
    }
}

# A catalogue network excludes switch_name and vlan_id.
function Assert-NetworkExclusive {
    param([Parameter(Mandatory = $true)] [hashtable] $Params)
    if (-not $Params.ContainsKey('network')) { return }
    $errors = @(foreach ($name in @('switch_name', 'vlan_id')) {
            if ($Params.ContainsKey($name)) { New-FieldErrorRecord -Pointer "/params/$name" -Message 'is not allowed together with network' }
        })
    if ($errors.Count -gt 0) { Stop-InvalidRequest -Errors $errors }
}

# nic.create: a new adapter on a catalogue network or a switch.
function Invoke-NicCreateOperation {
    param([Parameter(Mandatory = $true)] [hashtable] $Request)
    $spec = Get-NicParamsSpec -Update $false
    $spec.Remove('nic_id')
    $params = Read-AgentParams -Request $Request -Spec $spec
    Assert-NetworkExclusive -Params $params
    if (-not $params.ContainsKey('network') -and -not $params.ContainsKey('switch_name')) {
        Stop-InvalidRequest -Errors @(New-FieldErrorRecord -Pointer '/params' -Message 'needs one of: network, switch_name')
    }
    if (-not $params.ContainsKey('switch_name') -and $params.ContainsKey('vlan_id')) { Stop-InvalidParam -Name 'vlan_id' -Message 'needs switch_name' }
    if ($params.mac_address -eq '000000000000') { Stop-InvalidParam -Name 'mac_address' -Message 'must not be all zeros' }
    $vm = Get-AgentVm -VmId $params.vm_id
    Assert-AdapterChangeAllowed -Vm $vm -Action 'add an adapter to'
    if ($params.ContainsKey('network')) {
        $network = Find-CatalogueNetwork -Name $params.network
        $switchName = Find-VirtualSwitch -Name $network.switch_name
        $vlanId = $network.vlan_id
    } else {
        $switchName = Find-VirtualSwitch -Name $params.switch_name
        $vlanId = if ($params.ContainsKey('vlan_id')) { $params.vlan_id } else { $null }
    }
    $name = if ($params.ContainsKey('name')) { [string]$params.name } else { 'Network Adapter' }
    Set-AgentStep -Step 'add adapter'
    Write-AgentLog -Level 'info' -Message "adding adapter '$name' on $switchName (vlan $(if ($null -ne $vlanId) { $vlanId } else { 'untagged' })) to vm $($vm.Name)"
    $add = @{ VM = $vm; Name = $name; SwitchName = $switchName; Passthru = $true }
    if ($params.ContainsKey('mac_address')) { $add.StaticMacAddress = [string]$params.mac_address }
    $adapter = @(Invoke-AgentCmdlet -Name 'Add-VMNetworkAdapter' -Parameters $add)[0]
    try {
        if ($null -ne $vlanId) { Set-AdapterVlan -Adapter $adapter -VlanId $vlanId }
    } catch {
        Write-AgentLog -Level 'warning' -Message "adapter '$name' was not completed; removing it"
        Remove-VMNetworkAdapter -VMNetworkAdapter $adapter -ErrorAction SilentlyContinue
        throw
    }
    Get-AdapterRecord -Vm $vm -NicId ([string]$adapter.Id)
}

# nic.update: switch, VLAN, name and MAC address of one adapter.
function Invoke-NicUpdateOperation {
    param([Parameter(Mandatory = $true)] [hashtable] $Request)
    $params = Read-AgentParams -Request $Request -Spec (Get-NicParamsSpec -Update $true)
    Assert-NetworkExclusive -Params $params
    $changes = @(@('network', 'switch_name', 'vlan_id', 'name', 'mac_address') | Where-Object { $params.ContainsKey($_) })
    if ($changes.Count -eq 0) {
        Stop-InvalidRequest -Errors @(New-FieldErrorRecord -Pointer '/params' -Message 'needs one of: network, switch_name, vlan_id, name, mac_address')
    }
    if ($params.ContainsKey('mac_address') -and $params.mac_address -eq '000000000000') { Stop-InvalidParam -Name 'mac_address' -Message 'must not be all zeros' }
    $vm = Get-AgentVm -VmId $params.vm_id
    $adapter = Find-VmAdapter -Vm $vm -NicId $params.nic_id
    $state = ConvertTo-VmStateName -State $vm.State
    if ($params.ContainsKey('mac_address') -and $state -ne 'Off') {
        Stop-InvalidState -VmId $params.vm_id -State $state -AllowedStates @('Off') -Action 'change the mac address of'
    }
    $switchName = $null
    $setVlan = $false
    $vlanId = $null
    if ($params.ContainsKey('network')) {
        $network = Find-CatalogueNetwork -Name $params.network
        $switchName = Find-VirtualSwitch -Name $network.switch_name
        $setVlan = $true
        $vlanId = $network.vlan_id
    } else {
        if ($params.ContainsKey('switch_name')) { $switchName = Find-VirtualSwitch -Name $params.switch_name }
        if ($params.ContainsKey('vlan_id')) { $setVlan = $true; $vlanId = $params.vlan_id }
    }
    Set-AgentStep -Step 'update adapter'
    Write-AgentLog -Level 'info' -Message "updating adapter '$($adapter.Name)' of vm $($vm.Name): $($changes -join ', ')"
    if ($null -ne $switchName) { Invoke-AgentCmdlet -Name 'Connect-VMNetworkAdapter' -Parameters @{ VMNetworkAdapter = $adapter; SwitchName = $switchName } }
    if ($setVlan) { Set-AdapterVlan -Adapter $adapter -VlanId $vlanId }
    if ($params.ContainsKey('mac_address')) {
        if ($null -eq $params.mac_address) {
            Invoke-AgentCmdlet -Name 'Set-VMNetworkAdapter' -Parameters @{ VMNetworkAdapter = $adapter; DynamicMacAddress = $true }
        } else {
            Invoke-AgentCmdlet -Name 'Set-VMNetworkAdapter' -Parameters @{ VMNetworkAdapter = $adapter; StaticMacAddress = [string]$params.mac_address }
        }
    }
    if ($params.ContainsKey('name')) { Invoke-AgentCmdlet -Name 'Rename-VMNetworkAdapter' -Parameters @{ VMNetworkAdapter = $adapter; NewName = [string]$params.name } }
    Get-AdapterRecord -Vm $vm -NicId ([string]$adapter.Id)
}

# record: nic.delete.result.schema.json
function New-NicDeleteResultRecord {
    param([string] $VmId, [string] $NicId)
    [ordered]@{
        vm_id  = $VmId
        nic_id = $NicId
    }
}

# nic.delete: removes one adapter.
function Invoke-NicDeleteOperation {
    param([Parameter(Mandatory = $true)] [hashtable] $Request)
    $params = Read-AgentParams -Request $Request -Spec @{
        vm_id  = @{ Type = 'guid'; Required = $true }
        nic_id = @{ Type = 'string'; Required = $true; Pattern = $script:NicIdPattern; Hint = 'must look like Microsoft:<guid>\<guid>' }
    }
    $vm = Get-AgentVm -VmId $params.vm_id
    $adapter = Find-VmAdapter -Vm $vm -NicId $params.nic_id
    Assert-AdapterChangeAllowed -Vm $vm -Action 'remove an adapter from'
    Set-AgentStep -Step 'remove adapter'
    Write-AgentLog -Level 'info' -Message "removing adapter '$($adapter.Name)' from vm $($vm.Name)"
    Invoke-AgentCmdlet -Name 'Remove-VMNetworkAdapter' -Parameters @{ VMNetworkAdapter = $adapter }
    New-NicDeleteResultRecord -VmId $params.vm_id -NicId ([string]$adapter.Id)
}
