//! Host targets: every setting validated with an error naming it; the password never shows.

use std::path::PathBuf;
use std::time::Duration;

use aetherv_hyperv::*;

fn settings() -> EndpointSettings {
    EndpointSettings {
        url: None,
        auth: AuthKind::Ntlm,
        username: "LAB\\svc-aetherv".into(),
        password: Secret::new("p4ss-w0rd-secret"),
        ca_file: None,
        insecure_http: false,
        timeouts: Timeouts::default(),
    }
}

#[test]
fn defaults_to_http_5985_on_the_lower_cased_name() {
    let target = HostTarget::new("HV-01.Lab.Example", settings()).unwrap();
    assert_eq!(target.id().as_str(), "hv-01.lab.example");
    assert_eq!(target.url().as_str(), "http://hv-01.lab.example:5985/wsman");
    assert_eq!(target.timeouts(), Timeouts::default());
}

#[test]
fn the_password_never_shows() {
    let target = HostTarget::new("hv-01", settings()).unwrap();
    let debug = format!("{target:?}");
    assert!(!debug.contains("p4ss"), "{debug}");
    assert_eq!(format!("{:?}", Secret::new("abc")), "Secret([redacted])");
    assert_eq!(target.password().expose(), "p4ss-w0rd-secret");
}

#[test]
fn each_bad_setting_is_named() {
    let cases: Vec<(&str, EndpointSettings, &str)> = vec![
        ("bad host!", settings(), "host"),
        (
            "hv",
            EndpointSettings {
                url: Some("ftp://hv/wsman".into()),
                ..settings()
            },
            "url",
        ),
        (
            "hv",
            EndpointSettings {
                url: Some("not a url".into()),
                ..settings()
            },
            "url",
        ),
        (
            "hv",
            EndpointSettings {
                url: Some("http://user:pw@hv:5985/wsman".into()),
                ..settings()
            },
            "url",
        ),
        (
            "hv",
            EndpointSettings {
                auth: AuthKind::Basic,
                ..settings()
            },
            "auth",
        ),
        (
            "hv",
            EndpointSettings {
                url: Some("https://hv:5986/wsman".into()),
                insecure_http: true,
                ..settings()
            },
            "insecure_http",
        ),
        (
            "hv",
            EndpointSettings {
                ca_file: Some(PathBuf::from("/ca.pem")),
                ..settings()
            },
            "ca_file",
        ),
        (
            "hv",
            EndpointSettings {
                username: " ".into(),
                ..settings()
            },
            "username",
        ),
        (
            "hv",
            EndpointSettings {
                password: Secret::new(""),
                ..settings()
            },
            "password",
        ),
        (
            "hv",
            EndpointSettings {
                timeouts: Timeouts {
                    connect: Duration::ZERO,
                    ..Timeouts::default()
                },
                ..settings()
            },
            "timeouts.connect",
        ),
    ];
    for (name, settings, field) in cases {
        let error = HostTarget::new(name, settings).unwrap_err();
        assert_eq!(error.field, field, "{error}");
        assert!(error.to_string().contains(field));
        assert!(!error.to_string().contains("p4ss"));
    }
}

#[test]
fn basic_is_allowed_over_https_or_with_the_insecure_switch() {
    let https = EndpointSettings {
        url: Some("https://hv:5986/wsman".into()),
        auth: AuthKind::Basic,
        ca_file: Some(PathBuf::from("/etc/aetherv/ca.pem")),
        ..settings()
    };
    assert!(HostTarget::new("hv", https).is_ok());
    let insecure = EndpointSettings {
        auth: AuthKind::Basic,
        insecure_http: true,
        ..settings()
    };
    assert!(HostTarget::new("hv", insecure).unwrap().insecure_http());
}
