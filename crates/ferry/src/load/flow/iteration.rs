//! One iteration of a flow on one sending slot: its steps in order, each step's request
//! recorded like any request of the run, and the values it extracts kept for the steps after
//! it.

use std::cell::RefCell;
use std::time::Instant;

use super::super::histogram::{Slot, micros};
use super::super::outcome::TransportError;
use super::super::worker::{SlotContext, exchange};
use super::{Flow, FlowTally, extract};

/// Runs `flow` once, meant to start at `intended`, in the window `hold` keeps open
/// ([`super::super::histogram::WindowedRecorder::hold`]); it is counted in `tally` when
/// that window is measured. The first error (transport, status or extraction) ends it.
pub(in crate::load) async fn run_iteration(
    context: &SlotContext,
    flow: &Flow,
    tally: &RefCell<FlowTally>,
    hold: Slot,
    intended: Instant,
) {
    // One slot per extracted name, in `Flow::names` order; counted, not collected, since
    // this runs once per iteration.
    let names: usize = flow.steps.iter().map(|step| step.extract.len()).sum();
    let mut extracted = vec![String::new(); names];
    let mut first_extracted = 0;
    let mut failed = false;
    let mut last_response = intended;
    for (index, step) in flow.steps.iter().enumerate() {
        if !step.think.is_zero() {
            tokio::time::sleep(step.think).await;
        }
        // The first step is meant to go at the iteration's start (after its think time);
        // the others when the step before them is done.
        let step_intended = if index == 0 {
            intended + step.think
        } else {
            Instant::now()
        };
        let slot = context.recorder.borrow_mut().begin(intended);
        let request = context.picker.borrow_mut().step_request(index, &extracted);
        let request = match request {
            Ok(request) => request,
            Err(_) => {
                context
                    .recorder
                    .borrow_mut()
                    .record_error(slot, TransportError::Other);
                count_step(tally, hold, index, false, true, 0);
                failed = true;
                break;
            }
        };
        let keep_body = !step.extract.is_empty();
        let exchanged = exchange(context, slot, step_intended, index, request, keep_body).await;
        last_response = exchanged.finished;
        let service = micros(exchanged.finished - exchanged.sent);
        let answered = exchanged.response.is_some();
        let Some(response) = exchanged.response.filter(|_| !exchanged.error) else {
            count_step(tally, hold, index, answered, true, service);
            failed = true;
            break;
        };
        let body = response.body.as_deref().unwrap_or_default();
        let mut extraction_failed = false;
        for (offset, (_, pointer)) in step.extract.iter().enumerate() {
            match extract(response.status, body, pointer) {
                Ok(value) => extracted[first_extracted + offset] = value,
                Err(_) => extraction_failed = true,
            }
        }
        first_extracted += step.extract.len();
        if extraction_failed {
            context.recorder.borrow_mut().record_extraction_error(slot);
        }
        count_step(tally, hold, index, true, extraction_failed, service);
        if extraction_failed {
            failed = true;
            break;
        }
    }
    context.recorder.borrow_mut().release(hold);
    if matches!(hold, Slot::Second(_)) {
        let mut tally = tally.borrow_mut();
        tally.iterations += 1;
        if failed {
            tally.failed += 1;
        } else {
            tally
                .latency
                .saturating_record(micros(last_response.saturating_duration_since(intended)));
        }
    }
}

/// Counts one request of step `index` when its iteration is measured: `answered` when a
/// response came, `error` when it ended the iteration, `service` its own time in µs.
fn count_step(
    tally: &RefCell<FlowTally>,
    hold: Slot,
    index: usize,
    answered: bool,
    error: bool,
    service: u64,
) {
    if !matches!(hold, Slot::Second(_)) {
        return;
    }
    let mut tally = tally.borrow_mut();
    let step = &mut tally.steps[index];
    step.requests += 1;
    if answered {
        step.responses += 1;
        step.latency.saturating_record(service.max(1));
    }
    if error {
        step.errors += 1;
    }
}
