//! One child process of `aetherv up`: `aetherv serve <service> …` in its own process group
//! (a Ctrl-C in the terminal reaches only the launcher, which stops the children in order),
//! its stdout and stderr printed line by line with a `[name]` prefix, its announcement line
//! picked out of stdout, the last lines of its output kept for a failure report, and its
//! exit reported to the launcher. Stopping is SIGTERM (and end of stdin, which
//! `--exit-with-parent` also treats as a stop), then SIGKILL after a grace period.

use std::collections::VecDeque;
use std::io::IsTerminal as _;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{ChildStdin, Command};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::console;
use super::serve::Announcement;

/// Lines of output kept for a failure report.
const TAIL_LINES: usize = 12;

/// What to start.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    /// The prefix of its lines: `hvsim`, `remote-tasks`, ….
    pub name: &'static str,
    /// The arguments after the executable (`serve <service> …`).
    pub args: Vec<String>,
    /// Variables added to the inherited environment (never a secret's value).
    pub env: Vec<(String, String)>,
}

/// A child that ended, as reported to the launcher.
#[derive(Debug, Clone)]
pub struct Exit {
    /// Its name.
    pub name: &'static str,
    /// How it ended.
    pub status: ExitStatus,
}

/// Why a child could not be started.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The executable could not be run.
    #[error("cannot start {name}: {source}")]
    Spawn {
        /// The child.
        name: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// How a stop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It exited by itself on SIGTERM, with this status.
    Clean(ExitStatus),
    /// It had already exited, with this status.
    Earlier(ExitStatus),
    /// It did not stop within the grace period and was killed.
    Killed,
}

/// A running (or ended) child.
pub struct Child {
    /// Its name.
    pub name: &'static str,
    /// Its process id.
    pub pid: u32,
    stdin: Option<ChildStdin>,
    status: watch::Receiver<Option<ExitStatus>>,
    tail: Arc<Mutex<VecDeque<String>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Child {
    /// Starts `exe` with `spec`; its exit is sent on `exits`; the first announcement it
    /// prints arrives on the returned receiver.
    pub fn spawn(
        exe: &Path,
        spec: ChildSpec,
        exits: mpsc::UnboundedSender<Exit>,
    ) -> Result<(Child, oneshot::Receiver<Announcement>), Error> {
        let name = spec.name;
        let mut command = Command::new(exe);
        command
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if !std::io::stdout().is_terminal() {
            // Plain log lines when the output goes to a file or a pipe.
            command.env("NO_COLOR", "1");
        }
        let mut process = command
            .spawn()
            .map_err(|source| Error::Spawn { name, source })?;
        let pid = process.id().unwrap_or_default();
        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
        let (announce, announced) = oneshot::channel();
        let mut readers = Vec::new();
        if let Some(stdout) = process.stdout.take() {
            readers.push(tokio::spawn(pump(
                name,
                stdout,
                tail.clone(),
                Some(announce),
            )));
        }
        if let Some(stderr) = process.stderr.take() {
            readers.push(tokio::spawn(pump(name, stderr, tail.clone(), None)));
        }
        let stdin = process.stdin.take();
        let (status_tx, status) = watch::channel(None);
        tokio::spawn(async move {
            let status = match process.wait().await {
                Ok(status) => status,
                Err(error) => {
                    console::say(&format!("cannot wait for {name}: {error}"));
                    return;
                }
            };
            let _ = status_tx.send(Some(status));
            let _ = exits.send(Exit { name, status });
        });
        Ok((
            Child {
                name,
                pid,
                stdin,
                status,
                tail,
                readers,
            },
            announced,
        ))
    }

    /// How it ended, once it has.
    pub fn exited(&self) -> Option<ExitStatus> {
        *self.status.borrow()
    }

    /// The last lines it printed (after its output has been read to the end, or for at
    /// most a second).
    pub async fn last_lines(&mut self) -> Vec<String> {
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
        }
        self.tail
            .lock()
            .map(|tail| tail.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Sends `signal` unless it has exited (its pid may then be someone else's).
    fn signal(&self, signal: Signal) {
        if self.exited().is_some() {
            return;
        }
        let Some(pid) = i32::try_from(self.pid).ok().and_then(Pid::from_raw) else {
            return;
        };
        if let Err(error) = kill_process(pid, signal) {
            tracing::debug!(name = self.name, %error, "signal not delivered");
        }
    }

    /// Kills it at once (SIGKILL).
    pub fn kill(&self) {
        self.signal(Signal::KILL);
    }

    /// Waits until it has exited, at most `limit`.
    pub async fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let mut status = self.status.clone();
        match tokio::time::timeout(limit, status.wait_for(Option::is_some)).await {
            Ok(Ok(status)) => *status,
            _ => None,
        }
    }

    /// SIGTERM (and end of stdin), then SIGKILL when it has not exited after `grace`.
    pub async fn stop(&mut self, grace: Duration) -> Stopped {
        if let Some(status) = self.exited() {
            return Stopped::Earlier(status);
        }
        self.signal(Signal::TERM);
        self.stdin = None;
        if let Some(status) = self.wait(grace).await {
            return Stopped::Clean(status);
        }
        self.kill();
        let _ = self.wait(Duration::from_secs(10)).await;
        Stopped::Killed
    }
}

/// Prints each line of `stream` as `[name] line`, keeps the last ones, and hands the first
/// announcement (stdout only) to `announce` instead of printing it.
async fn pump<R: AsyncRead + Unpin>(
    name: &'static str,
    stream: R,
    tail: Arc<Mutex<VecDeque<String>>>,
    mut announce: Option<oneshot::Sender<Announcement>>,
) {
    let mut reader = BufReader::new(stream);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match reader.read_until(b'\n', &mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buffer);
        let line = line.trim_end_matches(['\n', '\r']);
        if announce.is_some()
            && let Some(announcement) = Announcement::parse(line)
        {
            if let Some(sender) = announce.take() {
                let _ = sender.send(announcement);
            }
            continue;
        }
        console::child(name, line);
        if let Ok(mut tail) = tail.lock() {
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line.to_string());
        }
    }
}

/// A readable account of an exit status: `exit code 1`, `killed by signal 9`.
pub fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "an unknown status".to_string(),
    }
}
