//! What ferry's tests share: small real servers ([`servers`], [`shadow_servers`]), TLS
//! peers ([`peers`]), a real Prometheus ([`prometheus`]), headless Chromium ([`browser`]),
//! the workspace's own services ([`workspace`]) and container labs run with podman
//! ([`containers`]).

pub mod browser;
pub mod containers;
pub mod peers;
pub mod prometheus;
pub mod servers;
pub mod shadow_servers;
pub mod workspace;
