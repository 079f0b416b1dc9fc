//! Merges the workers' one-second windows into the run's totals and time series.
//!
//! A second is final once every worker has declared it complete; its windows are then merged
//! into the run histograms, summarised as one time-series point, and dropped.

use std::collections::BTreeMap;

use anyhow::Result;

use hdrhistogram::Histogram;

use super::flow::FlowTally;
use super::histogram::{Window, WindowBatch, new_latency_histogram};
use super::outcome::Tally;
use super::result::SecondPoint;

/// The run-wide merge of every worker's windows.
#[derive(Debug)]
pub struct Collector {
    complete_before: Vec<u64>,
    finished: Vec<bool>,
    /// Seconds some worker has reported but not every worker has completed.
    pending: BTreeMap<u64, Window>,
    /// The next second to finalise.
    next_second: u64,
    pub corrected: Histogram<u64>,
    pub service: Histogram<u64>,
    pub tally: Tally,
    pub series: Vec<SecondPoint>,
    pub warmup_requests: u64,
    /// A flow's iterations, merged from the workers' last batches.
    pub flow: Option<FlowTally>,
}

impl Collector {
    pub fn new(workers: usize) -> Collector {
        Collector {
            complete_before: vec![0; workers],
            finished: vec![false; workers],
            pending: BTreeMap::new(),
            next_second: 0,
            corrected: new_latency_histogram(),
            service: new_latency_histogram(),
            tally: Tally::default(),
            series: Vec::new(),
            warmup_requests: 0,
            flow: None,
        }
    }

    /// Takes in one worker's batch and finalises the seconds every worker has completed.
    pub fn accept(&mut self, batch: WindowBatch) -> Result<()> {
        self.warmup_requests += batch.warmup_requests;
        if let Some(flow) = &batch.flow {
            match &mut self.flow {
                Some(merged) => merged.add(flow),
                None => self.flow = Some(flow.clone()),
            }
        }
        for window in batch.windows {
            match self.pending.get_mut(&window.second) {
                Some(merged) => merged.merge(&window),
                None => {
                    self.pending.insert(window.second, window);
                }
            }
        }
        self.complete_before[batch.worker] = batch.complete_before;
        self.finished[batch.worker] |= batch.finished;
        let complete_before = self.complete_before.iter().copied().min().unwrap_or(0);
        // A finished worker declares everything complete; how far the run went is then
        // decided by `finalise_all`, which knows the run's length.
        if complete_before != u64::MAX {
            self.finalise_before(complete_before)?;
        }
        Ok(())
    }

    /// Whether every worker has sent its last batch.
    pub fn all_finished(&self) -> bool {
        self.finished.iter().all(|finished| *finished)
    }

    /// Finalises every second up to `end` (exclusive), including seconds no request was meant
    /// to start in, so that the time series has no holes. Used at the end of the run with the
    /// run's length.
    pub fn finalise_before(&mut self, end: u64) -> Result<()> {
        while self.next_second < end {
            let second = self.next_second;
            let window = self
                .pending
                .remove(&second)
                .unwrap_or_else(|| Window::new(second));
            self.corrected
                .add(&window.corrected)
                .expect("all ferry histograms share bounds, so adding one to another cannot fail");
            self.service
                .add(&window.service)
                .expect("all ferry histograms share bounds, so adding one to another cannot fail");
            self.tally.add(&window.tally);
            self.series.push(SecondPoint::new(
                second,
                &window.corrected,
                &window.service,
                &window.tally,
            )?);
            self.next_second += 1;
        }
        Ok(())
    }

    /// Finalises whatever is left, once every worker has finished.
    pub fn finalise_all(&mut self, run_seconds: u64) -> Result<()> {
        let last_reported = self
            .pending
            .last_key_value()
            .map_or(0, |(second, _)| second + 1);
        self.finalise_before(run_seconds.max(last_reported))
    }

    /// The most recent finalised second, for the progress line.
    pub fn latest(&self) -> Option<&SecondPoint> {
        self.series.last()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::histogram::{Answer, Slot, WindowedRecorder};
    use super::*;

    /// Brute-force percentile with HdrHistogram's definition: the smallest recorded value
    /// such that at least `quantile` of all values are at or below it.
    fn brute_force_quantile(sorted: &[u64], quantile: f64) -> u64 {
        let rank = ((quantile * sorted.len() as f64).ceil() as usize).max(1);
        sorted[rank - 1]
    }

    #[test]
    fn merging_windows_from_many_workers_is_exact() {
        let workers = 4;
        let start = Instant::now();
        let mut recorders: Vec<WindowedRecorder> = (0..workers)
            .map(|worker| WindowedRecorder::new(worker, start))
            .collect();
        let mut rng = fastrand::Rng::with_seed(42);
        let mut all = Vec::new();
        // Values below 2,048 µs are exact in a 3-significant-figure histogram, so merged
        // percentiles must equal the brute-force ones exactly.
        for index in 0..50_000u64 {
            let worker = rng.usize(..workers);
            let second = index % 7;
            let latency = rng.u64(1..2_048);
            let intended =
                start + Duration::from_secs(second) + Duration::from_micros(rng.u64(..999_999));
            let recorder = &mut recorders[worker];
            let slot = recorder.begin(intended);
            assert_eq!(slot, Slot::Second(second));
            let finished = intended + Duration::from_micros(latency);
            recorder.record_response(slot, intended, intended, finished, Answer::OK);
            all.push(latency);
        }
        let mut collector = Collector::new(workers);
        let later = start + Duration::from_secs(60);
        for recorder in &mut recorders {
            collector
                .accept(recorder.take_complete(later, true))
                .unwrap();
        }
        assert!(collector.all_finished());
        collector.finalise_all(7).unwrap();
        all.sort_unstable();
        assert_eq!(collector.corrected.len(), all.len() as u64);
        for quantile in [0.0001, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1.0] {
            assert_eq!(
                collector.corrected.value_at_quantile(quantile),
                brute_force_quantile(&all, quantile),
                "quantile {quantile}"
            );
        }
        assert_eq!(collector.series.len(), 7);
        let per_second: u64 = collector.series.iter().map(|point| point.responses).sum();
        assert_eq!(per_second, 50_000);
    }

    #[test]
    fn merged_histogram_equals_one_histogram_of_all_samples_at_any_scale() {
        let start = Instant::now();
        let mut recorders = [
            WindowedRecorder::new(0, start),
            WindowedRecorder::new(1, start),
        ];
        let mut single = new_latency_histogram();
        let mut rng = fastrand::Rng::with_seed(7);
        let mut all = Vec::new();
        for index in 0..20_000u64 {
            // Spread over six orders of magnitude, up to 10 s.
            let latency = 10f64.powf(rng.f64() * 7.0) as u64 + 1;
            let intended = start + Duration::from_millis(index % 3_000);
            let recorder = &mut recorders[(index % 2) as usize];
            let slot = recorder.begin(intended);
            recorder.record_response(
                slot,
                intended,
                intended,
                intended + Duration::from_micros(latency),
                Answer::OK,
            );
            single.record(latency).unwrap();
            all.push(latency);
        }
        let mut collector = Collector::new(2);
        for recorder in &mut recorders {
            collector
                .accept(recorder.take_complete(start, true))
                .unwrap();
        }
        collector.finalise_all(3).unwrap();
        assert_eq!(collector.corrected, single);
        all.sort_unstable();
        for quantile in [0.5, 0.9, 0.99, 0.999] {
            let exact = brute_force_quantile(&all, quantile) as f64;
            let merged = collector.corrected.value_at_quantile(quantile) as f64;
            assert!(
                (merged - exact).abs() <= exact * 0.001 + 1.0,
                "quantile {quantile}: merged {merged}, exact {exact}"
            );
        }
    }

    #[test]
    fn a_second_waits_for_every_worker() {
        let start = Instant::now();
        let mut fast = WindowedRecorder::new(0, start);
        let mut slow = WindowedRecorder::new(1, start);
        let slot = fast.begin(start);
        fast.record_response(slot, start, start, start, Answer::OK);
        let pending = slow.begin(start);
        let mut collector = Collector::new(2);
        let two_seconds_in = start + Duration::from_secs(2);
        collector
            .accept(fast.take_complete(two_seconds_in, false))
            .unwrap();
        collector
            .accept(slow.take_complete(two_seconds_in, false))
            .unwrap();
        // The slow worker's request of second 0 is still in flight.
        assert!(collector.series.is_empty());
        slow.record_response(pending, start, start, two_seconds_in, Answer::OK);
        collector
            .accept(slow.take_complete(two_seconds_in, false))
            .unwrap();
        assert_eq!(collector.series.len(), 2);
        assert_eq!(collector.series[0].responses, 2);
    }
}
