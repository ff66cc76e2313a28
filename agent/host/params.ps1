# Aether-V host agent: requests and parameters (Windows PowerShell 5.1).
#
# The request line (protocol, operation, correlation id, params) and each operation's
# params, checked against a small rule table per operation: every unknown field, missing
# field and bad value is reported at once as INVALID_REQUEST with its JSON pointer, and a
# value is never repeated in a message.

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
    param([AllowNull()] [AllowEmptyString()] [AllowEmptyCollection()] $Value, [Parameter(Mandatory = $true)] [hashtable] $Rule)
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
        [Parameter(Mandatory = $true)] [AllowEmptyCollection()] [System.Collections.IDictionary] $Spec
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
