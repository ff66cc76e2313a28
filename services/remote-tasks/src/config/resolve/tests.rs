//! Unit tests of the resolve.
use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
    file.write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    path
}

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

fn with_file(path: PathBuf) -> Config {
    Config {
        hosts_file: Some(path),
        ..Config::default()
    }
}

#[test]
fn a_fleet_file_gives_hosts_credentials_and_relative_paths() {
    let dir = dir();
    write(dir.path(), "password", "s3cret-Pa55\n");
    let fleet = write(
        dir.path(),
        "fleet.toml",
        r#"
            [[hosts]]
            name = "HV-AMS-C1-N01.corp.example"
            endpoint = "http://127.0.10.1:5985/wsman"
            cluster = "ams-c1"

            [[hosts]]
            name = "hv-ams-n02.corp.example"
            endpoint = "https://127.0.10.2:5986/wsman"

            [winrm]
            auth = "ntlm"
            username = "aetherv"
            password_file = "password"
            ca_file = "ca.pem"
        "#,
    );
    let resolved = with_file(fleet)
        .resolve()
        .unwrap_or_else(|p| panic!("{p:?}"));
    let ids: Vec<&str> = resolved.hosts.iter().map(|h| h.id().as_str()).collect();
    assert_eq!(
        ids,
        ["hv-ams-c1-n01.corp.example", "hv-ams-n02.corp.example"]
    );
    let first = &resolved.hosts[0];
    assert_eq!(first.url().as_str(), "http://127.0.10.1:5985/wsman");
    assert_eq!(first.username(), "aetherv");
    assert_eq!(first.password().expose(), "s3cret-Pa55");
    assert_eq!(first.auth(), AuthKind::Ntlm);
    assert_eq!(
        resolved.hosts[1].ca_file(),
        Some(&dir.path().join("ca.pem"))
    );
    assert_eq!(resolved.pool_size, 4);
    assert_eq!(resolved.limits.category(Category::Io).per_host_in_flight, 1);
}

#[test]
fn limits_above_their_enclosing_limit_are_capped() {
    let mut config = Config::for_testing(vec![HostEntry::named("hv01")], "u", "p");
    config.limits.global_in_flight = 3;
    config.limits.control.per_host_in_flight = 8;
    let limits = config.resolve().unwrap_or_else(|p| panic!("{p:?}")).limits;
    assert_eq!(limits.per_host_in_flight, 3);
    assert_eq!(limits.category(Category::Inventory).in_flight, 3);
    assert_eq!(limits.category(Category::Control).per_host_in_flight, 3);
    assert_eq!(limits.category(Category::Io).per_host_in_flight, 1);
}

#[test]
fn a_password_env_is_read_from_the_environment() {
    let dir = dir();
    let fleet = write(
        dir.path(),
        "fleet.toml",
        "[winrm]\nauth = \"ntlm\"\nusername = \"aetherv\"\npassword_env = \"AETHERV_HVSIM_PASSWORD\"\n[[hosts]]\nname = \"hv01\"\nendpoint = \"http://127.0.10.1:5985/wsman\"\n",
    );
    let config = with_file(fleet);
    let env = |name: &str| (name == "AETHERV_HVSIM_PASSWORD").then(|| "pw-from-env".to_string());
    let resolved = config
        .resolve_with_env(env)
        .unwrap_or_else(|p| panic!("{p:?}"));
    assert_eq!(resolved.hosts[0].password().expose(), "pw-from-env");
    let problems = config.resolve_with_env(|_| None).err().unwrap_or_default();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("AETHERV_HVSIM_PASSWORD")),
        "{problems:?}"
    );
}

#[test]
fn the_service_keys_win_over_the_fleet_file() {
    let dir = dir();
    let fleet = write(
        dir.path(),
        "fleet.toml",
        "[[hosts]]\nname = \"hv01\"\n[winrm]\nusername = \"from-file\"\npassword_file = \"missing\"\n",
    );
    let mut config = with_file(fleet);
    config.winrm.username = Some("operator".to_string());
    config.winrm.password = "from-env".into();
    let resolved = config.resolve().unwrap_or_else(|p| panic!("{p:?}"));
    assert_eq!(resolved.hosts[0].username(), "operator");
    assert_eq!(resolved.hosts[0].password().expose(), "from-env");
    assert_eq!(resolved.hosts[0].url().as_str(), "http://hv01:5985/wsman");
}

#[test]
fn problems_name_their_keys_and_never_the_password() {
    let dir = dir();
    let missing = dir.path().join("nope.toml");
    let problems = with_file(missing).resolve().err().unwrap_or_default();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("remote_tasks.hosts_file: cannot read"),
        "{problems:?}"
    );

    let bad = write(dir.path(), "bad.toml", "[[hosts]]\nname = 7\n");
    let problems = with_file(bad).resolve().err().unwrap_or_default();
    assert!(
        problems[0].contains("is not a valid hosts file"),
        "{problems:?}"
    );

    let empty_password = write(dir.path(), "empty", "\n");
    let fleet = write(
        dir.path(),
        "fleet.toml",
        "[[hosts]]\nname = \"hv01\"\n[[hosts]]\nname = \"hv02\"\nendpoint = \"ftp://hv02\"\n[winrm]\nusername = \"u\"\nauth = \"basic\"\npassword_file = \"empty\"\n",
    );
    let _ = empty_password;
    let problems = with_file(fleet.clone()).resolve().err().unwrap_or_default();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("remote_tasks.winrm.password_file") && p.contains("is empty")),
        "{problems:?}"
    );

    write(dir.path(), "empty", "hunter2\n");
    let problems = with_file(fleet).resolve().err().unwrap_or_default();
    // Basic over http without insecure_http: said once, although both hosts use it.
    let auth: Vec<&String> = problems
        .iter()
        .filter(|p| p.starts_with("remote_tasks.winrm.auth"))
        .collect();
    assert_eq!(auth.len(), 1, "{problems:?}");
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("remote_tasks.hosts_file: hosts[1].endpoint")),
        "{problems:?}"
    );
    assert!(
        problems.iter().all(|p| !p.contains("hunter2")),
        "{problems:?}"
    );
}

#[test]
fn inline_hosts_are_checked_by_validation() {
    let mut config = Config::for_testing(
        vec![
            HostEntry::named("hv01"),
            HostEntry::named("HV01"),
            HostEntry::at("bad host", "http://x"),
        ],
        "u",
        "p",
    );
    config.limits.io.per_host_in_flight = 0;
    config.limits.control.default_timeout = Duration::from_secs(3600);
    let problems = config.resolve().err().unwrap_or_default();
    let keys: Vec<&str> = problems
        .iter()
        .filter_map(|p| p.split(':').next())
        .collect();
    assert_eq!(
        keys,
        [
            "remote_tasks.hosts[1].name",
            "remote_tasks.hosts[2].name",
            "remote_tasks.limits.control.default_timeout",
            "remote_tasks.limits.io.per_host_in_flight",
        ],
        "{problems:?}"
    );
}
