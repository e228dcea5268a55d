//! Fan-out benchmark: N subscribers watch one article over
//! graphql-transport-ws; a writer adds comments one at a time; each
//! subscriber timestamps every event it receives. Reports the delay from the
//! mutation's HTTP response to delivery (p50, p99, max), whether every event
//! reached every subscriber, and the server's memory per connection.
//!
//! Run through `bench/fanout`, which starts the server; by hand:
//! `cargo run --release --example fanout -- --url http://127.0.0.1:18081 --pid <folio pid>`

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use clap::Parser;
use futures_util::{SinkExt, StreamExt, stream};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{
    Message, client::IntoClientRequest, http::HeaderValue, protocol::WebSocketConfig,
};

#[derive(Parser)]
struct Args {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:18081")]
    url: String,
    /// How many subscribers to open.
    #[arg(long, default_value_t = 1_000)]
    subscribers: usize,
    /// How many comments to add, one at a time.
    #[arg(long, default_value_t = 20)]
    events: usize,
    /// Pause between events, in milliseconds, so each is measured alone.
    #[arg(long, default_value_t = 500)]
    pause_ms: u64,
    /// Distinct logged-in viewers the subscribers are spread over (0: all
    /// anonymous). Subscribers with the same viewer share an execution;
    /// each distinct viewer costs one.
    #[arg(long, default_value_t = 0)]
    viewers: usize,
    /// The server's process id, to read its memory from /proc.
    #[arg(long)]
    pid: Option<u32>,
}

const SUBSCRIPTION: &str = "subscription($id: ID!) {
  commentAdded(articleId: $id) { id body createdAt author { username bio image } }
}";

/// When each event reached each subscriber: one lock per subscriber, so
/// recording never contends.
type Receipts = Arc<Vec<Mutex<Vec<Option<Instant>>>>>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let http = reqwest::Client::new();
    let graphql = format!("{}/graphql", args.url);
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let token = register(&http, &graphql, &run).await?;
    let article = gql(
        &http,
        &graphql,
        Some(&token),
        "mutation($input: CreateArticleInput!) { createArticle(input: $input) { id } }",
        json!({ "input": { "title": format!("Fan-out {run}"), "description": "Watched by many",
            "body": "Comments arrive live.", "tags": ["bench"], "publish": true } }),
    )
    .await?["createArticle"]["id"]
        .clone();

    let mut viewers = Vec::with_capacity(args.viewers);
    let registering = Instant::now();
    for viewer in 0..args.viewers {
        viewers.push(register(&http, &graphql, &format!("{run}v{viewer}")).await?);
    }
    if args.viewers > 0 {
        println!(
            "{} viewers registered in {:.1} s",
            args.viewers,
            registering.elapsed().as_secs_f64()
        );
    }
    let rss_before = args.pid.and_then(rss_kib);
    let receipts: Receipts = Arc::new(
        (0..args.subscribers)
            .map(|_| Mutex::new(vec![None; args.events]))
            .collect(),
    );
    let started = Instant::now();
    let sockets: Vec<_> = stream::iter(0..args.subscribers)
        .map(|index| {
            let token = (!viewers.is_empty()).then(|| viewers[index % viewers.len()].as_str());
            subscribe(&args.url, &article, token)
        })
        .buffer_unordered(256)
        .collect()
        .await;
    let sockets = sockets.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    println!(
        "{} subscribers connected in {:.1} s",
        sockets.len(),
        started.elapsed().as_secs_f64()
    );
    let mut readers = Vec::with_capacity(sockets.len());
    for (index, socket) in sockets.into_iter().enumerate() {
        readers.push(tokio::spawn(read(socket, index, receipts.clone())));
    }
    // Subscriptions are registered asynchronously after `subscribe`.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = args.pid.and_then(rss_kib);

    let cpu_before = (args.pid.and_then(cpu_ms), cpu_ms(std::process::id()));
    let mut responded = Vec::with_capacity(args.events);
    for event in 0..args.events {
        gql(
            &http,
            &graphql,
            Some(&token),
            "mutation($id: ID!, $body: String!) { addComment(articleId: $id, body: $body) { id } }",
            json!({ "id": article, "body": format!("event {event}") }),
        )
        .await?;
        responded.push(Instant::now());
        tokio::time::sleep(Duration::from_millis(args.pause_ms)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_peak = args.pid.and_then(rss_kib);
    let cpu_after = (args.pid.and_then(cpu_ms), cpu_ms(std::process::id()));

    let mut delays_us: Vec<i64> = Vec::with_capacity(args.subscribers * args.events);
    let mut missing = 0usize;
    for subscriber in receipts.iter() {
        for (event, received) in subscriber.lock().unwrap().iter().enumerate() {
            match received {
                Some(at) => delays_us.push(signed_us(*at, responded[event])),
                None => missing += 1,
            }
        }
    }
    delays_us.sort_unstable();
    let expected = args.subscribers * args.events;
    let percentile = |p: f64| {
        delays_us
            .get(((delays_us.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .map_or(f64::NAN, |us| *us as f64 / 1000.0)
    };
    println!(
        "subscribers={} viewers={} events={} delivered={}/{} ({:.2}%)",
        args.subscribers,
        args.viewers,
        args.events,
        expected - missing,
        expected,
        100.0 * (expected - missing) as f64 / expected as f64
    );
    println!(
        "delay after the mutation's response (ms): p50={:.1} p99={:.1} max={:.1} (min={:.1}; negative = delivered before the response)",
        percentile(0.50),
        percentile(0.99),
        percentile(1.0),
        delays_us.first().map_or(f64::NAN, |us| *us as f64 / 1000.0),
    );
    if let (Some(before), Some(after), Some(peak)) = (rss_before, rss_after, rss_peak) {
        println!(
            "server RSS: {} MiB before, {} MiB with the subscribers, {} MiB after the events; {:.1} KiB per connection",
            before / 1024,
            after / 1024,
            peak / 1024,
            after.saturating_sub(before) as f64 / args.subscribers as f64
        );
    }
    if let ((Some(server_before), Some(client_before)), (Some(server_after), Some(client_after))) =
        (cpu_before, cpu_after)
    {
        println!(
            "CPU per event: server {:.1} ms, this client {:.1} ms",
            (server_after - server_before) as f64 / args.events as f64,
            (client_after - client_before) as f64 / args.events as f64,
        );
    }
    for reader in readers {
        reader.abort();
    }
    if missing > 0 {
        anyhow::bail!("{missing} deliveries missing");
    }
    Ok(())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens one subscriber and waits until its subscription is sent.
async fn subscribe(base: &str, article: &Value, token: Option<&str>) -> anyhow::Result<Socket> {
    let url = format!("{}/graphql/ws", base.replacen("http", "ws", 1));
    let mut request = url.into_client_request()?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    // tungstenite zero-fills its whole read buffer (128 KiB by default) on
    // every read; with small messages that memset was most of this client's
    // time. The server's buffer is small for the same reason.
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), false).await?;
    let payload = match token {
        Some(token) => json!({ "authorization": format!("Bearer {token}") }),
        None => json!({}),
    };
    let init = json!({ "type": "connection_init", "payload": payload });
    socket.send(Message::Text(init.to_string().into())).await?;
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) if text.contains("connection_ack") => break,
            Some(Ok(_)) => {}
            other => anyhow::bail!("no connection_ack: {other:?}"),
        }
    }
    let subscribe = json!({ "id": "1", "type": "subscribe",
        "payload": { "query": SUBSCRIPTION, "variables": { "id": article } } });
    socket
        .send(Message::Text(subscribe.to_string().into()))
        .await?;
    Ok(socket)
}

/// Records when each event arrives on `socket`, answering pings.
async fn read(mut socket: Socket, index: usize, receipts: Receipts) {
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let at = Instant::now();
        // Find the event number without parsing the whole message: this
        // client shares the machine with the server, and its own cost is
        // part of every measured delay.
        if text.starts_with(r#"{"type":"next""#) || text.contains(r#""type":"next""#) {
            let event = text
                .find("\"event ")
                .map(|at| &text[at + 7..])
                .and_then(|rest| rest.split('"').next())
                .and_then(|n| n.parse::<usize>().ok());
            match event {
                Some(event) => {
                    if let Some(slot) = receipts[index].lock().unwrap().get_mut(event) {
                        *slot = Some(at);
                    }
                }
                None => eprintln!("unexpected payload: {text}"),
            }
        } else if text.contains(r#""type":"ping""#) {
            let pong = Message::Text(r#"{"type":"pong"}"#.into());
            if socket.send(pong).await.is_err() {
                return;
            }
        } else if text.contains(r#""type":"error""#) {
            eprintln!("subscription error: {text}");
        }
    }
}

async fn register(http: &reqwest::Client, graphql: &str, run: &str) -> anyhow::Result<String> {
    let data = gql(
        http,
        graphql,
        None,
        "mutation($input: RegisterInput!) { register(input: $input) { accessToken } }",
        json!({ "input": { "username": format!("fanout{run}"), "email": format!("fanout{run}@example.com"),
            "password": "correct horse battery staple" } }),
    )
    .await?;
    Ok(data["register"]["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

async fn gql(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    let mut request = http
        .post(url)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response: Value = request.send().await?.json().await?;
    if let Some(errors) = response.get("errors") {
        anyhow::bail!("GraphQL errors: {errors}");
    }
    Ok(response["data"].clone())
}

fn signed_us(at: Instant, reference: Instant) -> i64 {
    match at.checked_duration_since(reference) {
        Some(after) => after.as_micros() as i64,
        None => -(reference.duration_since(at).as_micros() as i64),
    }
}

/// CPU time (user + system) process `pid` has used, in milliseconds.
fn cpu_ms(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports in USER_HZ, which is 100 on every mainstream platform.
    Some(ticks * 10)
}

/// The resident set of process `pid`, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches(" kB").trim().parse().ok())
}
