//! The fan-out scenarios' measuring: the `fanout` scenario, and the machinery ([`measure`], with
//! its followers and [`results`]) it shares with `cluster-fanout`, which publishes on one daemon
//! and follows on another.

mod followers;
pub mod measure;
mod nchan_channel;
mod publisher;
pub mod results;
mod scenario;

pub use self::scenario::{LATENCY_NOTE, LOSS_NOTE, fanout};
