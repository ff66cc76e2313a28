//! Contract tests of the PowerShell host agent (`agent/host/`), over the syntax tree that
//! tree-sitter-powershell builds (no PowerShell runs here): every script parses; the
//! dispatcher names exactly the operations of `schemas/agent/`; every record has exactly
//! the keys of its schema and every operation answers with its result's record; error
//! codes come from the closed list; every `ConvertTo-Json` is framed; nothing is
//! PowerShell 6+ only; no `Write-Host`; and every call names a function of the bundle
//! (with its parameters) or a known cmdlet (with parameters it has).

mod powershell;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aetherv_hyperv::*;
use powershell::{Script, descendants, enclosing_function, unquote};
use serde_json::Value;

fn bundle() -> Vec<Script> {
    BUNDLE_FILES
        .iter()
        .map(|(name, text)| Script::parse(name, text))
        .collect()
}

fn schema(file: &str) -> Value {
    let text = SCHEMA_FILES
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, text)| *text)
        .unwrap_or_else(|| panic!("no schema file {file}"));
    serde_json::from_str(text).expect("schemas are json")
}

/// A schema reference (`file#pointer`) followed through lone `$ref`s to the object schema
/// it names: (canonical reference, schema).
fn resolve(reference: &str) -> (String, Value) {
    let (mut file, mut pointer) = match reference.split_once('#') {
        Some((f, p)) => (f.to_owned(), p.to_owned()),
        None => (reference.to_owned(), String::new()),
    };
    for _ in 0..8 {
        let document = schema(&file);
        let node = document
            .pointer(&pointer)
            .unwrap_or_else(|| panic!("{reference}: {file}#{pointer} does not exist"))
            .clone();
        match (
            node.get("$ref").and_then(Value::as_str),
            node.get("properties"),
        ) {
            (Some(next), None) => {
                let (next_file, next_pointer) = next.split_once('#').unwrap_or((next, ""));
                if !next_file.is_empty() {
                    file = next_file.to_owned();
                }
                pointer = next_pointer.to_owned();
            }
            _ => return (format!("{file}#{pointer}"), node),
        }
    }
    panic!("{reference}: $ref chain too long")
}

fn keys_of(node: &Value, member: &str) -> BTreeSet<String> {
    match node.get(member) {
        Some(Value::Object(map)) => map.keys().cloned().collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => BTreeSet::new(),
    }
}

/// function name -> (script index, parameter names, record reference)
fn function_table(scripts: &[Script]) -> BTreeMap<String, (usize, Vec<String>, Option<String>)> {
    let mut table = BTreeMap::new();
    for (i, script) in scripts.iter().enumerate() {
        for function in script.functions() {
            let previous = table.insert(
                function.name.to_lowercase(),
                (i, function.params, function.record),
            );
            assert!(
                previous.is_none(),
                "function {} is defined twice",
                function.name
            );
        }
    }
    table
}

/// The dispatcher's table: operation -> handler function.
fn dispatch_table(scripts: &[Script]) -> BTreeMap<String, String> {
    let core = &scripts[0];
    let assignment = core
        .nodes()
        .into_iter()
        .find(|n| {
            n.kind() == "assignment_expression"
                && core.text(*n).starts_with("$script:AgentOperations =")
        })
        .expect("core.ps1 assigns $script:AgentOperations");
    let (hash, _) = core
        .ordered_literals(assignment)
        .into_iter()
        .next()
        .expect("the dispatch table is an [ordered]@{} literal");
    descendants(hash)
        .into_iter()
        .filter(|n| n.kind() == "hash_entry")
        .map(|entry| {
            let kids = powershell::children(entry);
            let key = kids
                .iter()
                .find(|c| c.kind() == "key_expression")
                .map(|k| unquote(core.text(*k)));
            let value = kids
                .iter()
                .find(|c| c.kind() == "pipeline")
                .map(|v| unquote(core.text(*v)));
            (key.unwrap_or_default(), value.unwrap_or_default())
        })
        .collect()
}

/// Every function each function calls (commands, `${function:X}` references and
/// `Invoke-AgentCmdlet -Name 'X'`), by lower-case name.
fn call_graph(scripts: &[Script]) -> HashMap<String, BTreeSet<String>> {
    let mut graph: HashMap<String, BTreeSet<String>> = HashMap::new();
    for script in scripts {
        for function in script.functions() {
            let callees = graph.entry(function.name.to_lowercase()).or_default();
            for command in script.commands(function.node) {
                callees.insert(command.name.to_lowercase());
            }
            for node in descendants(function.node) {
                let text = script.text(node);
                if node.kind() == "braced_variable"
                    && let Some(name) = text.strip_prefix("${function:")
                {
                    callees.insert(name.trim_end_matches('}').to_lowercase());
                }
            }
        }
    }
    graph
}

fn reachable(graph: &HashMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_lowercase()];
    while let Some(name) = stack.pop() {
        if seen.insert(name.clone())
            && let Some(callees) = graph.get(&name)
        {
            stack.extend(callees.iter().cloned());
        }
    }
    seen
}

#[test]
fn every_script_parses_without_errors() {
    let mut errors = Vec::new();
    for script in bundle() {
        errors.extend(script.syntax_errors());
    }
    errors.extend(Script::parse("bootstrap.ps1", BOOTSTRAP_TEMPLATE).syntax_errors());
    let filled = Bootstrap::builtin().expect("the bootstrap builds");
    errors.extend(Script::parse("bootstrap (filled)", filled.script()).syntax_errors());
    assert!(errors.is_empty(), "syntax errors:\n{}", errors.join("\n"));
}

#[test]
fn the_dispatcher_names_exactly_the_schema_operations() {
    let scripts = bundle();
    let table = dispatch_table(&scripts);
    let names: BTreeSet<String> = table.keys().cloned().collect();
    let rust: BTreeSet<String> = Operation::ALL
        .iter()
        .map(|o| o.as_str().to_owned())
        .collect();
    let request = schema("request.schema.json");
    let schema_ops = keys_of(&request["properties"]["operation"], "enum");
    assert_eq!(names, rust, "dispatcher vs Operation::ALL");
    assert_eq!(names, schema_ops, "dispatcher vs request.schema.json");
    let functions = function_table(&scripts);
    for (operation, handler) in &table {
        let (_, params, _) = functions
            .get(&handler.to_lowercase())
            .unwrap_or_else(|| panic!("{operation}: handler {handler} is not defined"));
        assert_eq!(
            params,
            &vec!["Request".to_owned()],
            "{handler} takes -Request only"
        );
    }
}

#[test]
fn every_record_has_exactly_the_keys_of_its_schema() {
    let scripts = bundle();
    let mut records = 0;
    for script in &scripts {
        for function in script.functions() {
            let Some(reference) = &function.record else {
                continue;
            };
            records += 1;
            let literals = script.ordered_literals(function.node);
            assert_eq!(
                literals.len(),
                1,
                "{}: a record function builds exactly one [ordered]@{{}}",
                function.name
            );
            let keys: BTreeSet<String> = literals[0].1.iter().cloned().collect();
            let (canonical, node) = resolve(reference);
            let properties = keys_of(&node, "properties");
            let required = keys_of(&node, "required");
            assert!(
                !properties.is_empty(),
                "{}: {canonical} has no properties",
                function.name
            );
            let missing: Vec<_> = required.difference(&keys).collect();
            let extra: Vec<_> = keys.difference(&properties).collect();
            assert!(
                missing.is_empty(),
                "{} ({canonical}) lacks required keys {missing:?}",
                function.name
            );
            assert!(
                extra.is_empty(),
                "{} ({canonical}) has keys the schema does not allow: {extra:?}",
                function.name
            );
            if node.get("additionalProperties") == Some(&Value::Bool(false))
                && required == properties
            {
                assert_eq!(keys, properties, "{} ({canonical})", function.name);
            }
        }
    }
    assert!(records >= 30, "only {records} record functions found");
}

#[test]
fn every_ordered_literal_is_a_record_or_the_dispatch_table() {
    for script in bundle() {
        for (literal, _) in script.ordered_literals(script.root()) {
            let Some(function) = enclosing_function(literal) else {
                assert!(
                    script
                        .text(literal.parent().and_then(|p| p.parent()).unwrap_or(literal))
                        .contains("'agent.info'"),
                    "{}: an [ordered]@{{}} outside a function that is not the dispatch table",
                    script.at(literal)
                );
                continue;
            };
            let annotated = script
                .functions()
                .into_iter()
                .any(|f| f.node == function && f.record.is_some());
            assert!(
                annotated,
                "{}: [ordered]@{{}} in a function without a # record: annotation",
                script.at(literal)
            );
        }
    }
}

#[test]
fn every_operation_answers_with_the_record_of_its_result_schema() {
    let scripts = bundle();
    let functions = function_table(&scripts);
    let graph = call_graph(&scripts);
    let mut builders: HashMap<String, Vec<String>> = HashMap::new();
    for (name, (_, _, record)) in &functions {
        if let Some(reference) = record {
            builders
                .entry(resolve(reference).0)
                .or_default()
                .push(name.clone());
        }
    }
    for (operation, handler) in dispatch_table(&scripts) {
        let (canonical, _) = resolve(&format!("{operation}.result.schema.json"));
        let candidates = builders
            .get(&canonical)
            .unwrap_or_else(|| panic!("{operation}: no record function builds {canonical}"));
        let called = reachable(&graph, &handler);
        assert!(
            candidates.iter().any(|c| called.contains(c)),
            "{operation}: {handler} never calls {candidates:?}, the builders of {canonical}"
        );
    }
}

#[test]
fn error_codes_come_from_the_closed_list() {
    let closed: BTreeSet<String> = AgentErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    let from_schema: BTreeSet<String> = schema("error.schema.json")["$defs"]["code"]["oneOf"]
        .as_array()
        .expect("codes are a oneOf")
        .iter()
        .filter_map(|c| c["const"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(closed, from_schema);
    let scripts = bundle();
    let mut used = BTreeSet::new();
    for script in &scripts {
        for command in script.commands(script.root()) {
            for (param, argument) in &command.params {
                if param.eq_ignore_ascii_case("Code") {
                    let argument = argument.unwrap_or_else(|| {
                        panic!("{}: -Code without a value", script.at(command.node))
                    });
                    let code = script.string_value(argument).unwrap_or_else(|| {
                        // Only Stop-AgentOperation's own fallback passes a variable.
                        assert_eq!(
                            script.text(argument),
                            "$Code",
                            "{}: -Code must be a literal",
                            script.at(command.node)
                        );
                        String::new()
                    });
                    if !code.is_empty() {
                        assert!(
                            closed.contains(&code),
                            "{}: {code} is not in the closed list",
                            script.at(command.node)
                        );
                        used.insert(code);
                    }
                }
            }
        }
    }
    // The table the agent checks at run time is the closed list itself.
    let core = &scripts[0];
    let table = core
        .nodes()
        .into_iter()
        .find(|n| {
            n.kind() == "assignment_expression"
                && core.text(*n).starts_with("$script:AgentErrorCodes =")
        })
        .expect("core.ps1 lists the error codes");
    let listed: BTreeSet<String> = descendants(table)
        .into_iter()
        .filter(|n| n.kind() == "string_literal")
        .map(|n| unquote(core.text(n)))
        .collect();
    assert_eq!(listed, closed);
    assert!(used.len() >= 10, "only {used:?} used");
}

#[test]
fn every_convert_to_json_is_framed() {
    let mut seen = 0;
    for script in bundle() {
        for command in script.commands(script.root()) {
            if !command.name.eq_ignore_ascii_case("ConvertTo-Json") {
                continue;
            }
            seen += 1;
            let params: BTreeSet<String> = command
                .params
                .iter()
                .map(|(p, _)| p.to_lowercase())
                .collect();
            for needed in ["depth", "compress", "inputobject"] {
                assert!(
                    params.contains(needed),
                    "{}: ConvertTo-Json without -{needed}",
                    script.at(command.node)
                );
            }
        }
    }
    assert!(seen >= 1);
}

/// Parameters that exist only in PowerShell 6 or later.
const PS7_ONLY: &[(&str, &str)] = &[
    ("ConvertFrom-Json", "AsHashtable"),
    ("ConvertFrom-Json", "Depth"),
    ("ConvertFrom-Json", "NoEnumerate"),
    ("ConvertTo-Json", "EnumsAsStrings"),
    ("ConvertTo-Json", "AsArray"),
    ("ConvertTo-Json", "EscapeHandling"),
    ("ForEach-Object", "Parallel"),
    ("ForEach-Object", "ThrottleLimit"),
    ("Join-Path", "AdditionalChildPath"),
    ("Get-Content", "AsByteStream"),
    ("Invoke-WebRequest", "SkipCertificateCheck"),
    ("Invoke-RestMethod", "SkipCertificateCheck"),
    ("Select-String", "Raw"),
    ("Test-Connection", "TargetName"),
];

#[test]
fn no_write_host_and_nothing_powershell_6_or_later() {
    let mut scripts = bundle();
    scripts.push(Script::parse("bootstrap.ps1", BOOTSTRAP_TEMPLATE));
    for script in &scripts {
        for command in script.commands(script.root()) {
            let name = command.name.to_lowercase();
            assert!(
                name != "write-host",
                "{}: Write-Host writes to stdout unframed",
                script.at(command.node)
            );
            for (cmdlet, param) in PS7_ONLY {
                let bad = name == cmdlet.to_lowercase()
                    && command
                        .params
                        .iter()
                        .any(|(p, _)| p.eq_ignore_ascii_case(param));
                assert!(
                    !bad,
                    "{}: {cmdlet} -{param} needs PowerShell 6+",
                    script.at(command.node)
                );
            }
            for newer in [
                "get-error",
                "test-json",
                "start-threadjob",
                "get-uptime",
                "remove-alias",
                "clear-host",
            ] {
                assert_ne!(
                    name,
                    newer,
                    "{}: {} is not in Windows PowerShell 5.1",
                    script.at(command.node),
                    command.name
                );
            }
        }
        for node in script.nodes() {
            let kind = node.kind();
            assert!(
                !["&&", "||", "??", "??=", "?.", "?[", "?"].contains(&kind),
                "{}: {kind} is PowerShell 7 syntax",
                script.at(node)
            );
            if node.kind() == "variable" {
                let name = script.text(node).to_lowercase();
                for automatic in ["$iswindows", "$islinux", "$ismacos", "$iscoreclr"] {
                    assert_ne!(
                        name,
                        automatic,
                        "{}: {automatic} does not exist in 5.1",
                        script.at(node)
                    );
                }
            }
        }
        let code = strip_comments_and_strings(script);
        for (needle, what) in [
            (" ?? ", "null coalescing"),
            ("?.", "null-conditional member access"),
            (" ? ", "ternary"),
        ] {
            assert!(!code.contains(needle), "{}: {what}", script.name);
        }
    }
}

/// The source with comments and string literals blanked out.
fn strip_comments_and_strings(script: &Script) -> String {
    let mut bytes = script.source.clone().into_bytes();
    for node in script.nodes() {
        if matches!(node.kind(), "comment" | "string_literal") {
            for b in &mut bytes[node.start_byte()..node.end_byte()] {
                if *b != b'\n' {
                    *b = b' ';
                }
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The external cmdlets the bundle may call, with the parameters it may pass them.
const CMDLETS: &[(&str, &[&str])] = &[
    ("Get-VM", &["Id", "Name"]),
    ("Start-VM", &["VM"]),
    ("Stop-VM", &["VM", "TurnOff", "Force", "AsJob"]),
    ("Restart-VM", &["VM", "Force"]),
    ("Save-VM", &["VM"]),
    ("Suspend-VM", &["VM"]),
    ("Resume-VM", &["VM"]),
    (
        "New-VM",
        &["Name", "Generation", "MemoryStartupBytes", "Path", "NoVHD"],
    ),
    ("Set-VM", &["VM", "Notes"]),
    ("Remove-VM", &["VM", "Force"]),
    ("Set-VMProcessor", &["VM", "Count"]),
    (
        "Set-VMMemory",
        &[
            "VM",
            "DynamicMemoryEnabled",
            "StartupBytes",
            "MinimumBytes",
            "MaximumBytes",
        ],
    ),
    ("Get-VMFirmware", &["VM"]),
    (
        "Set-VMFirmware",
        &["VM", "EnableSecureBoot", "SecureBootTemplate"],
    ),
    ("Get-VMHost", &[]),
    ("Get-VMSwitch", &[]),
    ("Get-VMNetworkAdapter", &["VM"]),
    (
        "Add-VMNetworkAdapter",
        &["VM", "Name", "SwitchName", "StaticMacAddress", "Passthru"],
    ),
    ("Remove-VMNetworkAdapter", &["VMNetworkAdapter"]),
    (
        "Connect-VMNetworkAdapter",
        &["VMNetworkAdapter", "SwitchName"],
    ),
    ("Rename-VMNetworkAdapter", &["VMNetworkAdapter", "NewName"]),
    (
        "Set-VMNetworkAdapter",
        &["VMNetworkAdapter", "StaticMacAddress", "DynamicMacAddress"],
    ),
    ("Get-VMNetworkAdapterVlan", &["VMNetworkAdapter"]),
    (
        "Set-VMNetworkAdapterVlan",
        &["VMNetworkAdapter", "Access", "VlanId", "Untagged"],
    ),
    (
        "Get-VMHardDiskDrive",
        &[
            "VM",
            "ControllerType",
            "ControllerNumber",
            "ControllerLocation",
        ],
    ),
    (
        "Add-VMHardDiskDrive",
        &[
            "VM",
            "ControllerType",
            "ControllerNumber",
            "ControllerLocation",
            "Path",
        ],
    ),
    ("Remove-VMHardDiskDrive", &["VMHardDiskDrive"]),
    ("Get-VMDvdDrive", &["VM"]),
    ("Get-VMScsiController", &["VM"]),
    ("Get-VHD", &["Path"]),
    ("New-VHD", &["Path", "SizeBytes", "Dynamic", "Fixed"]),
    ("Resize-VHD", &["Path", "SizeBytes"]),
    ("Convert-VHD", &["Path", "DestinationPath", "VHDType"]),
    ("Get-ClusterNode", &["Name"]),
    ("Get-ClusterResource", &[]),
    ("Get-ClusterParameter", &["InputObject", "Name"]),
    ("Remove-ClusterGroup", &["Name", "RemoveResources", "Force"]),
    ("Get-CimInstance", &["ClassName", "Namespace", "Filter"]),
    ("Get-Service", &["Name"]),
    ("Get-Module", &["ListAvailable", "Name"]),
    ("Import-Module", &["Name"]),
    ("Remove-TypeData", &["TypeName"]),
    ("New-Object", &["TypeName", "ArgumentList"]),
    ("Where-Object", &[]),
    ("ForEach-Object", &[]),
    ("Sort-Object", &["Property", "Descending"]),
    ("Select-Object", &["First"]),
    ("Test-Path", &["Path", "LiteralPath", "PathType"]),
    (
        "Get-ChildItem",
        &[
            "Path",
            "LiteralPath",
            "Directory",
            "File",
            "Recurse",
            "Force",
        ],
    ),
    ("Get-Item", &["LiteralPath", "Force"]),
    ("Remove-Item", &["LiteralPath", "Force"]),
    ("New-Item", &["ItemType", "Path"]),
    ("Join-Path", &["Path", "ChildPath"]),
    ("Split-Path", &["Path", "Parent"]),
    ("Start-Sleep", &["Seconds", "Milliseconds"]),
    // CimCmdlets and the engine's event queue (inventory.watch).
    (
        "Register-CimIndicationEvent",
        &["Namespace", "Query", "SourceIdentifier"],
    ),
    ("Wait-Event", &["SourceIdentifier", "Timeout"]),
    ("Get-Event", &["SourceIdentifier", "EventIdentifier"]),
    ("Remove-Event", &["SourceIdentifier", "EventIdentifier"]),
    (
        "Unregister-Event",
        &["SourceIdentifier", "SubscriptionId", "Force"],
    ),
    ("Remove-Job", &["Job", "Force"]),
    ("ConvertTo-Json", &["InputObject", "Depth", "Compress"]),
    ("ConvertFrom-Json", &["InputObject"]),
];

const COMMON_PARAMETERS: &[&str] = &[
    "ErrorAction",
    "ErrorVariable",
    "WarningAction",
    "InformationAction",
    "Verbose",
    "Debug",
    "OutVariable",
    "OutBuffer",
    "PipelineVariable",
    "WarningVariable",
    "InformationVariable",
];

#[test]
fn every_call_names_a_bundle_function_or_a_known_cmdlet_with_parameters_it_has() {
    let scripts = bundle();
    let functions = function_table(&scripts);
    let cmdlets: HashMap<String, &[&str]> = CMDLETS
        .iter()
        .map(|(n, p)| (n.to_lowercase(), *p))
        .collect();
    let allowed = |list: &[&str], param: &str| {
        list.iter()
            .chain(COMMON_PARAMETERS)
            .any(|p| p.eq_ignore_ascii_case(param))
    };
    let mut problems = Vec::new();
    for script in &scripts {
        for command in script.commands(script.root()) {
            let name = command.name.to_lowercase();
            let at = script.at(command.node);
            if let Some((_, params, _)) = functions.get(&name) {
                let declared: Vec<&str> = params.iter().map(String::as_str).collect();
                for (param, _) in &command.params {
                    if !allowed(&declared, param) {
                        problems.push(format!("{at}: {} has no parameter -{param}", command.name));
                    }
                }
            } else if let Some(list) = cmdlets.get(&name) {
                for (param, _) in &command.params {
                    if !allowed(list, param) {
                        problems.push(format!(
                            "{at}: -{param} is not a parameter the bundle may pass to {}",
                            command.name
                        ));
                    }
                }
            } else {
                problems.push(format!(
                    "{at}: {} is neither a bundle function nor a known cmdlet",
                    command.name
                ));
            }
            if name == "invoke-agentcmdlet" {
                check_cmdlet_call(script, &command, &cmdlets, &mut problems);
            }
            if name == "write-agentlog" {
                for (param, argument) in &command.params {
                    if param.eq_ignore_ascii_case("Level") {
                        let level = argument
                            .and_then(|a| script.string_value(a))
                            .unwrap_or_default();
                        if !["info", "warning", "error"].contains(&level.as_str()) {
                            problems.push(format!("{at}: log level {level:?}"));
                        }
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `Invoke-AgentCmdlet -Name 'X' -Parameters @{...}`: X is known and the literal keys are
/// its parameters.
fn check_cmdlet_call(
    script: &Script,
    command: &powershell::Command<'_>,
    cmdlets: &HashMap<String, &[&str]>,
    problems: &mut Vec<String>,
) {
    let at = script.at(command.node);
    let argument = |wanted: &str| {
        command
            .params
            .iter()
            .find(|(p, _)| p.eq_ignore_ascii_case(wanted))
            .and_then(|(_, a)| *a)
    };
    let Some(name) = argument("Name").and_then(|a| script.string_value(a)) else {
        problems.push(format!("{at}: Invoke-AgentCmdlet needs a literal -Name"));
        return;
    };
    let Some(list) = cmdlets.get(&name.to_lowercase()) else {
        problems.push(format!("{at}: {name} is not a known cmdlet"));
        return;
    };
    let Some(parameters) = argument("Parameters") else {
        return;
    };
    for hash in descendants(parameters)
        .into_iter()
        .filter(|n| n.kind() == "hash_literal_expression")
    {
        for key in script.hash_keys(hash) {
            if !list.iter().any(|p| p.eq_ignore_ascii_case(&key)) {
                problems.push(format!(
                    "{at}: {key} is not a parameter the bundle may pass to {name}"
                ));
            }
        }
    }
}

#[test]
fn strings_never_use_a_variable_before_a_colon_and_automatic_variables_stay_untouched() {
    let mut problems = Vec::new();
    let mut scripts = bundle();
    scripts.push(Script::parse("bootstrap.ps1", BOOTSTRAP_TEMPLATE));
    for script in &scripts {
        for node in script.nodes() {
            if node.kind() == "variable"
                && node
                    .parent()
                    .is_some_and(|p| p.kind() == "expandable_string_literal")
            {
                let text = script.text(node);
                let next = script.source.as_bytes().get(node.end_byte()).copied();
                if !text.starts_with("${") && !text.contains(':') && next == Some(b':') {
                    problems.push(format!(
                        "{}: \"{text}:\" is a drive-qualified name to PowerShell; use ${{{}}}",
                        script.at(node),
                        &text[1..]
                    ));
                }
            }
            if node.kind() == "left_assignment_expression" {
                let target = script.text(node).to_lowercase();
                for automatic in [
                    "$input", "$switch", "$matches", "$error", "$host", "$args", "$this", "$_",
                    "$psitem", "$foreach",
                ] {
                    if target == automatic {
                        problems.push(format!(
                            "{}: assigns the automatic variable {automatic}",
                            script.at(node)
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_result_lines_written_without_convert_to_json_are_valid() {
    // The bootstrap's AGENT_INTEGRITY line, with the hashes it splices in.
    let (template_line, _) = literal_line(BOOTSTRAP_TEMPLATE, "'{\"type\":\"result\"", "+\"`n\"");
    let integrity = template_line
        .replace("'+$p+'", &"a".repeat(64))
        .replace("'+$h+'", &"b".repeat(64));
    let value: Value =
        serde_json::from_str(unquote(&integrity).as_str()).expect("the integrity line is json");
    validate_output_line(&value).expect("the integrity line is a valid output line");
    assert_eq!(value["error"]["code"], "AGENT_INTEGRITY");
    // core.ps1's CANCELLED line, with a null step and a named one.
    let core = BUNDLE_FILES[0].1;
    let (cancelled, _) = literal_line(core, "'{\"type\":\"result\"", ")");
    for step in ["null", "\"copy image\""] {
        let text = cancelled.replace("' + $script:AgentStepJson + '", step);
        let value: Value =
            serde_json::from_str(unquote(&text).as_str()).expect("the cancelled line is json");
        validate_output_line(&value).expect("the cancelled line is a valid output line");
        assert_eq!(value["error"]["code"], "CANCELLED");
    }
}

/// The text from `start` up to (not including) the first `end` after it.
fn literal_line<'a>(source: &'a str, start: &str, end: &str) -> (String, &'a str) {
    let from = source
        .find(start)
        .unwrap_or_else(|| panic!("{start} not found"));
    let rest = &source[from..];
    let to = rest
        .find(end)
        .unwrap_or_else(|| panic!("{end} not found after {start}"));
    (rest[..to].to_owned(), &rest[to..])
}
