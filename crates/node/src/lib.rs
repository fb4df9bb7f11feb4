//! The Node-API binding of `socket2-core`: a thin layer with no logic of its own beyond the
//! event loop glue.
//!
//! Hot functions take a socket id and a caller-owned buffer and return a number (a count, an
//! id, or a negated OS error number); only setup and lookups create JavaScript objects.

#![deny(clippy::all)]
// Our thread-locals have const initializers; on windows-gnu (TLS through the OS) clippy 1.96
// misreads std's expansion of them as non-const (rust-clippy#17566). A lint on a macro
// invocation cannot be allowed where it stands, so it is allowed here for that target only.
#![cfg_attr(
  all(windows, target_env = "gnu"),
  allow(clippy::missing_const_for_thread_local)
)]

mod addr;
mod clock;
mod env;
mod hot;
mod socket;
mod uv;
// A thread sharing its OS poller is woken for events that another thread drained.
#[cfg(unix)]
mod wake_mail;
mod wake_socket;
mod wake_thread;
// The loop polls the poller's epoll/kqueue fd: Windows's IOCP has no fd to give it.
#[cfg(unix)]
mod wake_uv;
