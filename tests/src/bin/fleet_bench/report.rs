//! The figures of a run and their medians over runs, as Markdown tables (pasted into
//! BENCHMARKS.md as they are).

use std::fmt::Write as _;
use std::time::Duration;

use aetherv_tests::procfs::Usage;

/// p50, p99 and max of a set of samples (nearest rank).
#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Largest.
    pub max: Duration,
    /// How many samples.
    pub count: usize,
}

impl Percentiles {
    /// Of `samples`.
    pub fn of(mut samples: Vec<Duration>) -> Percentiles {
        samples.sort_unstable();
        let rank = |p: f64| {
            if samples.is_empty() {
                return Duration::ZERO;
            }
            let index = ((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
            samples[index]
        };
        Percentiles {
            p50: rank(0.50),
            p99: rank(0.99),
            max: samples.last().copied().unwrap_or_default(),
            count: samples.len(),
        }
    }
}

/// One run's figures.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// From start until the simulator was ready (fleet generated, listeners bound).
    pub sim_ready: Duration,
    /// From start until every service was healthy.
    pub services_ready: Duration,
    /// From start until the inventory was complete.
    pub complete: Duration,
    /// Each process at that moment.
    pub at_complete: Vec<(String, Usage)>,
    /// Each process after the latency measurements.
    pub at_end: Vec<(String, Usage)>,
    /// `GET /api/v1/vms?page_size=100`.
    pub rest_page: Percentiles,
    /// The same, filtered by state and sorted by memory.
    pub rest_filtered: Percentiles,
    /// A narrow name search.
    pub rest_search: Percentiles,
    /// A broad name search.
    pub rest_broad: Percentiles,
    /// Every VM in one response (`all=true`, gzip).
    pub rest_all: Percentiles,
    /// The narrow search term and how many VMs match it.
    pub search: (String, u64),
    /// The broad one.
    pub broad: (String, u64),
    /// gRPC `ListVms`, a page of 100.
    pub grpc_page: Percentiles,
    /// Whether inventory's host watches were on (then they, not the schedule, find changes).
    pub host_watch: bool,
    /// Out-of-band change → `/ws`, without help: found by the host watch when it is on,
    /// else by the refresh schedule.
    pub ws_scheduled: Percentiles,
    /// Out-of-band change → `/ws`, with an immediate `RefreshHost`.
    pub ws_refreshed: Percentiles,
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn s(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64())
}

fn mib(bytes: u64) -> String {
    format!("{:.0}", bytes as f64 / (1024.0 * 1024.0))
}

impl Run {
    /// The Markdown tables of this run.
    pub fn render(&self, title: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "\n### {title}\n");
        let _ = writeln!(out, "| step | seconds from start |\n|---|---|");
        let _ = writeln!(out, "| simulator ready | {} |", s(self.sim_ready));
        let _ = writeln!(
            out,
            "| every service healthy | {} |",
            s(self.services_ready)
        );
        let _ = writeln!(out, "| **inventory complete** | **{}** |", s(self.complete));
        let _ = writeln!(
            out,
            "| (inventory complete − services healthy) | {} |",
            s(self.complete.saturating_sub(self.services_ready))
        );
        let _ = writeln!(
            out,
            "\n| process | CPU s at complete | CPU s at end | peak RSS MiB (VmHWM) | RSS MiB at end |\n|---|---|---|---|---|"
        );
        let mut total_peak = 0;
        let mut total_rss = 0;
        for (name, end) in &self.at_end {
            let at = self
                .at_complete
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0.0, |(_, u)| u.cpu_seconds);
            total_peak += end.peak_rss_bytes;
            if name != "hvsim" && name != "launcher" {
                total_rss += end.rss_bytes;
            }
            let _ = writeln!(
                out,
                "| {name} | {at:.1} | {:.1} | {} | {} |",
                end.cpu_seconds,
                mib(end.peak_rss_bytes),
                mib(end.rss_bytes)
            );
        }
        let _ = writeln!(
            out,
            "| (sum of peaks; services' RSS at end) | | | {} | {} |",
            mib(total_peak),
            mib(total_rss)
        );
        let _ = writeln!(
            out,
            "\n| request | p50 ms | p99 ms | max ms | n |\n|---|---|---|---|---|"
        );
        let rows = [
            ("GET /api/v1/vms?page_size=100", &self.rest_page),
            (
                "GET /api/v1/vms?page_size=100&state=running&sort=memory_assigned&order=desc",
                &self.rest_filtered,
            ),
            (
                &*format!(
                    "GET /api/v1/vms?q={}&page_size=100 ({} matches)",
                    self.search.0, self.search.1
                ),
                &self.rest_search,
            ),
            (
                &*format!(
                    "GET /api/v1/vms?q={}&page_size=100 ({} matches)",
                    self.broad.0, self.broad.1
                ),
                &self.rest_broad,
            ),
            ("GET /api/v1/vms?all=true (every VM, gzip)", &self.rest_all),
            ("gRPC Inventory/ListVms, page of 100", &self.grpc_page),
        ];
        for (name, p) in rows {
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {} |",
                ms(p.p50),
                ms(p.p99),
                ms(p.max),
                p.count
            );
        }
        let _ = writeln!(
            out,
            "\n| out-of-band change → /ws event | p50 s | p99 s | max s | n |\n|---|---|---|---|---|"
        );
        for (name, p) in [
            (
                if self.host_watch {
                    "found by the host watch (inventory.watch)"
                } else {
                    "found by the refresh schedule (host watch off)"
                },
                &self.ws_scheduled,
            ),
            ("with an immediate RefreshHost", &self.ws_refreshed),
        ] {
            let _ = writeln!(
                out,
                "| {name} | {:.3} | {:.3} | {:.3} | {} |",
                p.p50.as_secs_f64(),
                p.p99.as_secs_f64(),
                p.max.as_secs_f64(),
                p.count
            );
        }
        out
    }
}

fn median<T: Copy + PartialOrd>(mut values: Vec<T>) -> Option<T> {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values.get(values.len() / 2).copied()
}

/// The medians of every figure over `runs`.
pub fn medians(runs: &[Run]) -> String {
    let pick =
        |f: &dyn Fn(&Run) -> Duration| median(runs.iter().map(f).collect()).unwrap_or_default();
    let usage = |name: &str, f: &dyn Fn(&Usage) -> f64| {
        median(
            runs.iter()
                .filter_map(|r| r.at_end.iter().find(|(n, _)| n == name).map(|(_, u)| f(u)))
                .collect(),
        )
        .unwrap_or(0.0)
    };
    let percentiles = |f: &dyn Fn(&Run) -> Percentiles| Percentiles {
        p50: median(runs.iter().map(|r| f(r).p50).collect()).unwrap_or_default(),
        p99: median(runs.iter().map(|r| f(r).p99).collect()).unwrap_or_default(),
        max: median(runs.iter().map(|r| f(r).max).collect()).unwrap_or_default(),
        count: f(&runs[0]).count,
    };
    let mut summary = Run {
        sim_ready: pick(&|r| r.sim_ready),
        services_ready: pick(&|r| r.services_ready),
        complete: pick(&|r| r.complete),
        rest_page: percentiles(&|r| r.rest_page),
        rest_filtered: percentiles(&|r| r.rest_filtered),
        rest_search: percentiles(&|r| r.rest_search),
        rest_broad: percentiles(&|r| r.rest_broad),
        rest_all: percentiles(&|r| r.rest_all),
        search: runs[0].search.clone(),
        broad: runs[0].broad.clone(),
        grpc_page: percentiles(&|r| r.grpc_page),
        host_watch: runs[0].host_watch,
        ws_scheduled: percentiles(&|r| r.ws_scheduled),
        ws_refreshed: percentiles(&|r| r.ws_refreshed),
        ..Run::default()
    };
    for (name, _) in &runs[0].at_end {
        let cpu = usage(name, &|u| u.cpu_seconds);
        let peak = usage(name, &|u| u.peak_rss_bytes as f64) as u64;
        let rss = usage(name, &|u| u.rss_bytes as f64) as u64;
        let at_complete = median(
            runs.iter()
                .filter_map(|r| {
                    r.at_complete
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, u)| u.cpu_seconds)
                })
                .collect(),
        )
        .unwrap_or(0.0);
        summary.at_end.push((
            name.clone(),
            Usage {
                cpu_seconds: cpu,
                rss_bytes: rss,
                peak_rss_bytes: peak,
            },
        ));
        summary.at_complete.push((
            name.clone(),
            Usage {
                cpu_seconds: at_complete,
                rss_bytes: 0,
                peak_rss_bytes: 0,
            },
        ));
    }
    let mut out = summary.render(&format!("medians of {} runs", runs.len()));
    let completes: Vec<String> = runs.iter().map(|r| s(r.complete)).collect();
    let _ = writeln!(
        out,
        "\ninventory complete per run (s): {}",
        completes.join(", ")
    );
    out
}

/// The machine, for the record.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown cpu".to_string());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or_else(
            || "?".to_string(),
            |kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0),
        );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "machine: {cpus} cpus ({model}), {memory} memory; load average at start: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    )
}
