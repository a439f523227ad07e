//! Resource subscriptions relayed to the user's MCP servers: a client subscribes to a URI
//! (`resources/subscribe` in 2025-11-25, a `subscriptions/listen` stream's
//! `resourceSubscriptions` in 2026-07-28), the daemon subscribes the server that serves it once
//! for all its subscribers, and the server's `notifications/resources/updated` reach those
//! subscribers alone.
//!
//! One task, the keeper, owns every subscription (`keeper`, with its rules in `book`); requests
//! and streams reach it through the bounded mailbox of a [`Subscriptions`] handle (`handle`,
//! with the messages in `asks`); `followed` is what it follows of each server and how it asks
//! one to subscribe.

mod asks;
mod book;
mod followed;
mod handle;
mod keeper;

pub use asks::{Key, PER_SUBSCRIBER, Refusal, Subscriber};
pub use handle::Subscriptions;
