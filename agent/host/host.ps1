# Aether-V host agent: the host itself (Windows PowerShell 5.1).
#
# agent.info, noop and host.resources; the host facts other operations share (names,
# cluster membership, processors, memory, volume space); and the host resource catalogue,
# read from C:\ProgramData\Aether-V\hostresources.json:
#
#   { "version": 1, "schema_name": "hostresources",
#     "storage_classes": [ { "name": "fast-ssd", "path": "C:\\ClusterStorage\\Volume1\\VMs" } ],
#     "networks": [ { "name": "Production", "model": "vlan",
#                     "configuration": { "virtual_switch": "External", "vlan_id": 100 } } ],
#     "images": [ { "name": "ubuntu-24.04", "path": "C:\\ClusterStorage\\Volume1\\DiskImages\\ubuntu-24.04.vhdx",
#                   "os_family": "linux" } ] }
#
# Networks may leave vlan_id out (untagged) or use the flat form { name, switch_name, vlan_id }.
# Without "images", the golden images are the *.vhdx/*.vhd files of the first
# C:\ClusterStorage\*\DiskImages folder, their OS family guessed from the name. Entries that
# break these rules are skipped with a warning; so is a second entry of the same name.

$script:CataloguePath = 'C:\ProgramData\Aether-V\hostresources.json'
$script:LinuxImageKeywords = @(
    'linux', 'ubuntu', 'debian', 'centos', 'rhel', 'redhat', 'fedora', 'suse', 'opensuse', 'arch',
    'alpine', 'rocky', 'alma', 'oracle linux', 'amazon linux', 'kali', 'mint'
)

# ---------------------------------------------------------------------------------------
# Host facts.

function Get-HostComputerSystem {
    if ($null -eq $script:HostComputerSystem) {
        $script:HostComputerSystem = Invoke-AgentCmdlet -Name 'Get-CimInstance' -Parameters @{ ClassName = 'Win32_ComputerSystem' }
    }
    $script:HostComputerSystem
}

function Get-HostOperatingSystem {
    if ($null -eq $script:HostOperatingSystem) {
        $script:HostOperatingSystem = Invoke-AgentCmdlet -Name 'Get-CimInstance' -Parameters @{ ClassName = 'Win32_OperatingSystem' }
    }
    $script:HostOperatingSystem
}

function Get-HostComputerName {
    [string]$env:COMPUTERNAME
}

# The host's DNS name: host name plus the primary DNS suffix, or the computer name alone.
function Get-HostFqdn {
    $properties = [System.Net.NetworkInformation.IPGlobalProperties]::GetIPGlobalProperties()
    $name = [string]$properties.HostName
    if ([string]::IsNullOrEmpty($name)) { $name = Get-HostComputerName }
    $domain = [string]$properties.DomainName
    if ([string]::IsNullOrEmpty($domain)) { return $name }
    "$name.$domain"
}

# The failover cluster this host is a node of, or $null when standalone.
function Get-HostClusterName {
    $service = Get-Service -Name 'ClusSvc' -ErrorAction SilentlyContinue
    if ($null -eq $service -or $service.Status.ToString() -ne 'Running') { return $null }
    try {
        Import-Module -Name 'FailoverClusters' -ErrorAction Stop -Verbose:$false
        $node = Get-ClusterNode -Name (Get-HostComputerName) -ErrorAction Stop
        return [string]$node.Cluster.Name
    } catch {
        Add-AgentWarning -Source 'Get-ClusterNode' -Message $_.Exception.Message -VmId $null
        return $null
    }
}

# Size and free space of the local volume holding a folder (longest mount-point match,
# so cluster shared volumes under C:\ClusterStorage count as their own volumes), or $null
# when the folder does not exist or is not on a local volume.
function Get-VolumeSpace {
    param([Parameter(Mandatory = $true)] [string] $Path)
    if (-not (Test-Path -LiteralPath $Path -PathType Container)) { return $null }
    if ($null -eq $script:HostVolumes) {
        try {
            $script:HostVolumes = @(Get-CimInstance -ClassName Win32_Volume -Filter 'DriveType = 3' -ErrorAction Stop -Verbose:$false |
                    Where-Object { $_.Name -and $null -ne $_.Capacity -and $null -ne $_.FreeSpace } |
                    Sort-Object -Property @{ Expression = { $_.Name.Length } } -Descending)
        } catch {
            $script:HostVolumes = @()
            Add-AgentWarning -Source 'Win32_Volume' -Message $_.Exception.Message -VmId $null
        }
    }
    $full = [System.IO.Path]::GetFullPath($Path).TrimEnd('\') + '\'
    foreach ($volume in $script:HostVolumes) {
        if ($full.StartsWith([string]$volume.Name, [System.StringComparison]::OrdinalIgnoreCase)) {
            return @{ Total = [long]$volume.Capacity; Free = [long]$volume.FreeSpace }
        }
    }
    $null
}

# ---------------------------------------------------------------------------------------
# The resource catalogue.

# record: defs.schema.json#/$defs/storage-class
function New-StorageClassRecord {
    param([string] $Name, [string] $Path)
    $space = Get-VolumeSpace -Path $Path
    [ordered]@{
        name        = $Name
        path        = $Path
        total_bytes = if ($null -ne $space) { $space.Total } else { $null }
        free_bytes  = if ($null -ne $space) { $space.Free } else { $null }
    }
}

# record: defs.schema.json#/$defs/network
function New-NetworkRecord {
    param([string] $Name, [string] $SwitchName, [AllowNull()] $VlanId)
    [ordered]@{
        name        = $Name
        switch_name = $SwitchName
        vlan_id     = if ($null -ne $VlanId) { [int]$VlanId } else { $null }
    }
}

# record: defs.schema.json#/$defs/image
function New-ImageRecord {
    param([string] $Name, [string] $Path, [string] $OsFamily)
    $capacity = $null
    $fileSize = $null
    try {
        $vhd = Get-VHD -Path $Path -ErrorAction Stop
        $capacity = [long]$vhd.Size
        $fileSize = [long]$vhd.FileSize
    } catch {
        Add-AgentWarning -Source 'Get-VHD' -Message "image ${Name}: $($_.Exception.Message)" -VmId $null
    }
    [ordered]@{
        name            = $Name
        path            = $Path
        os_family       = $OsFamily
        capacity_bytes  = $capacity
        file_size_bytes = $fileSize
    }
}

# record: defs.schema.json#/$defs/resource-catalogue
function New-CatalogueRecord {
    param([hashtable] $Catalogue)
    [ordered]@{
        catalogue_path  = $Catalogue.Path
        storage_classes = @($Catalogue.StorageClasses)
        networks        = @($Catalogue.Networks)
        images          = @($Catalogue.Images)
    }
}

function Get-ImageOsFamily {
    param([string] $Name)
    $lower = $Name.ToLowerInvariant()
    foreach ($keyword in $script:LinuxImageKeywords) {
        if ($lower.Contains($keyword)) { return 'linux' }
    }
    'windows'
}

function Get-CatalogueText {
    param($Entry, [string] $Name)
    if (-not (Test-JsonObject -Value $Entry)) { return $null }
    $property = Get-JsonProperty -Object $Entry -Name $Name
    if ($null -eq $property -or $property.Value -isnot [string]) { return $null }
    [string]$property.Value
}

# Reads one list of the catalogue; $Convert turns an entry into a record or a reason
# string, and duplicates and bad entries become warnings.
function Read-CatalogueList {
    param($Document, [string] $Name, [scriptblock] $Convert)
    $property = Get-JsonProperty -Object $Document -Name $Name
    if ($null -eq $property) { return }
    if ($property.Value -isnot [array]) {
        Add-AgentWarning -Source 'catalogue' -Message "$Name is not a list; ignored" -VmId $null
        return
    }
    $seen = @{}
    $index = 0
    foreach ($entry in $property.Value) {
        $outcome = & $Convert $entry
        if ($outcome -is [string]) {
            Add-AgentWarning -Source 'catalogue' -Message "$Name[$index] ${outcome}; ignored" -VmId $null
        } elseif ($seen.ContainsKey($outcome.name)) {
            Add-AgentWarning -Source 'catalogue' -Message "$Name[$index] repeats the name $($outcome.name); ignored" -VmId $null
        } else {
            $seen[$outcome.name] = $true
            $outcome
        }
        $index++
    }
}

function ConvertTo-StorageClassEntry {
    param($Entry)
    $name = Get-CatalogueText -Entry $Entry -Name 'name'
    $path = Get-CatalogueText -Entry $Entry -Name 'path'
    if ($null -eq $name -or $name -cnotmatch $script:CatalogueNamePattern) { return 'has no valid name' }
    if ($null -eq $path -or $path -cnotmatch $script:WindowsPathPattern) { return 'has no absolute path' }
    New-StorageClassRecord -Name $name -Path $path
}

function ConvertTo-NetworkEntry {
    param($Entry)
    $name = Get-CatalogueText -Entry $Entry -Name 'name'
    if ($null -eq $name -or $name -cnotmatch $script:CatalogueNamePattern) { return 'has no valid name' }
    $source = $Entry
    $configuration = Get-JsonProperty -Object $Entry -Name 'configuration'
    if ($null -ne $configuration -and (Test-JsonObject -Value $configuration.Value)) { $source = $configuration.Value }
    $switchName = Get-CatalogueText -Entry $source -Name 'virtual_switch'
    if ($null -eq $switchName) { $switchName = Get-CatalogueText -Entry $source -Name 'switch_name' }
    if ([string]::IsNullOrEmpty($switchName)) { return 'names no virtual switch' }
    $vlan = Get-JsonProperty -Object $source -Name 'vlan_id'
    $vlanId = $null
    if ($null -ne $vlan -and $null -ne $vlan.Value) {
        if (-not (Test-JsonInteger -Value $vlan.Value) -or $vlan.Value -lt 1 -or $vlan.Value -gt 4094) { return 'has a vlan_id outside 1-4094' }
        $vlanId = [int]$vlan.Value
    }
    New-NetworkRecord -Name $name -SwitchName $switchName -VlanId $vlanId
}

function ConvertTo-ImageEntry {
    param($Entry)
    $name = Get-CatalogueText -Entry $Entry -Name 'name'
    $path = Get-CatalogueText -Entry $Entry -Name 'path'
    $family = Get-CatalogueText -Entry $Entry -Name 'os_family'
    if ($null -eq $name -or $name -cnotmatch $script:CatalogueNamePattern) { return 'has no valid name' }
    if ($null -eq $path -or $path -cnotmatch $script:WindowsPathPattern) { return 'has no absolute path' }
    if ($null -eq $family) { $family = Get-ImageOsFamily -Name $name }
    if (@('windows', 'linux') -cnotcontains $family) { return 'has an os_family other than windows or linux' }
    New-ImageRecord -Name $name -Path $path -OsFamily $family
}

# Golden images found the reference's way: the first C:\ClusterStorage\*\DiskImages folder.
function Find-DiskImages {
    $folder = Get-ChildItem -Path 'C:\ClusterStorage\*\DiskImages' -Directory -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($null -eq $folder) { return }
    $seen = @{}
    foreach ($file in @(Get-ChildItem -LiteralPath $folder.FullName -File -ErrorAction SilentlyContinue)) {
        if (@('.vhdx', '.vhd') -notcontains $file.Extension.ToLowerInvariant()) { continue }
        $name = [System.IO.Path]::GetFileNameWithoutExtension($file.Name)
        if ($name -cnotmatch $script:CatalogueNamePattern -or $seen.ContainsKey($name)) { continue }
        $seen[$name] = $true
        New-ImageRecord -Name $name -Path ([string]$file.FullName) -OsFamily (Get-ImageOsFamily -Name $name)
    }
}

# The catalogue as a hashtable: Path ($null without a file), StorageClasses, Networks and
# Images (lists of records). Read once per operation.
function Read-HostCatalogue {
    if ($null -ne $script:HostCatalogue) { return $script:HostCatalogue }
    $catalogue = @{ Path = $null; StorageClasses = @(); Networks = @(); Images = @() }
    $script:HostCatalogue = $catalogue
    if (-not (Test-Path -LiteralPath $script:CataloguePath -PathType Leaf)) { return $catalogue }
    $catalogue.Path = $script:CataloguePath
    $document = $null
    try {
        $text = [System.IO.File]::ReadAllText($script:CataloguePath)
        $document = ConvertFrom-Json -InputObject $text -ErrorAction Stop
    } catch {
        Add-AgentWarning -Source 'catalogue' -Message "cannot read $($script:CataloguePath): $($_.Exception.Message)" -VmId $null
        return $catalogue
    }
    if (-not (Test-JsonObject -Value $document)) {
        Add-AgentWarning -Source 'catalogue' -Message "$($script:CataloguePath) is not a json object" -VmId $null
        return $catalogue
    }
    $catalogue.StorageClasses = @(Read-CatalogueList -Document $document -Name 'storage_classes' -Convert ${function:ConvertTo-StorageClassEntry})
    $catalogue.Networks = @(Read-CatalogueList -Document $document -Name 'networks' -Convert ${function:ConvertTo-NetworkEntry})
    if ($null -ne (Get-JsonProperty -Object $document -Name 'images')) {
        $catalogue.Images = @(Read-CatalogueList -Document $document -Name 'images' -Convert ${function:ConvertTo-ImageEntry})
    } else {
        $catalogue.Images = @(Find-DiskImages)
    }
    $catalogue
}

function Find-StorageClass {
    param([Parameter(Mandatory = $true)] [string] $Name)
    $catalogue = Read-HostCatalogue
    foreach ($class in $catalogue.StorageClasses) {
        if ($class.name -ceq $Name) { return $class }
    }
    Stop-NotFound -Kind 'storage_class' -Name $Name -Available @($catalogue.StorageClasses | ForEach-Object { $_.name })
}

function Find-CatalogueNetwork {
    param([Parameter(Mandatory = $true)] [string] $Name)
    $catalogue = Read-HostCatalogue
    foreach ($network in $catalogue.Networks) {
        if ($network.name -ceq $Name) { return $network }
    }
    Stop-NotFound -Kind 'network' -Name $Name -Available @($catalogue.Networks | ForEach-Object { $_.name })
}

function Find-CatalogueImage {
    param([Parameter(Mandatory = $true)] [string] $Name)
    $catalogue = Read-HostCatalogue
    foreach ($image in $catalogue.Images) {
        if ($image.name -ceq $Name) { return $image }
    }
    Stop-NotFound -Kind 'image' -Name $Name -Available @($catalogue.Images | ForEach-Object { $_.name })
}

# ---------------------------------------------------------------------------------------
# Operations.

# record: agent.info.result.schema.json
function New-AgentInfoRecord {
    param([hashtable] $Facts)
    [ordered]@{
        agent_version          = $script:AgentVersion
        agent_sha256           = $script:AgentSha256
        protocol_versions      = @($script:AgentProtocolVersions)
        operations             = @($script:AgentOperations.Keys)
        powershell_version     = $PSVersionTable.PSVersion.ToString()
        os_version             = $Facts.OsVersion
        os_caption             = $Facts.OsCaption
        computer_name          = Get-HostComputerName
        fqdn                   = Get-HostFqdn
        hyperv_module_present  = $null -ne $Facts.Module
        hyperv_module_version  = if ($null -ne $Facts.Module) { $Facts.Module.Version.ToString() } else { $null }
        hyperv_service_present = $null -ne $Facts.Service
        hyperv_service_running = $null -ne $Facts.Service -and $Facts.Service.Status.ToString() -eq 'Running'
        cluster_name           = Get-HostClusterName
        time_utc               = ConvertTo-UtcText -Time ([DateTime]::UtcNow)
    }
}

# agent.info: answers on any Windows host, with or without Hyper-V.
function Invoke-AgentInfoOperation {
    param([Parameter(Mandatory = $true)] [hashtable] $Request)
    $null = Read-AgentParams -Request $Request -Spec @{}
    $facts = @{
        OsVersion = [Environment]::OSVersion.Version.ToString()
        OsCaption = 'Microsoft Windows'
        Module    = Get-Module -ListAvailable -Name 'Hyper-V' -Verbose:$false | Sort-Object -Property Version -Descending | Select-Object -First 1
        Service   = Get-Service -Name 'vmms' -ErrorAction SilentlyContinue
    }
    try {
        $os = Get-HostOperatingSystem
        $facts.OsVersion = [string]$os.Version
        $facts.OsCaption = [string]$os.Caption
    } catch {
        Add-AgentWarning -Source 'Win32_OperatingSystem' -Message $_.Exception.Message -VmId $null
    }
    New-AgentInfoRecord -Facts $facts
}

# record: noop.result.schema.json
function New-NoopResultRecord {
    param($Echo, [string] $CorrelationId)
    [ordered]@{
        echo           = $Echo
        correlation_id = $CorrelationId
    }
}

# noop: the params come back unchanged (round-trip tests of the transport and of JSON).
function Invoke-NoopOperation {
    param([Parameter(Mandatory = $true)] [hashtable] $Request)
    New-NoopResultRecord -Echo $Request.params -CorrelationId $Request.correlation_id
}

# host.resources: the catalogue with free space and image sizes.
function Invoke-HostResourcesOperation {
    param([Parameter(Mandatory = $true)] [hashtable] $Request)
    $null = Read-AgentParams -Request $Request -Spec @{}
    Set-AgentStep -Step 'read catalogue'
    New-CatalogueRecord -Catalogue (Read-HostCatalogue)
}
