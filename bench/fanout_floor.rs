//! The floor under any fan-out on this machine: a bare TCP server writes a
//! 300-byte message to N loopback connections in one tight loop (no
//! WebSocket, no JSON, no GraphQL), while a client process reads them as
//! `bench/fanout`'s client does. Prints how long the server's loop took and
//! how long the last connection waited for its message, per event.
//!
//! `cargo run --release --example fanout_floor -- 10000`

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, BufReader},
    net::{TcpListener, TcpStream},
    process::Command,
    sync::mpsc,
};

const EVENTS: usize = 20;
const MESSAGE: usize = 300;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        return serve(args[2].parse()?).await;
    }
    let connections: usize = args.get(1).map_or(Ok(10_000), |n| n.parse())?;
    let mut server = Command::new(std::env::current_exe()?)
        .args(["serve", &connections.to_string()])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(server.stdout.take().expect("piped")).lines();
    let address = lines.next_line().await?.expect("the server's address");

    let (arrived, mut arrivals) = mpsc::unbounded_channel::<Instant>();
    for _ in 0..connections {
        let mut stream = TcpStream::connect(&address).await?;
        let arrived = arrived.clone();
        tokio::spawn(async move {
            let mut buffer = [0u8; 4096];
            let mut pending = 0;
            while let Ok(read) = stream.read(&mut buffer).await {
                if read == 0 {
                    return;
                }
                pending += read;
                while pending >= MESSAGE {
                    pending -= MESSAGE;
                    let _ = arrived.send(Instant::now());
                }
            }
        });
    }
    let mut last_delivery = Vec::with_capacity(EVENTS);
    for event in 0..EVENTS {
        lines.next_line().await?.expect("the server starts sending");
        let started = Instant::now();
        let mut last = started;
        for _ in 0..connections {
            last = arrivals.recv().await.expect("an arrival");
        }
        let took = lines.next_line().await?.expect("the server's loop time");
        let waited = last.saturating_duration_since(started).as_secs_f64() * 1000.0;
        println!("event {event}: server loop {took}, last connection served after {waited:.1} ms");
        last_delivery.push(waited);
    }
    last_delivery.sort_by(f64::total_cmp);
    println!(
        "{connections} connections: last delivery median {:.1} ms, best {:.1} ms",
        last_delivery[EVENTS / 2],
        last_delivery[0]
    );
    Ok(())
}

/// Accepts `connections`, then writes every event to each in one loop and
/// reports the loop's time on stdout.
async fn serve(connections: usize) -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?);
    let mut streams = Vec::with_capacity(connections);
    while streams.len() < connections {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        streams.push(stream);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let message = [b'x'; MESSAGE];
    for _ in 0..EVENTS {
        println!("sending");
        let started = Instant::now();
        for stream in &streams {
            stream.writable().await?;
            stream.try_write(&message)?;
        }
        println!("{:.1} ms", started.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}
