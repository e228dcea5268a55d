//! The real `folio` binary, started as a deployment would run it, with its
//! JSON log readable by the test.

use std::{process::Stdio, time::Duration};

use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    sync::mpsc,
};

use crate::helpers::TestDatabase;

pub struct Folio {
    pub child: Child,
    pub address: String,
    /// Every log entry after "Folio is listening".
    pub logs: mpsc::UnboundedReceiver<Value>,
}

/// Starts `folio serve` on a free port of `database`, with `env` on top.
pub async fn start(database: &TestDatabase, env: &[(&str, String)]) -> Folio {
    let mut command = Command::new(env!("CARGO_BIN_EXE_folio"));
    command
        .env("DATABASE_URL", &database.url)
        .env("FOLIO_BIND", "127.0.0.1:0")
        .env("FOLIO_LOG_FORMAT", "json")
        .env(
            "FOLIO_REDIS_PREFIX",
            format!("folio-test:{}:", uuid::Uuid::new_v4().simple()),
        )
        .env(
            "REDIS_URL",
            std::env::var("FOLIO_TEST_REDIS_URL").unwrap_or_default(),
        )
        .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("folio starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if entry["fields"]["message"] == "Folio is listening" {
                return entry["fields"]["address"].as_str().unwrap().to_owned();
            }
        }
        panic!("folio exited before listening");
    })
    .await
    .expect("folio listens within 30 s");
    // Keep reading the log so the server never blocks on a full pipe.
    let (sender, logs) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(entry) = serde_json::from_str::<Value>(&line) {
                let _ = sender.send(entry);
            }
        }
    });
    Folio {
        child,
        address: format!("http://{address}"),
        logs,
    }
}
