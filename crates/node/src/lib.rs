//! The Node-API binding of `socket2-core`: a thin layer with no logic of its own beyond the
//! event loop glue.
//!
//! Hot functions take a socket id and a caller-owned buffer and return a number (a count, an
//! id, or a negated OS error number); only setup and lookups create JavaScript objects.

#![deny(clippy::all)]

mod addr;
mod env;
mod hot;
mod socket;
// libuv's uv_poll takes fds: Windows (IOCP) has none to give it, so it uses the thread.
#[cfg(unix)]
mod uv;
mod wake_thread;
#[cfg(unix)]
mod wake_uv;
