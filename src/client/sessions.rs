//! `construct-actor sessions`: every live session of the daemon, as a table (admin).
//!
//! `GET /admin/sessions` with `Authorization: Bearer <admin token>` (or the owner key the daemon
//! wrote into its discovery file, which the command uses when given no token) answers
//! `{"sessions": [{"session_id", "label", "cwd", "created_at", "last_activity", "subscribers",
//! "running_calls", "owner", "client"}]}`; `client` (`{"name", "version"}`) is what the MCP
//! client using the session said it is at `initialize`, and the table shows its name.

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::daemon::{self, REQUEST_TIMEOUT};
use super::text::one_line;
use crate::cli::SessionsArgs;

/// Runs `sessions`.
pub async fn run(args: SessionsArgs) -> anyhow::Result<()> {
    let given = args.admin_token.filter(|token| !token.is_empty());
    let no_token = || {
        anyhow::anyhow!(
            "listing sessions needs the daemon's admin token: pass --admin-token or set \
             CONSTRUCT_ACTOR_ADMIN_TOKEN (a daemon found through its discovery file, which holds \
             its owner key, needs neither)"
        )
    };
    if given.is_none() && args.daemon.url.is_some() {
        return Err(no_token());
    }
    let daemon = daemon::locate(args.daemon.url.as_deref(), &args.daemon.discovery).await?;
    let admin_token = given
        .or_else(|| daemon.api_key.clone())
        .ok_or_else(no_token)?;
    let response = daemon
        .http
        .get(daemon.url("/admin/sessions"))
        .bearer_auth(&admin_token)
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .map_err(|err| {
            anyhow::anyhow!(
                "GET /admin/sessions failed: {}",
                daemon::describe_send_error(&err)
            )
        })?;
    match response.status().as_u16() {
        200 => {}
        401 | 403 => bail!(
            "the daemon refused the admin token: {}",
            daemon::failure(response).await
        ),
        404 | 405 => bail!(
            "this daemon has no session list (GET /admin/sessions answered {}): is it older \
             than this command?",
            response.status()
        ),
        _ => bail!(
            "GET /admin/sessions failed: {}",
            daemon::failure(response).await
        ),
    }
    let body: Value = response
        .json()
        .await
        .context("GET /admin/sessions did not answer JSON")?;
    let Some(sessions) = body["sessions"].as_array() else {
        bail!("GET /admin/sessions did not answer {{\"sessions\": [...]}}");
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&body)?);
    } else {
        print!("{}", table(sessions, Utc::now()));
    }
    Ok(())
}

/// The sessions as an aligned text table, one per line under a header.
pub fn table(sessions: &[Value], now: DateTime<Utc>) -> String {
    if sessions.is_empty() {
        return "no sessions\n".to_owned();
    }
    let header = [
        "SESSION",
        "LABEL",
        "CLIENT",
        "CWD",
        "AGE",
        "IDLE",
        "FOLLOWERS",
        "CALLS",
    ];
    let text = |value: &Value| value.as_str().map_or_else(|| "-".to_owned(), one_line);
    let count = |value: &Value| {
        value
            .as_u64()
            .map_or_else(|| "-".to_owned(), |n| n.to_string())
    };
    let since = |value: &Value| {
        value
            .as_str()
            .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
            .map_or_else(
                || "-".to_owned(),
                |at| age(now.signed_duration_since(at.with_timezone(&Utc))),
            )
    };
    let rows: Vec<[String; 8]> = sessions
        .iter()
        .map(|s| {
            [
                text(&s["session_id"]),
                match s["label"].as_str().filter(|label| !label.is_empty()) {
                    Some(label) => one_line(label),
                    // The session stateless requests run in belongs to the daemon itself.
                    None if s["owner"] == "daemon" => "(daemon)".to_owned(),
                    None => "-".to_owned(),
                },
                text(&s["client"]["name"]),
                text(&s["cwd"]),
                since(&s["created_at"]),
                since(&s["last_activity"]),
                count(&s["subscribers"]),
                count(&s["running_calls"]),
            ]
        })
        .collect();
    let mut widths = header.map(|title| title.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut push_row = |cells: &[String]| {
        let line: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    };
    push_row(&header.map(str::to_owned));
    for row in &rows {
        push_row(row);
    }
    out
}

/// A duration the way people read an age: `42s`, `5m`, `3h`, `2d`.
fn age(elapsed: chrono::TimeDelta) -> String {
    let seconds = elapsed.num_seconds().max(0);
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86400 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_table_with_ages_and_counts() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T01:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let sessions = [
            json!({"session_id": "a", "label": "demo", "cwd": "/w", "created_at": "2026-01-01T00:00:00Z",
                   "last_activity": "2026-01-01T00:59:30Z", "subscribers": 2, "running_calls": 1,
                   "client": {"name": "claude-code", "version": "2.1.197"}}),
            json!({"session_id": "bb", "label": null, "cwd": "/home/x", "created_at": "2025-12-30T01:00:00Z",
                   "last_activity": "bad", "subscribers": 0, "running_calls": 0}),
            json!({"session_id": "c", "label": null, "owner": "daemon", "cwd": "/srv"}),
        ];
        assert_eq!(
            table(&sessions, now),
            "SESSION  LABEL     CLIENT       CWD      AGE  IDLE  FOLLOWERS  CALLS\n\
             a        demo      claude-code  /w       1h   30s   2          1\n\
             bb       -         -            /home/x  2d   -     0          0\n\
             c        (daemon)  -            /srv     -    -     -          -\n"
        );
        assert_eq!(table(&[], now), "no sessions\n");
    }
}
