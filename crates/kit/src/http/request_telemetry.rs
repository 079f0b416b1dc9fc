//! The request telemetry middleware (`[server] request_telemetry`): the request id
//! (`super::request_id`), then the span and the request metrics (`super::observe`), in
//! one hand-written `Transform`.
//!
//! Why not two `middleware::from_fn`: each boxes its own future, and puts the service
//! behind it in an `Rc<dyn Service>` whose calls box again; the pair cost two heap
//! futures per request more than this single future, which lives inline in the caller's
//! (callgrind: 19 allocations per cached read before, 17 after; README, "Coalesced
//! statements").

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::HeaderValue;
use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;

use super::observe::{Observation, Observed, method_label};
use super::request_id::{self, HEADER, RequestId, RequestScope};

/// Wrap the app in it (outermost of the kit's own middleware, see `super::server`).
pub struct RequestTelemetry;

impl<S, B> Transform<S, ServiceRequest> for RequestTelemetry
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = RequestTelemetryService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestTelemetryService { service }))
    }
}

/// The service [`RequestTelemetry`] wraps around the next one.
pub struct RequestTelemetryService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for RequestTelemetryService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = RequestTelemetryFuture<S::Future>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let incoming = request.headers().get(HEADER);
        let id = RequestId::from_header(incoming);
        // Ours, and well-formed: it fails only if the id were not ASCII.
        let header = request_id::header_value(incoming, &id).ok();
        let method = method_label(request.method());
        let scope = RequestScope { id, method };
        let observation = Observation::start(&request, method, &id);
        let response = request_id::sync_scoped(scope, || self.service.call(request));
        RequestTelemetryFuture {
            response: request_id::scoped(scope, observation.observe(response)),
            header,
        }
    }
}

pin_project! {
    /// A request under [`RequestTelemetry`]: its response gets the `x-request-id`
    /// header, whatever produced it (handlers' and extractors' errors arrive here as
    /// responses already, rendered inside the request's scope).
    pub struct RequestTelemetryFuture<F> {
        #[pin]
        response: TaskLocalFuture<RequestScope, Observed<F>>,
        header: Option<HeaderValue>,
    }
}

impl<F, B> Future for RequestTelemetryFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
    B: MessageBody,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.response.poll(context))?;
        if let Some(value) = this.header.take() {
            response.headers_mut().insert(HEADER, value);
        }
        Poll::Ready(Ok(response))
    }
}
