//! The services' logs in a test: every in-process service logs through `tracing`, so one
//! subscriber writing to the test's captured output keeps them all, shown by the test
//! runner for a failing test. The filter is `AETHERV_TEST_LOG` (default `info`).

/// Installs the subscriber once per test process.
pub fn init() {
    init_with_default("info");
}

/// [`init`] with another filter when `AETHERV_TEST_LOG` is not set.
pub fn init_with_default(default: &str) {
    let filter = std::env::var("AETHERV_TEST_LOG").unwrap_or_else(|_| default.to_string());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}
