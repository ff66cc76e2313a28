//! The stdout parser: a valid stream yields its events and the typed result whatever the
//! chunk boundaries; every protocol violation is reported with host, operation and the
//! first 200 bytes of output.

mod common;

use aetherv_hyperv::ops::inventory::InventoryCollectResult;
use aetherv_hyperv::*;
use serde_json::{Value, json};

fn host() -> HostId {
    HostId::parse("HV-07.lab.example").unwrap()
}

fn line(value: Value) -> String {
    format!("{value}\n")
}

fn log(level: &str, message: &str) -> String {
    line(json!({"type": "log", "level": level, "message": message}))
}

fn progress(step: &str, percent: u8) -> String {
    line(json!({"type": "progress", "step": step, "percent": percent, "message": "½ done ✓"}))
}

fn ok(data: Value) -> String {
    line(json!({"type": "result", "ok": true, "data": data}))
}

fn run(
    operation: Operation,
    chunks: &[&[u8]],
    exit_code: Option<i32>,
) -> Result<(Vec<AgentEvent>, ResultLine), ProtocolViolation> {
    let mut parser = OutputParser::new(host(), operation);
    let mut events = Vec::new();
    for chunk in chunks {
        events.extend(parser.feed(chunk)?);
    }
    let (last, result) = parser.finish(exit_code)?;
    events.extend(last);
    Ok((events, result))
}

#[test]
fn a_valid_stream_yields_its_events_and_the_typed_result() {
    let inventory = serde_json::to_value(common::full_inventory()).unwrap();
    let stream = [
        log("info", "collecting inventory"),
        progress("virtual machines", 40),
        log("warning", "Get-VHD failed for one disk"),
        ok(inventory),
    ]
    .concat();
    let (events, result) = run(Operation::InventoryCollect, &[stream.as_bytes()], Some(0)).unwrap();
    assert_eq!(
        events,
        vec![
            AgentEvent::Log(LogLine {
                level: LogLevel::Info,
                message: "collecting inventory".into()
            }),
            AgentEvent::Progress(ProgressLine {
                step: "virtual machines".into(),
                percent: 40,
                message: Some("½ done ✓".into())
            }),
            AgentEvent::Log(LogLine {
                level: LogLevel::Warning,
                message: "Get-VHD failed for one disk".into()
            }),
        ]
    );
    let ResultLine::Ok { data } = result else {
        panic!("not ok")
    };
    let typed: InventoryCollectResult = serde_json::from_value(Value::Object(data)).unwrap();
    assert_eq!(typed, common::full_inventory());
}

#[test]
fn an_error_result_is_typed() {
    let error = json!({
        "code": "INVALID_STATE",
        "message": "cannot shutdown a vm that is Off",
        "details": {"vm_id": common::VM_GUID, "state": "Off", "allowed_states": ["Running"]}
    });
    let stream = line(json!({"type": "result", "ok": false, "error": error}));
    let (events, result) = run(Operation::VmPower, &[stream.as_bytes()], Some(1)).unwrap();
    assert!(events.is_empty());
    let ResultLine::Error { error } = result else {
        panic!("not an error")
    };
    assert_eq!(error.code(), AgentErrorCode::InvalidState);
    assert_eq!(
        error.details,
        ErrorDetails::InvalidState(InvalidStateDetails {
            vm_id: common::vm_id(),
            state: VmState::Off,
            allowed_states: vec![VmState::Running],
        })
    );
}

/// A stream with a BOM, CRLF line ends, blank lines, multi-byte characters and no final
/// line end.
fn awkward_stream() -> Vec<u8> {
    let mut stream = b"\xEF\xBB\xBF".to_vec();
    stream.extend(
        log("info", "héllo wörld 😀 日本")
            .replace('\n', "\r\n")
            .as_bytes(),
    );
    stream.extend(b"\r\n   \n\n");
    stream.extend(progress("copy image", 100).as_bytes());
    let echo = json!({"echo": {"text": "ünïcødé 😀", "one": [1]}, "correlation_id": "job-1"});
    stream.extend(ok(echo).trim_end().as_bytes());
    stream
}

#[test]
fn chunk_boundaries_anywhere_give_the_same_events() {
    let stream = awkward_stream();
    let whole = run(Operation::Noop, &[&stream], Some(0)).unwrap();
    assert_eq!(whole.0.len(), 2);
    for split in 0..=stream.len() {
        let (a, b) = stream.split_at(split);
        assert_eq!(
            run(Operation::Noop, &[a, b], Some(0)).unwrap(),
            whole,
            "split at {split}"
        );
    }
    for first in (0..stream.len()).step_by(7) {
        for second in (first..=stream.len()).step_by(5) {
            let chunks = [&stream[..first], &stream[first..second], &stream[second..]];
            assert_eq!(run(Operation::Noop, &chunks, Some(0)).unwrap(), whole);
        }
    }
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(run(Operation::Noop, &bytes, Some(0)).unwrap(), whole);
}

#[test]
fn a_large_result_split_byte_by_byte_is_the_same() {
    let stream = ok(serde_json::to_value(common::full_inventory()).unwrap());
    let bytes: Vec<&[u8]> = stream.as_bytes().chunks(1).collect();
    assert_eq!(
        run(Operation::InventoryCollect, &bytes, None).unwrap(),
        run(Operation::InventoryCollect, &[stream.as_bytes()], None).unwrap()
    );
}

fn violation(operation: Operation, stream: &[u8], exit_code: Option<i32>) -> ProtocolViolation {
    let violation = run(operation, &[stream], exit_code).unwrap_err();
    assert_eq!(violation.host, host());
    assert_eq!(violation.operation, operation);
    let expected = String::from_utf8_lossy(&stream[..stream.len().min(EXCERPT_BYTES)]).into_owned();
    assert_eq!(violation.excerpt, expected);
    let message = violation.to_string();
    assert!(message.contains("hv-07.lab.example"), "{message}");
    assert!(message.contains(operation.as_str()), "{message}");
    violation
}

fn noop_ok() -> String {
    ok(json!({"echo": {}, "correlation_id": "c"}))
}

#[test]
fn no_result_line() {
    let stream = [log("info", "starting"), progress("step", 10)].concat();
    assert_eq!(
        violation(Operation::Noop, stream.as_bytes(), Some(0)).kind,
        ViolationKind::NoResult
    );
    assert_eq!(
        violation(Operation::Noop, b"", None).kind,
        ViolationKind::NoResult
    );
}

#[test]
fn two_result_lines() {
    let stream = [noop_ok(), log("info", "x"), noop_ok()].concat();
    // The log line after the result is reported first.
    assert_eq!(
        violation(Operation::Noop, stream.as_bytes(), Some(0)).kind,
        ViolationKind::OutputAfterResult { line: 2 }
    );
    let stream = [noop_ok(), "\n".into(), noop_ok()].concat();
    assert_eq!(
        violation(Operation::Noop, stream.as_bytes(), Some(0)).kind,
        ViolationKind::DuplicateResult { line: 3 }
    );
}

#[test]
fn a_non_json_line() {
    let stream = [
        log("info", "ok so far"),
        "WARNING: Resulting JSON is truncated as serialization has exceeded the set depth of 2.\n"
            .into(),
        noop_ok(),
    ]
    .concat();
    let v = violation(Operation::Noop, stream.as_bytes(), Some(0));
    assert_eq!(v.kind, ViolationKind::NotJson { line: 2 });
    assert!(v.to_string().contains("line 2 is not json"));
}

#[test]
fn a_line_that_is_not_utf8() {
    let mut stream = log("info", "fine").into_bytes();
    stream.extend(b"{\"type\":\"log\",\"level\":\"info\",\"message\":\"caf\xe9\"}\n");
    assert_eq!(
        violation(Operation::Noop, &stream, None).kind,
        ViolationKind::NotUtf8 { line: 2 }
    );
}

#[test]
fn lines_that_are_not_valid_envelopes() {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"type": "log", "level": "debug", "message": "x"}),
            "/level",
        ),
        (
            json!({"type": "progress", "step": "s", "percent": 101}),
            "/percent",
        ),
        (json!({"type": "result", "ok": true}), "/data"),
        (json!({"type": "result", "ok": false, "data": {}}), "/error"),
        (
            json!({"type": "result", "ok": true, "data": {}, "extra": 1}),
            "/extra",
        ),
        (json!({"type": "noise"}), ""),
        (json!([1, 2]), ""),
        (
            json!({"type": "result", "ok": false, "error": {"code": "NOPE", "message": "m", "details": {}}}),
            "/error/code",
        ),
        (
            json!({"type": "result", "ok": false, "error": {"code": "TIMEOUT", "message": "m", "details": {}}}),
            "/error/details/step",
        ),
    ];
    for (value, pointer) in cases {
        let stream = line(value.clone());
        let v = violation(Operation::Noop, stream.as_bytes(), None);
        let ViolationKind::InvalidEnvelope { line: 1, errors } = &v.kind else {
            panic!("{value}: {:?}", v.kind);
        };
        assert!(
            errors.iter().any(|e| e.pointer == pointer)
                || (pointer.is_empty() && !errors.is_empty()),
            "{value}: expected {pointer:?} in {errors:?}"
        );
    }
}

#[test]
fn a_result_whose_data_fails_the_operation_schema() {
    let stream = [
        log("info", "powering"),
        ok(json!({"vm_id": common::VM_GUID, "action": "start", "previous_state": "Off", "state": 2})),
    ]
    .concat();
    let v = violation(Operation::VmPower, stream.as_bytes(), Some(0));
    let ViolationKind::InvalidResultData {
        line,
        schema,
        errors,
    } = &v.kind
    else {
        panic!("{:?}", v.kind);
    };
    assert_eq!((*line, schema.as_str()), (2, "vm.power.result.schema.json"));
    let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
    assert!(
        pointers.contains(&"/state") && pointers.contains(&"/turned_off_after_timeout"),
        "{pointers:?}"
    );
    // The same data is fine for another operation's schema? No: noop wants echo.
    let v = violation(
        Operation::Noop,
        noop_ok().replace("echo", "ekho").as_bytes(),
        None,
    );
    assert!(matches!(v.kind, ViolationKind::InvalidResultData { .. }));
}

#[test]
fn the_exit_code_must_agree_with_the_result() {
    assert_eq!(
        violation(Operation::Noop, noop_ok().as_bytes(), Some(1)).kind,
        ViolationKind::ExitCodeMismatch {
            ok: true,
            exit_code: 1
        }
    );
    let error = line(json!({"type": "result", "ok": false, "error": {
        "code": "CANCELLED", "message": "interrupted", "details": {"step": null}}}));
    assert_eq!(
        violation(Operation::Noop, error.as_bytes(), Some(0)).kind,
        ViolationKind::ExitCodeMismatch {
            ok: false,
            exit_code: 0
        }
    );
    assert!(run(Operation::Noop, &[error.as_bytes()], Some(1)).is_ok());
}

#[test]
fn an_over_long_line_is_refused_before_it_ends() {
    let mut parser = OutputParser::new(host(), Operation::Noop).with_max_line_bytes(64);
    parser.feed(log("info", "short").as_bytes()).unwrap();
    let violation = parser.feed(&[b'x'; 65]).unwrap_err();
    assert_eq!(
        violation.kind,
        ViolationKind::LineTooLong { line: 2, limit: 64 }
    );
    // The parser stays failed.
    assert_eq!(parser.feed(b"\n").unwrap_err(), violation);
}

#[test]
fn the_excerpt_is_the_first_200_bytes_even_when_the_fault_is_later() {
    let mut stream = String::new();
    for i in 0..20 {
        stream.push_str(&log("info", &format!("line {i} ünïcode")));
    }
    stream.push_str("not json\n");
    let v = violation(Operation::Noop, stream.as_bytes(), None);
    assert_eq!(v.kind, ViolationKind::NotJson { line: 21 });
    assert!(v.excerpt.starts_with("{\"type\":\"log\""));
    assert!(
        v.excerpt.len() <= EXCERPT_BYTES + 3,
        "lossy decoding adds at most one replacement"
    );
}

fn event(kind: &str, change: &str, vm_id: Value) -> String {
    line(json!({"type": "event", "kind": kind, "change": change, "vm_id": vm_id}))
}

const WATCHED_VM: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

#[test]
fn event_lines_of_a_watch_are_events_in_order() {
    let stream = [
        log("info", "watching"),
        event("vm", "created", json!(WATCHED_VM)),
        event("vm", "modified", json!(WATCHED_VM)),
        event("host", "modified", Value::Null),
        event("vm", "deleted", json!(WATCHED_VM)),
        ok(json!({"events": 4, "watched_seconds": 2})),
    ]
    .concat();
    let (events, result) = run(Operation::InventoryWatch, &[stream.as_bytes()], Some(0)).unwrap();
    let vm = VmId::parse(WATCHED_VM).unwrap();
    let changes: Vec<EventLine> = events
        .into_iter()
        .filter_map(|e| match e {
            AgentEvent::Change(line) => Some(line),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            EventLine::vm(EventChange::Created, vm),
            EventLine::vm(EventChange::Modified, vm),
            EventLine::host(),
            EventLine::vm(EventChange::Deleted, vm),
        ]
    );
    let ResultLine::Ok { data } = result else {
        panic!("not ok")
    };
    let typed: aetherv_hyperv::ops::inventory::InventoryWatchResult =
        serde_json::from_value(data.into()).unwrap();
    assert_eq!(typed.events, 4);
}

#[test]
fn an_event_line_outside_a_watch_is_a_violation() {
    let stream = [event("vm", "modified", json!(WATCHED_VM)), noop_ok()].concat();
    assert_eq!(
        violation(Operation::Noop, stream.as_bytes(), Some(0)).kind,
        ViolationKind::UnexpectedEvent { line: 1 }
    );
}

#[test]
fn malformed_event_lines_are_refused() {
    for bad in [
        // A VM event needs its id; a host event has none.
        event("vm", "modified", Value::Null),
        event("host", "modified", json!(WATCHED_VM)),
        event("vm", "renamed", json!(WATCHED_VM)),
        event("cluster", "modified", Value::Null),
        event(
            "vm",
            "modified",
            json!("0F8FAD5B-D9CB-469F-A165-70867728950E"),
        ),
        line(json!({"type": "event", "kind": "vm", "change": "modified"})),
        line(
            json!({"type": "event", "kind": "vm", "change": "modified", "vm_id": WATCHED_VM, "x": 1}),
        ),
    ] {
        let stream = [bad.clone(), ok(json!({"events": 1, "watched_seconds": 1}))].concat();
        let kind = violation(Operation::InventoryWatch, stream.as_bytes(), Some(0)).kind;
        assert!(
            matches!(kind, ViolationKind::InvalidEnvelope { line: 1, .. }),
            "{bad}: {kind:?}"
        );
    }
}
