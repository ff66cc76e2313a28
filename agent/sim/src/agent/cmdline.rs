//! The command line as Windows sees it: split into arguments (the MSVC/CommandLineToArgvW
//! rules), recognised as `powershell.exe` or not, powershell.exe's own parameters, and the
//! texts cmd.exe and powershell.exe print when they refuse something.

/// Splits a Windows command line into arguments: blanks separate, double quotes group,
/// `2n` backslashes before a quote give `n` and toggle quoting, `2n+1` give `n` and a
/// literal quote; other backslashes are literal.
pub fn split(line: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_arg = false;
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let mut count = 1;
                while chars.peek() == Some(&'\\') {
                    chars.next();
                    count += 1;
                }
                in_arg = true;
                if chars.peek() == Some(&'"') {
                    current.extend(std::iter::repeat_n('\\', count / 2));
                    if count % 2 == 1 {
                        chars.next();
                        current.push('"');
                    }
                } else {
                    current.extend(std::iter::repeat_n('\\', count));
                }
            }
            '"' => {
                in_arg = true;
                if quoted && chars.peek() == Some(&'"') {
                    chars.next();
                    current.push('"');
                } else {
                    quoted = !quoted;
                }
            }
            ' ' | '\t' if !quoted => {
                if in_arg {
                    args.push(std::mem::take(&mut current));
                    in_arg = false;
                }
            }
            _ => {
                in_arg = true;
                current.push(c);
            }
        }
    }
    if in_arg {
        args.push(current);
    }
    args
}

/// Whether the executable is Windows PowerShell: `powershell` or `powershell.exe`, bare or
/// with a path, in any case.
pub fn is_powershell(exe: &str) -> bool {
    let base = exe.rsplit(['\\', '/']).next().unwrap_or(exe);
    base.eq_ignore_ascii_case("powershell.exe") || base.eq_ignore_ascii_case("powershell")
}

/// What cmd.exe prints on stderr for a command it cannot find (exit code 1).
pub fn not_recognized(name: &str) -> String {
    format!(
        "'{name}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
    )
}

/// What powershell.exe was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// `-EncodedCommand <base64>`.
    Encoded(String),
    /// `-Command <text>` or a bare command after the switches.
    Command(String),
    /// `-File <path>`.
    File(String),
    /// No command: read commands from stdin.
    Stdin,
    /// A parameter that needs a value was last.
    MissingValue(&'static str),
}

/// powershell.exe 5.1's parameters: (name, shortest accepted prefix, takes a value).
const PARAMETERS: &[(&str, usize, bool)] = &[
    ("PSConsoleFile", 3, true),
    ("Version", 1, true),
    ("NoLogo", 3, false),
    ("NoExit", 3, false),
    ("Sta", 1, false),
    ("Mta", 3, false),
    ("NoProfile", 3, false),
    ("NonInteractive", 4, false),
    ("InputFormat", 2, true),
    ("OutputFormat", 1, true),
    ("WindowStyle", 1, true),
    ("EncodedCommand", 1, true),
    ("ConfigurationName", 6, true),
    ("File", 1, true),
    ("ExecutionPolicy", 2, true),
    ("Command", 1, true),
];

fn parameter(arg: &str) -> Option<(&'static str, bool)> {
    let key = arg.strip_prefix('-').or_else(|| arg.strip_prefix('/'))?;
    let key = key.to_ascii_lowercase();
    match key.as_str() {
        "ec" => return Some(("EncodedCommand", true)),
        "ep" => return Some(("ExecutionPolicy", true)),
        _ => {}
    }
    PARAMETERS
        .iter()
        .find(|(name, min, _)| {
            key.len() >= *min && name.to_ascii_lowercase().starts_with(key.as_str())
        })
        .map(|(name, _, value)| (*name, *value))
}

/// Reads powershell.exe's arguments the way its 5.1 console host does: switches first;
/// the first argument that is not a known switch starts the command text.
pub fn parse_powershell(args: &[String]) -> Invocation {
    let mut i = 0;
    while i < args.len() {
        let Some((name, takes_value)) = parameter(&args[i]) else {
            return Invocation::Command(args[i..].join(" "));
        };
        if !takes_value {
            i += 1;
            continue;
        }
        let Some(value) = args.get(i + 1) else {
            return Invocation::MissingValue(name);
        };
        match name {
            "EncodedCommand" => return Invocation::Encoded(value.clone()),
            "Command" => return Invocation::Command(args[i + 1..].join(" ")),
            "File" => return Invocation::File(value.clone()),
            _ => i += 2,
        }
    }
    Invocation::Stdin
}

/// PowerShell's exit code for a bad command line.
pub const EXIT_BAD_COMMAND_LINE: i32 = 64;

/// What powershell.exe prints (plain text, before its host starts) for a parameter
/// without its value.
pub fn missing_value(name: &str) -> String {
    if name == "Command" || name == "EncodedCommand" {
        format!(
            "Cannot process the command because of a missing parameter. A command must follow -{name}.\r\n"
        )
    } else {
        format!(
            "Missing argument for parameter -{name}. Specify a value for the parameter and try again.\r\n"
        )
    }
}

/// What powershell.exe prints for an -EncodedCommand that is not Base64 of UTF-16LE text.
pub const BAD_ENCODING: &str = "Cannot process the command because the value specified with -EncodedCommand is not properly encoded. The value must be Base64 encoded.\r\n";

/// What powershell.exe prints for a -File that does not exist.
pub fn file_not_found(path: &str) -> String {
    format!(
        "The argument '{path}' to the -File parameter does not exist. Provide the path to an existing '.ps1' file as an argument to the -File parameter.\r\n"
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An error record as powershell.exe writes it to a redirected stderr: CLIXML, one
/// `<S S="Error">` per line, CR LF escaped as `_x000D__x000A_`.
pub fn clixml_error(lines: &[String]) -> String {
    let mut out = String::from(
        "#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">",
    );
    for line in lines {
        out.push_str("<S S=\"Error\">");
        out.push_str(&xml_escape(line));
        out.push_str("_x000D__x000A_</S>");
    }
    out.push_str("</Objs>");
    out
}

/// The error PowerShell reports for a command name it cannot resolve (the simulated host
/// has no cmdlets: only the agent bootstrap runs).
pub fn command_not_found(script: &str) -> String {
    let word = script
        .split(|c: char| c.is_whitespace() || c == ';' || c == '(' || c == '|')
        .find(|w| !w.is_empty())
        .unwrap_or("")
        .to_owned();
    let first_line = script.lines().next().unwrap_or("").to_owned();
    clixml_error(&[
        format!(
            "{word} : The term '{word}' is not recognized as the name of a cmdlet, function, script file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again."
        ),
        "At line:1 char:1".to_owned(),
        format!("+ {first_line}"),
        format!("+ {}", "~".repeat(word.chars().count().max(1))),
        format!(
            "    + CategoryInfo          : ObjectNotFound: ({word}:String) [], CommandNotFoundException"
        ),
        "    + FullyQualifiedErrorId : CommandNotFoundException".to_owned(),
        " ".to_owned(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn splits_like_command_line_to_argv() {
        assert_eq!(split("a b  c"), s(&["a", "b", "c"]));
        assert_eq!(
            split(r#""C:\Program Files\x.exe" -a "b c""#),
            s(&[r"C:\Program Files\x.exe", "-a", "b c"])
        );
        assert_eq!(split(r#"a\\\"b c\\"#), s(&[r#"a\"b"#, r"c\\"]));
        assert_eq!(split(r#"a\\"b c""#), s(&[r"a\b c"]));
        assert_eq!(split(r#""""#), s(&[""]));
        assert!(split("   ").is_empty());
    }

    #[test]
    fn recognises_powershell_in_any_form() {
        for exe in [
            "powershell.exe",
            "PowerShell",
            r"C:\Windows\System32\WindowsPowerShell\v1.0\POWERSHELL.EXE",
        ] {
            assert!(is_powershell(exe), "{exe}");
        }
        for exe in ["pwsh.exe", "cmd.exe", "powershell.exe.bak", "ipconfig"] {
            assert!(!is_powershell(exe), "{exe}");
        }
    }

    #[test]
    fn reads_powershell_parameters() {
        let args = s(&[
            "-NoLogo",
            "-NoProfile",
            "-NonInteractive",
            "-ExecutionPolicy",
            "Bypass",
            "-EncodedCommand",
            "QQA=",
        ]);
        assert_eq!(parse_powershell(&args), Invocation::Encoded("QQA=".into()));
        assert_eq!(
            parse_powershell(&s(&["-enc", "QQA="])),
            Invocation::Encoded("QQA=".into())
        );
        assert_eq!(
            parse_powershell(&s(&["-e", "QQA="])),
            Invocation::Encoded("QQA=".into())
        );
        assert_eq!(
            parse_powershell(&s(&["/noni", "-ec", "QQA="])),
            Invocation::Encoded("QQA=".into())
        );
        assert_eq!(
            parse_powershell(&s(&["-EncodedCommand"])),
            Invocation::MissingValue("EncodedCommand")
        );
        assert_eq!(
            parse_powershell(&s(&["-Command", "Get-Date", "-Format", "o"])),
            Invocation::Command("Get-Date -Format o".into())
        );
        assert_eq!(
            parse_powershell(&s(&["Get-Date"])),
            Invocation::Command("Get-Date".into())
        );
        assert_eq!(
            parse_powershell(&s(&["-Foo"])),
            Invocation::Command("-Foo".into())
        );
        assert_eq!(
            parse_powershell(&s(&["-File", "x.ps1"])),
            Invocation::File("x.ps1".into())
        );
        assert_eq!(parse_powershell(&s(&["-NoProfile"])), Invocation::Stdin);
    }

    #[test]
    fn cmd_and_powershell_messages() {
        assert_eq!(
            not_recognized("ipconfig"),
            "'ipconfig' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
        );
        let err = command_not_found("Get-Foo -Bar <x>");
        assert!(err.starts_with("#< CLIXML\r\n<Objs "));
        assert!(err.contains("Get-Foo : The term 'Get-Foo' is not recognized"));
        assert!(err.contains("&lt;x&gt;"));
        assert!(err.ends_with("</Objs>"));
    }
}
