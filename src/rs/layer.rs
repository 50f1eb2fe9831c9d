//! The tower layer that puts a [`Guard`] with a [`Policy`] in front of routes.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::Request;
use axum::response::{IntoResponse, Response};

use super::{Guard, Incoming, Policy};
use crate::tls::PeerCertificate;

/// The layer [`Guard::require`] returns.
#[derive(Clone)]
pub struct RequireLayer {
    pub(super) guard: Guard,
    pub(super) policy: Arc<Policy>,
}

impl<S> tower::Layer<S> for RequireLayer {
    type Service = Require<S>;

    fn layer(&self, inner: S) -> Require<S> {
        Require {
            inner,
            guard: self.guard.clone(),
            policy: self.policy.clone(),
        }
    }
}

/// The service [`RequireLayer`] wraps routes in.
#[derive(Clone)]
pub struct Require<S> {
    inner: S,
    guard: Guard,
    policy: Arc<Policy>,
}

impl<S> tower::Service<Request<Body>> for Require<S>
where
    S: tower::Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        // The clone is fresh; the ready one goes with this request (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (guard, policy) = (self.guard.clone(), self.policy.clone());
        Box::pin(async move {
            let cert = req.extensions().get::<PeerCertificate>().cloned().unwrap_or_default();
            match guard.check(&policy, &Incoming::of(&req, &cert)).await {
                Ok(authenticated) => {
                    req.extensions_mut().insert(authenticated);
                    inner.call(req).await
                }
                Err(e) => Ok(e.into_response()),
            }
        })
    }
}
