//! Delivery reports of Occurrent's producers (dead letters, change feeds).
//!
//! rdkafka's default producer context drops its delivery reports: a message that the broker
//! refused, or that expired in the queue (`message.timeout.ms`), vanished, and a flush still
//! succeeded once the queue was empty. A checkpoint taken after such a flush would cover a
//! message that was never produced, which a restart would then never produce again. So every
//! producer counts its reports here, and its flush fails when a message was lost: the
//! process stops before its next checkpoint, and the restart produces everything after the
//! previous one again (at least once).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::producer::{DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;

/// What a producer's delivery reports said so far.
#[derive(Default)]
pub struct DeliveryTally {
    sent: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl DeliveryTally {
    /// One more message handed to the producer.
    pub fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    fn reported(&self) -> u64 {
        self.delivered.load(Ordering::Acquire) + self.failed.load(Ordering::Acquire)
    }

    /// After the producer's queue is empty: waits (up to `within`) for the reports the
    /// polling thread may still be serving, then fails if any message was not delivered.
    /// A failure stays: every later check fails too, as the message is gone for good.
    pub fn check(&self, what: &str, within: Duration) -> std::io::Result<()> {
        let deadline = Instant::now() + within;
        while self.reported() < self.sent.load(Ordering::Relaxed) {
            if Instant::now() >= deadline {
                let waiting = self.sent.load(Ordering::Relaxed).saturating_sub(self.reported());
                return Err(std::io::Error::other(format!(
                    "{what}: no delivery report for {waiting} message(s) after the flush"
                )));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let failed = self.failed.load(Ordering::Acquire);
        if failed > 0 {
            let error = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
            return Err(std::io::Error::other(format!(
                "{what}: {failed} message(s) not delivered (first: {})",
                error.as_deref().unwrap_or("unknown error")
            )));
        }
        Ok(())
    }
}

/// A producer context that counts delivery reports into a [`DeliveryTally`].
pub struct CountingContext(pub Arc<DeliveryTally>);

impl ClientContext for CountingContext {}

impl ProducerContext for CountingContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: Self::DeliveryOpaque) {
        let tally = &self.0;
        match result {
            Ok(_) => {
                tally.delivered.fetch_add(1, Ordering::Release);
            }
            Err((error, _)) => {
                let mut first = tally.first_error.lock().unwrap_or_else(|p| p.into_inner());
                first.get_or_insert_with(|| error.to_string());
                drop(first);
                tally.failed.fetch_add(1, Ordering::Release);
            }
        }
    }
}

/// Flushes `producer` (up to `within`) and checks that everything sent was delivered.
pub fn flush_and_check(producer: &ThreadedProducer<CountingContext>, what: &str, within: Duration) -> std::io::Result<()> {
    producer
        .flush(within)
        .map_err(|error| std::io::Error::other(format!("cannot flush {what}: {error}")))?;
    producer.context().0.check(what, Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_message_fails_every_check_after_it() {
        let tally = DeliveryTally::default();
        tally.sent();
        tally.sent();
        tally.delivered.fetch_add(1, Ordering::Release);
        let error = tally.check("the change feed topic", Duration::from_millis(20)).unwrap_err();
        assert!(error.to_string().contains("no delivery report for 1 message"), "{error}");
        *tally.first_error.lock().unwrap() = Some("Message timed out".into());
        tally.failed.fetch_add(1, Ordering::Release);
        let error = tally.check("the change feed topic", Duration::ZERO).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the change feed topic: 1 message(s) not delivered (first: Message timed out)"
        );
        tally.sent();
        tally.delivered.fetch_add(1, Ordering::Release);
        assert!(tally.check("the change feed topic", Duration::ZERO).is_err());
    }

    #[test]
    fn every_message_delivered_passes() {
        let tally = DeliveryTally::default();
        assert!(tally.check("x", Duration::ZERO).is_ok());
        for _ in 0..3 {
            tally.sent();
            tally.delivered.fetch_add(1, Ordering::Release);
        }
        assert!(tally.check("x", Duration::ZERO).is_ok());
    }
}
