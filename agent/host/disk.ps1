# Aether-V host agent: virtual hard disks (Windows PowerShell 5.1).
#
# disk.create (a clone of a catalogue image, copied with progress or converted with
# Convert-VHD, or a new empty disk from New-VHD; attached with Add-VMHardDiskDrive at the
# first free location; a file whose attach fails is deleted again), disk.resize
# (Resize-VHD; disks never shrink) and disk.delete (Remove-VMHardDiskDrive, then the file
# when asked).

function New-DiskSizeRule {
    param([bool] $Required = $false)
    @{ Type = 'int'; Required = $Required; Min = 3145728; Max = 70368744177664; MultipleOf = 1048576 }
}
$script:CopyBufferBytes = 4194304

# The drive of this VM with this id (compared case-insensitively), or NOT_FOUND.
function Find-VmDrive {
    param([Parameter(Mandatory = $true)] $Vm, [Parameter(Mandatory = $true)] [string] $DiskId)
    $drives = @(Invoke-AgentCmdlet -Name 'Get-VMHardDiskDrive' -Parameters @{ VM = $Vm })
    foreach ($drive in $drives) {
        if ([string]$drive.Id -eq $DiskId) { return $drive }
    }
    Stop-NotFound -Kind 'disk' -Name $DiskId -Available @($drives | ForEach-Object { [string]$_.Id })
}

# The disk record of a drive, read afresh.
function Get-DriveDiskRecord {
    param([Parameter(Mandatory = $true)] $Vm, [Parameter(Mandatory = $true)] [string] $ControllerType, [int] $ControllerNumber, [int] $ControllerLocation)
    $drive = @(Invoke-AgentCmdlet -Name 'Get-VMHardDiskDrive' -Parameters @{
            VM = $Vm; ControllerType = $ControllerType; ControllerNumber = $ControllerNumber; ControllerLocation = $ControllerLocation
        })[0]
    $vhd = $null
    try {
        $vhd = Get-VHD -Path ([string]$drive.Path) -ErrorAction Stop
    } catch {
        Add-AgentWarning -Source 'Get-VHD' -Message "$($drive.Path): $($_.Exception.Message)" -VmId (Get-VmIdText -Vm $Vm)
    }
    New-DiskRecord -Drive $drive -Vhd $vhd
}

# The first free location of the lowest-numbered controller of a kind, as @{ Number; Location }.
function Find-FreeControllerSlot {
    param([Parameter(Mandatory = $true)] $Vm, [Parameter(Mandatory = $true)] [string] $ControllerType)
    $used = @{}
    $devices = @(Invoke-AgentCmdlet -Name 'Get-VMHardDiskDrive' -Parameters @{ VM = $Vm }) + @(Invoke-AgentCmdlet -Name 'Get-VMDvdDrive' -Parameters @{ VM = $Vm })
    foreach ($device in $devices) {
        if ($null -eq $device) { continue }
        $used["$($device.ControllerType)/$($device.ControllerNumber)/$($device.ControllerLocation)"] = $true
    }
    if ($ControllerType -eq 'SCSI') {
        $numbers = @(Invoke-AgentCmdlet -Name 'Get-VMScsiController' -Parameters @{ VM = $Vm } | ForEach-Object { [int]$_.ControllerNumber } | Sort-Object)
        $locations = 0 .. 63
    } else {
        $numbers = @(0, 1)
        $locations = @(0, 1)
    }
    foreach ($number in $numbers) {
        foreach ($location in $locations) {
            if (-not $used.ContainsKey("$ControllerType/$number/$location")) { return @{ Number = $number; Location = $location } }
        }
    }
    Stop-OperationFailedWith -Cmdlet 'Add-VMHardDiskDrive' -Message "vm $($Vm.Name) has no free location on its $ControllerType controllers"
}

# Free space for a path that may not exist yet: measured at its nearest existing folder.
function Get-FolderSpace {
    param([Parameter(Mandatory = $true)] [string] $Path)
    $current = $Path
    while (-not [string]::IsNullOrEmpty($current)) {
        if (Test-Path -LiteralPath $current -PathType Container) { return Get-VolumeSpace -Path $current }
        $current = Split-Path -Path $current -Parent
    }
    $null
}

function Assert-FreeSpace {
    param([Parameter(Mandatory = $true)] [string] $Folder, [Parameter(Mandatory = $true)] [long] $RequiredBytes)
    if ($RequiredBytes -le 0) { return }
    $space = Get-FolderSpace -Path $Folder
    if ($null -ne $space -and $space.Free -lt $RequiredBytes) {
        Stop-InsufficientDiskSpace -RequiredBytes $RequiredBytes -AvailableBytes $space.Free -Path $Folder
    }
}

# Where a disk file is built before it takes its name: beside it, with the same extension
# (Convert-VHD reads the format from it), so that a copy killed on the host (a cancelled
# or timed-out job terminates the process, and no finally block runs) never leaves a
# half-written file under the disk's own name. A leftover from such a run is removed first.
function Get-PartialDiskPath {
    param([Parameter(Mandatory = $true)] [string] $Path)
    $folder = [System.IO.Path]::GetDirectoryName($Path)
    $partial = [System.IO.Path]::Combine($folder, ('~partial-' + [System.IO.Path]::GetFileName($Path)))
    if ([System.IO.File]::Exists($partial)) {
        Write-AgentLog -Level 'warning' -Message "removing $partial left by an earlier copy that did not finish"
        [System.IO.File]::Delete($partial)
    }
    return $partial
}

# Gives a finished partial file the disk's name; the disk's name must still be free.
function Complete-PartialDisk {
    param([Parameter(Mandatory = $true)] [string] $Partial, [Parameter(Mandatory = $true)] [string] $Path)
    try {
        [System.IO.File]::Move($Partial, $Path)
    } catch {
        [System.IO.File]::Delete($Partial)
        Stop-OperationFailedWith -Cmdlet 'Move-Item' -Message "naming ${Partial} ${Path}: $($_.Exception.Message)"
    }
}

# Copies a file in 4 MiB blocks, reporting progress between two percentages at most once a
# second. The copy is written beside the destination and renamed when complete.
function Copy-FileWithProgress {
    param(
        [Parameter(Mandatory = $true)] [string] $Source,
        [Parameter(Mandatory = $true)] [string] $Destination,
        [Parameter(Mandatory = $true)] [int] $FromPercent,
        [Parameter(Mandatory = $true)] [int] $ToPercent
    )
    $partial = Get-PartialDiskPath -Path $Destination
    $reader = $null
    $writer = $null
    $complete = $false
    try {
        $reader = [System.IO.File]::Open($Source, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, [System.IO.FileShare]::Read)
        $writer = [System.IO.File]::Open($partial, [System.IO.FileMode]::CreateNew, [System.IO.FileAccess]::Write, [System.IO.FileShare]::None)
        $total = [long]$reader.Length
        $buffer = New-Object -TypeName byte[] -ArgumentList $script:CopyBufferBytes
        $copied = [long]0
        $reported = [DateTime]::UtcNow
        while (($read = $reader.Read($buffer, 0, $buffer.Length)) -gt 0) {
            $writer.Write($buffer, 0, $read)
            $copied += $read
            if (([DateTime]::UtcNow - $reported).TotalSeconds -ge 1) {
                $reported = [DateTime]::UtcNow
                $fraction = if ($total -gt 0) { $copied / $total } else { 1 }
                $percent = [int]($FromPercent + ($ToPercent - $FromPercent) * $fraction)
                Write-AgentProgress -Step 'copy image' -Percent $percent -Message ('{0:N1} of {1:N1} GiB' -f ($copied / 1073741824), ($total / 1073741824))
            }
        }
        $writer.Flush()
        $complete = $true
    } catch {
        if (Test-AgentError -ErrorRecord $_) { throw }
        Stop-OperationFailedWith -Cmdlet 'Copy-Item' -Message "copying $Source to ${Destination}: $($_.Exception.Message)"
    } finally {
        if ($null -ne $writer) { $writer.Dispose() }
        if ($null -ne $reader) { $reader.Dispose() }
        if (-not $complete -and [System.IO.File]::Exists($partial)) { [System.IO.File]::Delete($partial) }
    }
    Complete-PartialDisk -Partial $partial -Path $Destination
    Write-AgentProgress -Step 'copy image' -Percent $ToPercent -Message 'copied'
}

# Makes the disk file: a clone of the image (copied, or converted when its type or format
# differs) grown to $SizeBytes, or a new empty disk.
function New-DiskFile {
    param([Parameter(Mandatory = $true)] [string] $Path, [AllowNull()] $Image, [AllowNull()] $SizeBytes, [Parameter(Mandatory = $true)] [string] $Type)
    if ($null -eq $Image) {
        Write-AgentProgress -Step 'create disk' -Percent 20 -Message "New-VHD $Type"
        $vhd = @{ Path = $Path; SizeBytes = [uint64]$SizeBytes }
        if ($Type -eq 'Fixed') { $vhd.Fixed = $true } else { $vhd.Dynamic = $true }
        $null = Invoke-AgentCmdlet -Name 'New-VHD' -Parameters $vhd
        return
    }
    $source = Invoke-AgentCmdlet -Name 'Get-VHD' -Parameters @{ Path = $Image.path }
    $sameFormat = $Image.path.ToLowerInvariant().EndsWith('.vhdx')
    if ($sameFormat -and $source.VhdType.ToString() -eq $Type) {
        Set-AgentStep -Step 'copy image'
        Copy-FileWithProgress -Source $Image.path -Destination $Path -FromPercent 10 -ToPercent 80
    } else {
        Set-AgentStep -Step 'convert image'
        Write-AgentProgress -Step 'convert image' -Percent 10 -Message "Convert-VHD $($source.VhdType) to $Type"
        $partial = Get-PartialDiskPath -Path $Path
        try {
            Invoke-AgentCmdlet -Name 'Convert-VHD' -Parameters @{ Path = $Image.path; DestinationPath = $partial; VHDType = $Type }
        } catch {
            if ([System.IO.File]::Exists($partial)) { [System.IO.File]::Delete($partial) }
            throw
        }
        Complete-PartialDisk -Partial $partial -Path $Path
        Write-AgentProgress -Step 'convert image' -Percent 80 -Message 'converted'
    }
    if ($null -ne $SizeBytes -and [long]$SizeBytes -gt [long]$source.Size) {
        Set-AgentStep -Step 'resize disk'
        Invoke-AgentCmdlet -Name 'Resize-VHD' -Parameters @{ Path = $Path; SizeBytes = [uint64]$SizeBytes }
    }
}

# disk.create: a new disk attached to a VM.
function Invoke-DiskCreateOperation {
    param([Parameter(Mandatory = $true)] [hashtable] $Request)
    $params = Read-AgentParams -Request $Request -Spec @{
        vm_id           = @{ Type = 'guid'; Required = $true }
        image           = @{ Type = 'string'; Pattern = $script:CatalogueNamePattern; Hint = 'must be a catalogue name' }
        size_bytes      = New-DiskSizeRule
        type            = @{ Type = 'enum'; Required = $true; Values = @('Dynamic', 'Fixed') }
        storage_class   = @{ Type = 'string'; Pattern = $script:CatalogueNamePattern; Hint = 'must be a catalogue name' }
        controller_type = @{ Type = 'enum'; Required = $true; Values = @('SCSI', 'IDE') }
    }
    if (-not $params.ContainsKey('image') -and -not $params.ContainsKey('size_bytes')) {
        Stop-InvalidRequest -Errors @(New-FieldErrorRecord -Pointer '/params' -Message 'needs one of: image, size_bytes')
    }
    $vm = Get-AgentVm -VmId $params.vm_id
    $state = ConvertTo-VmStateName -State $vm.State
    $controller = [string]$params.controller_type
    if ($controller -eq 'IDE' -and [int]$vm.Generation -eq 2) { Stop-InvalidParam -Name 'controller_type' -Message 'must be SCSI for a generation 2 vm' }
    if ($controller -eq 'IDE' -and $state -ne 'Off') { Stop-InvalidState -VmId $params.vm_id -State $state -AllowedStates @('Off') -Action 'attach an ide disk to' }
    $image = $null
    if ($params.ContainsKey('image')) {
        $image = Find-CatalogueImage -Name $params.image
        if ($params.ContainsKey('size_bytes') -and $null -ne $image.capacity_bytes -and $params.size_bytes -lt $image.capacity_bytes) {
            Stop-InvalidParam -Name 'size_bytes' -Message "must not be below the image's capacity of $($image.capacity_bytes) bytes"
        }
    }
    $folder = [string]$vm.ConfigurationLocation
    if ($params.ContainsKey('storage_class')) { $folder = Join-Path -Path (Find-StorageClass -Name $params.storage_class).path -ChildPath $vm.Name }
    $path = Join-Path -Path $folder -ChildPath ('{0}-{1}.vhdx' -f $vm.Name, [guid]::NewGuid().ToString('N').Substring(0, 8))
    if (Test-Path -LiteralPath $path) { Stop-AlreadyExists -Kind 'file' -Name $path }
    $slot = Find-FreeControllerSlot -Vm $vm -ControllerType $controller
    $required = [long]0
    if ($null -ne $image) { if ($null -ne $image.file_size_bytes) { $required = [long]$image.file_size_bytes } }
    elseif ($params.type -eq 'Fixed') { $required = [long]$params.size_bytes }
    Assert-FreeSpace -Folder $folder -RequiredBytes $required
    Write-AgentLog -Level 'info' -Message "creating $($params.type) disk $path for vm $($vm.Name)"
    if (-not (Test-Path -LiteralPath $folder)) { $null = Invoke-AgentCmdlet -Name 'New-Item' -Parameters @{ ItemType = 'Directory'; Path = $folder } }
    $size = if ($params.ContainsKey('size_bytes')) { $params.size_bytes } else { $null }
    try {
        New-DiskFile -Path $path -Image $image -SizeBytes $size -Type $params.type
        Set-AgentStep -Step 'attach disk'
        Write-AgentProgress -Step 'attach disk' -Percent 90 -Message "$controller $($slot.Number):$($slot.Location)"
        Invoke-AgentCmdlet -Name 'Add-VMHardDiskDrive' -Parameters @{
            VM = $vm; ControllerType = $controller; ControllerNumber = $slot.Number; ControllerLocation = $slot.Location; Path = $path
        }
    } catch {
        if (Test-Path -LiteralPath $path) {
            Write-AgentLog -Level 'warning' -Message "disk $path was not attached; deleting it"
            Remove-Item -LiteralPath $path -Force -ErrorAction SilentlyContinue
        }
        throw
    }
    Write-AgentProgress -Step 'attach disk' -Percent 100 -Message 'attached'
    Get-DriveDiskRecord -Vm $vm -ControllerType $controller -ControllerNumber $slot.Number -ControllerLocation $slot.Location
}

# disk.resize: grows a disk.
function Invoke-DiskResizeOperation {
    param([Parameter(Mandatory = $true)] [hashtable] $Request)
    $params = Read-AgentParams -Request $Request -Spec @{
        vm_id      = @{ Type = 'guid'; Required = $true }
        disk_id    = @{ Type = 'string'; Required = $true; Pattern = $script:DiskIdPattern; Hint = 'must look like Microsoft:<guid>\<guid>\<n>\<n>\D' }
        size_bytes = New-DiskSizeRule -Required $true
    }
    $vm = Get-AgentVm -VmId $params.vm_id
    $drive = Find-VmDrive -Vm $vm -DiskId $params.disk_id
    $path = [string]$drive.Path
    $vhd = Invoke-AgentCmdlet -Name 'Get-VHD' -Parameters @{ Path = $path }
    $capacity = [long]$vhd.Size
    if ($params.size_bytes -lt $capacity) { Stop-InvalidParam -Name 'size_bytes' -Message "must not be below the current capacity of $capacity bytes: disks never shrink" }
    if ($params.size_bytes -gt $capacity) {
        $state = ConvertTo-VmStateName -State $vm.State
        $offline = $drive.ControllerType.ToString() -eq 'IDE' -or -not $path.ToLowerInvariant().EndsWith('.vhdx')
        if ($offline -and $state -ne 'Off') { Stop-InvalidState -VmId $params.vm_id -State $state -AllowedStates @('Off') -Action 'resize an ide or .vhd disk of' }
        if ($vhd.VhdType.ToString() -eq 'Fixed') { Assert-FreeSpace -Folder (Split-Path -Path $path -Parent) -RequiredBytes ($params.size_bytes - $capacity) }
        Set-AgentStep -Step 'resize disk'
        Write-AgentLog -Level 'info' -Message "growing $path from $capacity to $($params.size_bytes) bytes"
        Invoke-AgentCmdlet -Name 'Resize-VHD' -Parameters @{ Path = $path; SizeBytes = [uint64]$params.size_bytes }
    } else {
        Write-AgentLog -Level 'info' -Message "$path already has $capacity bytes; nothing to change"
    }
    Get-DriveDiskRecord -Vm $vm -ControllerType $drive.ControllerType.ToString() -ControllerNumber $drive.ControllerNumber -ControllerLocation $drive.ControllerLocation
}

# record: disk.delete.result.schema.json
function New-DiskDeleteResultRecord {
    param([string] $VmId, [string] $DiskId, [string] $Path, [bool] $FileDeleted)
    [ordered]@{
        vm_id        = $VmId
        disk_id      = $DiskId
        path         = $Path
        file_deleted = $FileDeleted
    }
}

# disk.delete: detaches a disk and deletes its file when asked.
function Invoke-DiskDeleteOperation {
    param([Parameter(Mandatory = $true)] [hashtable] $Request)
    $params = Read-AgentParams -Request $Request -Spec @{
        vm_id       = @{ Type = 'guid'; Required = $true }
        disk_id     = @{ Type = 'string'; Required = $true; Pattern = $script:DiskIdPattern; Hint = 'must look like Microsoft:<guid>\<guid>\<n>\<n>\D' }
        delete_file = @{ Type = 'bool'; Required = $true }
    }
    $vm = Get-AgentVm -VmId $params.vm_id
    $drive = Find-VmDrive -Vm $vm -DiskId $params.disk_id
    $state = ConvertTo-VmStateName -State $vm.State
    if ($drive.ControllerType.ToString() -eq 'IDE' -and $state -ne 'Off') {
        Stop-InvalidState -VmId $params.vm_id -State $state -AllowedStates @('Off') -Action 'detach an ide disk from'
    }
    $path = [string]$drive.Path
    Set-AgentStep -Step 'detach disk'
    Write-AgentLog -Level 'info' -Message "detaching $path from vm $($vm.Name)"
    Invoke-AgentCmdlet -Name 'Remove-VMHardDiskDrive' -Parameters @{ VMHardDiskDrive = $drive }
    $deleted = $false
    if ($params.delete_file) {
        Set-AgentStep -Step 'delete file'
        if (Test-Path -LiteralPath $path -PathType Leaf) {
            Invoke-AgentCmdlet -Name 'Remove-Item' -Parameters @{ LiteralPath = $path; Force = $true }
            Write-AgentLog -Level 'info' -Message "deleted $path"
            $deleted = $true
        } else {
            Write-AgentLog -Level 'warning' -Message "$path does not exist; nothing to delete"
        }
    }
    New-DiskDeleteResultRecord -VmId $params.vm_id -DiskId ([string]$drive.Id) -Path $path -FileDeleted $deleted
}
