//! A real Kafka-protocol broker for tests: tansu with in-memory storage on a free loopback
//! port, one per test, stopped when dropped. `.ci/run` installs tansu when it is missing.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::common::{RunWithin, WaitWithin};

/// A consumed message: its payload and headers.
pub type Consumed = (Vec<u8>, Vec<(String, String)>);

pub struct Broker {
    child: Child,
    pub address: String,
}

fn tansu() -> PathBuf {
    if let Ok(path) = std::env::var("TANSU") {
        return PathBuf::from(path);
    }
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo"));
    let installed = home.join("bin/tansu");
    if installed.exists() {
        installed
    } else {
        PathBuf::from("tansu")
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Broker {
    pub fn start() -> Broker {
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu())
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/", "--silent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start tansu ({}): {e}; run .ci/install-tansu", tansu().display()));
        let address = format!("127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(&address).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "tansu did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker { child, address }
    }

    pub fn create_topic(&self, name: &str, partitions: u32) {
        let status = Command::new(tansu())
            .args(["topic", "create", "--broker", &format!("tcp://{}", self.address)])
            .args(["--partitions", &partitions.to_string(), name])
            .stdout(Stdio::null())
            .spawn()
            .expect("tansu topic create")
            .wait_within("tansu topic create");
        assert!(status.success(), "cannot create topic {name}");
    }

    pub fn delete_topic(&self, name: &str) {
        let status = Command::new(tansu())
            .args(["topic", "delete", "--broker", &format!("tcp://{}", self.address), name])
            .stdout(Stdio::null())
            .spawn()
            .expect("tansu topic delete")
            .wait_within("tansu topic delete");
        assert!(status.success(), "cannot delete topic {name}");
    }

    /// `occurrent backfill` of `topic` as process `process` of the two-process cluster in
    /// `hostfile`, one worker each; stdout discarded, stderr to the file `log`.
    pub fn cluster_backfill(&self, topic: &str, hostfile: &Path, process: usize, log: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_occurrent"));
        command.args(["backfill", "--kafka", &self.address, "--topic", topic, "--workers", "1"]);
        command.args(["--processes", "2", "--process", &process.to_string()]);
        command.arg("--hostfile").arg(hostfile);
        command.stdout(Stdio::null());
        command.stderr(std::fs::File::create(log).expect("create the log"));
        command
    }

    /// Loads a JSON-lines file into `topic` with `occurrent produce` (Sentry's keys).
    pub fn produce(&self, topic: &str, input: &Path) {
        let output = Command::new(env!("CARGO_BIN_EXE_occurrent"))
            .args(["produce", "--kafka", &self.address, "--topic", topic, "--input"])
            .arg(input)
            .output_within("occurrent produce");
        assert!(
            output.status.success(),
            "produce failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Every message of a topic (all partitions), with its headers, read until caught up. The
    /// message key, when there is one, comes first as the pseudo-header `(key)`.
    pub fn consume_all(&self, topic: &str) -> Vec<Consumed> {
        use rdkafka::config::ClientConfig;
        use rdkafka::consumer::{BaseConsumer, Consumer};
        use rdkafka::message::{Headers, Message};
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.address)
            .set("group.id", "test-reader")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "true")
            .set("fetch.wait.max.ms", "10")
            .create()
            .unwrap();
        let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).unwrap();
        let partitions = metadata.topics()[0].partitions().len();
        let mut list = rdkafka::TopicPartitionList::new();
        for p in 0..partitions as i32 {
            list.add_partition_offset(topic, p, rdkafka::Offset::Beginning).unwrap();
        }
        consumer.assign(&list).unwrap();
        let mut eof = std::collections::HashSet::new();
        let mut messages = Vec::new();
        let started = Instant::now();
        while eof.len() < partitions && started.elapsed() < Duration::from_secs(60) {
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(message)) => {
                    let mut headers: Vec<(String, String)> = message
                        .key()
                        .map(|k| ("(key)".to_string(), String::from_utf8_lossy(k).into_owned()))
                        .into_iter()
                        .collect();
                    if let Some(h) = message.headers() {
                        headers.extend(
                            h.iter()
                                .map(|h| (h.key.to_string(), String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned())),
                        );
                    }
                    messages.push((message.payload().unwrap_or_default().to_vec(), headers));
                }
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                    eof.insert(p);
                }
                _ => {}
            }
        }
        messages
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET `url` as JSON (None until the server answers).
pub fn get_json(url: &str) -> Option<serde_json::Value> {
    reqwest::blocking::get(url).ok()?.json().ok()
}

/// The value of the Prometheus metric `name` (without labels) on a server at `port`.
pub fn metric(port: u16, name: &str) -> Option<i64> {
    let text = reqwest::blocking::get(format!("http://127.0.0.1:{port}/metrics"))
        .ok()?
        .text()
        .ok()?;
    text.lines().find_map(|l| l.strip_prefix(&format!("{name} "))?.trim().parse().ok())
}

/// Waits up to 60 s for `condition`, naming `what` if it never holds.
pub fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The Kafka tests' generated stream: `count` lines over 500 fingerprints and 8 projects
/// (seed 5 unless `extra` names one).
pub fn generate(dir: &Path, name: &str, count: u64, extra: &[&str]) -> PathBuf {
    let count = count.to_string();
    let seed: &[&str] = if extra.contains(&"--seed") { &[] } else { &["--seed", "5"] };
    let args: Vec<&str> = seed
        .iter()
        .copied()
        .chain(["--count", &count, "--fingerprints", "500", "--projects", "8"])
        .chain(extra.iter().copied())
        .collect();
    super::common::generate_stream(dir, name, &args)
}
