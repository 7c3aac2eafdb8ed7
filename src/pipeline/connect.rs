//! A cluster process and its peers' connections: it waits a bounded time for them (timely
//! retries its connections without a limit, so a peer that failed at start-up, say with a
//! bad argument or a checkpoint it cannot read, left the others waiting for it forever), and
//! it stops with one line when one breaks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::options::ClusterOptions;

/// Ends this cluster process with exit status 1, saying why: the other processes cannot go
/// on without it, and fail in turn on the lost connection ([`stop_on_lost_peer`]).
pub(super) fn stop_cluster_process(why: std::fmt::Arguments<'_>) -> ! {
    tracing::error!("{why}; stopping this cluster process");
    std::process::exit(1);
}

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
                stop_cluster_process(format_args!(
                    "process {process} of {processes}: the other processes did not all connect within {:.0} s \
                     (--connect-timeout)",
                    limit.as_secs_f64()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })?;
    Ok(connected)
}

/// Makes the loss of a peer (timely's communication threads panic when a connection breaks:
/// the peer died) end this process at once with one line saying so, rather than with the
/// backtraces of every thread that panics after it.
pub(super) fn stop_on_lost_peer() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("timely communication error") {
            stop_cluster_process(format_args!("lost the connection to another process of the cluster ({message})"));
        }
        default(info);
    }));
}
