//! One monotonic clock for the whole process. The addon is loaded once per process, so its
//! origin is shared by the main thread and every Worker: a `clock()` time computed in one thread
//! names the same instant in another (each thread's `performance.now()` has its own origin).

use std::sync::OnceLock;
use std::time::Instant;

use napi_derive::napi;

static ORIGIN: OnceLock<Instant> = OnceLock::new();

/// Milliseconds since the process's first call, on the OS monotonic clock (`CLOCK_MONOTONIC`,
/// `mach_absolute_time`, `QueryPerformanceCounter`: the one Node's `performance.now()` reads).
#[napi(js_name = "clockMs")]
pub fn clock_ms() -> f64 {
  ORIGIN.get_or_init(Instant::now).elapsed().as_secs_f64() * 1000.0
}
