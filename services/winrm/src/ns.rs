//! Namespace URIs, action URIs and other fixed strings of WS-Management / WinRS.

/// SOAP 1.2 envelope.
pub const SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";
/// WS-Addressing (2004/08).
pub const ADDRESSING: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
/// DMTF WS-Management.
pub const WSMAN: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd";
/// Microsoft WS-Management extensions (MS-WSMV).
pub const WSMV: &str = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd";
/// Windows Remote Shell.
pub const SHELL: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell";
/// WS-Transfer.
pub const TRANSFER: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer";
/// WSManFault detail.
pub const WSMAN_FAULT: &str = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault";
/// WinRM configuration resource and namespace.
pub const CONFIG: &str = "http://schemas.microsoft.com/wbem/wsman/1/config";
/// The `xml:` prefix namespace.
pub const XML: &str = "http://www.w3.org/XML/1998/namespace";

/// WS-Addressing anonymous reply address.
pub const ANONYMOUS: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous";

/// Resource URI of the cmd shell.
pub const RESOURCE_CMD: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd";
/// Resource URI of the WinRM configuration.
pub const RESOURCE_CONFIG: &str = CONFIG;

/// WS-Transfer Create (open a shell).
pub const ACTION_CREATE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create";
/// WS-Transfer Delete (close a shell).
pub const ACTION_DELETE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete";
/// WS-Transfer Get (read the configuration).
pub const ACTION_GET: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get";
/// WinRS Command.
pub const ACTION_COMMAND: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command";
/// WinRS Send (stdin).
pub const ACTION_SEND: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send";
/// WinRS Receive (output long poll).
pub const ACTION_RECEIVE: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive";
/// WinRS Signal.
pub const ACTION_SIGNAL: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal";
/// Action of every fault response.
pub const ACTION_FAULT: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault";

/// Prefix of the CommandState URIs (`…/Done`, `…/Running`, `…/Pending`).
pub const COMMAND_STATE_PREFIX: &str =
    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/";
/// Prefix of the signal code URIs (`…/terminate`, `…/ctrl_c`, `…/ctrl_break`).
pub const SIGNAL_PREFIX: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/";

/// Shell option: code page of the shell's console.
pub const OPT_CODEPAGE: &str = "WINRS_CODEPAGE";
/// Shell option: do not load the user profile.
pub const OPT_NOPROFILE: &str = "WINRS_NOPROFILE";
/// Command option: console-mode stdin (FALSE when piping stdin).
pub const OPT_CONSOLEMODE_STDIN: &str = "WINRS_CONSOLEMODE_STDIN";
/// Command option: start the executable directly, not through `cmd.exe /c`.
pub const OPT_SKIP_CMD_SHELL: &str = "WINRS_SKIP_CMD_SHELL";
/// Receive option sent by pypsrp.
pub const OPT_KEEPALIVE: &str = "WSMAN_CMDSHELL_OPTION_KEEPALIVE";

/// The SOAP content type of plaintext bodies.
pub const SOAP_CONTENT_TYPE: &str = "application/soap+xml;charset=UTF-8";
