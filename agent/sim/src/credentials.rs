//! Users and passwords of the simulated hosts. A password never comes from a command-line
//! flag: it is read from `AETHERV_HVSIM_PASSWORD`, from a users file (`user:password`
//! lines, the file readable by its owner only), or generated and written to a 0600 file.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use aetherv_winrm::server::ServerUser;
use rand::Rng;
use rand::distr::Alphanumeric;

use crate::error::Error;

/// The environment variable holding the password.
pub const PASSWORD_ENV: &str = "AETHERV_HVSIM_PASSWORD";

/// A fresh random password: 24 letters and digits.
pub fn generate_password() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

/// Writes `contents` to `path`, readable and writable by its owner only (0600), replacing
/// what was there.
pub fn write_secret_file(path: &Path, contents: &str) -> Result<(), Error> {
    let err = |action, source| Error::File {
        action,
        path: path.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| err("create", e))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|e| err("write", e))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| err("write", e))
}

/// Checks a username: not empty, no ':' (Basic), no control characters.
pub fn check_username(field: &str, name: &str) -> Result<(), Error> {
    if name.trim().is_empty() || name.len() > 104 {
        return Err(Error::invalid(field, "must be 1 to 104 characters"));
    }
    if name.contains(':') || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            "must not contain ':' or control characters",
        ));
    }
    Ok(())
}

/// Reads a users file: one `username:password` per line (the first ':' separates;
/// blank lines and lines starting with '#' are skipped). The file must not be readable
/// by group or others.
pub fn read_users_file(path: &Path) -> Result<Vec<ServerUser>, Error> {
    let err = |source| Error::File {
        action: "read",
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(err)?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(Error::invalid(
            "users_file",
            format!(
                "{} must be readable by its owner only (chmod 600)",
                path.display()
            ),
        ));
    }
    let text = std::fs::read_to_string(path).map_err(err)?;
    let mut users = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let field = format!("users_file line {}", i + 1);
        let Some((user, password)) = line.split_once(':') else {
            return Err(Error::invalid(field, "must be username:password"));
        };
        check_username(&field, user)?;
        if password.is_empty() {
            return Err(Error::invalid(field, "has an empty password"));
        }
        users.push(ServerUser::new(user.trim(), password));
    }
    if users.is_empty() {
        return Err(Error::invalid("users_file", "holds no users"));
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_files_are_private_and_users_files_are_checked() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("users");
        write_secret_file(&path, "# users\nalice:pa:ss\n\nbob:x\n").expect("written");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let users = read_users_file(&path).expect("read");
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].username, "alice");
        assert_eq!(users[0].password.expose(), "pa:ss");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(
            matches!(read_users_file(&path), Err(Error::Invalid { field, .. }) if field == "users_file")
        );
        write_secret_file(&path, "nocolon\n").expect("written");
        assert!(
            matches!(read_users_file(&path), Err(Error::Invalid { field, .. }) if field == "users_file line 1")
        );
        let p = generate_password();
        assert_eq!(p.len(), 24);
        assert_ne!(p, generate_password());
    }
}
