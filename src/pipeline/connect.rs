//! A cluster process waits a bounded time for its peers. Timely retries its connections
//! without a limit, so a peer that failed at start-up (a bad argument, a checkpoint it
//! cannot read, an unreachable broker) left the others waiting for it forever.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::options::ClusterOptions;

/// Starts a thread that ends the process with an error unless the returned flag is set
/// (by this process's workers, which timely starts only once every process is connected)
/// within the cluster's connect timeout.
pub(super) fn give_up_unless_connected(cluster: &ClusterOptions) -> std::io::Result<Arc<AtomicBool>> {
    let connected = Arc::new(AtomicBool::new(false));
    let flag = connected.clone();
    let (limit, process, processes) = (cluster.connect_timeout, cluster.process, cluster.processes);
    std::thread::Builder::new().name("connect-watch".into()).spawn(move || {
        let started = Instant::now();
        while !flag.load(Ordering::Acquire) {
            if started.elapsed() >= limit {
                tracing::error!(
                    "process {process} of {processes}: the other processes did not all connect within {:.0} s \
                     (--connect-timeout); stopping",
                    limit.as_secs_f64()
                );
                std::process::exit(1);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })?;
    Ok(connected)
}
