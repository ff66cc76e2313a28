//! The log of the commands a host received: which operation, its correlation id, when it
//! started and ended, how it ended, and how many ran at the same time. Bounded; never
//! holds stdin, scripts or credentials.

use std::collections::VecDeque;

use aetherv_hyperv::Timestamp;
use serde::Serialize;

/// How many records a host keeps.
pub const LOG_CAPACITY: usize = 10_000;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Still running.
    Running,
    /// The agent answered `ok: true`.
    Ok,
    /// The agent answered `ok: false` (see `error_code`).
    Error,
    /// The output was broken on purpose (see `malformed`).
    Malformed,
    /// The command was terminated (Signal terminate, shell deleted, or connection lost)
    /// before it answered.
    Terminated,
    /// Not an agent call: another command, or powershell.exe with other arguments; it
    /// got cmd.exe's or powershell.exe's error.
    Rejected,
}

/// One command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperationRecord {
    /// Position in the host's log, from 1.
    pub seq: u64,
    /// The executable as sent (`powershell.exe`, `ipconfig`).
    pub command: String,
    /// The WinRS command id.
    pub command_id: String,
    /// The agent operation, once the request was read.
    pub operation: Option<String>,
    /// The request's correlation id, once read.
    pub correlation_id: Option<String>,
    /// The authenticated user.
    pub user: String,
    /// The client's address.
    pub client: String,
    /// When the command started (host clock, UTC).
    pub started_at: Timestamp,
    /// When it ended.
    pub finished_at: Option<Timestamp>,
    /// Real milliseconds it took.
    pub duration_ms: Option<u64>,
    /// Commands running on the host when it started, itself included.
    pub concurrent: usize,
    /// How it ended.
    pub outcome: Outcome,
    /// The agent error code, for `error`.
    pub error_code: Option<String>,
    /// The malformed mode, for `malformed`.
    pub malformed: Option<String>,
    /// The process exit code.
    pub exit_code: Option<i32>,
}

/// The log of one host.
#[derive(Debug, Default)]
pub struct OpLog {
    records: VecDeque<OperationRecord>,
    next_seq: u64,
    running: usize,
    peak: usize,
}

impl OpLog {
    /// Starts a record; returns its sequence number.
    pub fn start(&mut self, command: &str, command_id: &str, user: &str, client: &str) -> u64 {
        self.next_seq += 1;
        self.running += 1;
        self.peak = self.peak.max(self.running);
        if self.records.len() == LOG_CAPACITY {
            self.records.pop_front();
        }
        self.records.push_back(OperationRecord {
            seq: self.next_seq,
            command: command.to_owned(),
            command_id: command_id.to_owned(),
            operation: None,
            correlation_id: None,
            user: user.to_owned(),
            client: client.to_owned(),
            started_at: Timestamp::now(),
            finished_at: None,
            duration_ms: None,
            concurrent: self.running,
            outcome: Outcome::Running,
            error_code: None,
            malformed: None,
            exit_code: None,
        });
        self.next_seq
    }

    /// Changes a record that is still kept.
    pub fn update(&mut self, seq: u64, f: impl FnOnce(&mut OperationRecord)) {
        if let Some(r) = self.records.iter_mut().rev().find(|r| r.seq == seq) {
            f(r);
        }
    }

    /// Ends a record.
    pub fn finish(&mut self, seq: u64, outcome: Outcome, exit_code: Option<i32>) {
        self.running = self.running.saturating_sub(1);
        self.update(seq, |r| {
            let now = Timestamp::now();
            r.duration_ms =
                Some((now.get() - r.started_at.get()).whole_milliseconds().max(0) as u64);
            r.finished_at = Some(now);
            r.outcome = outcome;
            r.exit_code = exit_code;
        });
    }

    /// Records with `seq` above `after`, oldest first.
    pub fn since(&self, after: u64) -> Vec<OperationRecord> {
        self.records
            .iter()
            .filter(|r| r.seq > after)
            .cloned()
            .collect()
    }

    /// Commands running now.
    pub fn running(&self) -> usize {
        self.running
    }

    /// The most commands that ran at once.
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// Forgets every record (the sequence numbers go on).
    pub fn clear(&mut self) {
        self.records.clear();
        self.peak = self.running;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_concurrency_and_outcomes() {
        let mut log = OpLog::default();
        let a = log.start("powershell.exe", "A", "u", "127.0.0.1:1");
        let b = log.start("powershell.exe", "B", "u", "127.0.0.1:2");
        log.update(a, |r| r.operation = Some("noop".into()));
        log.finish(a, Outcome::Ok, Some(0));
        log.finish(b, Outcome::Terminated, None);
        let all = log.since(0);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].operation.as_deref(), Some("noop"));
        assert_eq!(all[0].concurrent, 1);
        assert_eq!(all[1].concurrent, 2);
        assert_eq!(all[1].outcome, Outcome::Terminated);
        assert_eq!(log.peak(), 2);
        assert_eq!(log.running(), 0);
        assert_eq!(log.since(a).len(), 1);
    }
}
