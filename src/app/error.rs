//! The errors that stop the server from starting or serving: binding a listen address, a world
//! that `require_world` needs and did not load, the gRPC server itself, and the worker threads.
//!
//! It must not describe request failures: a Check that fails is a decision made in `authz` and
//! below, never an `AppError`.

use std::net::SocketAddr;

/// A server failure before or while serving.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The gRPC server failed.
    #[error("the gRPC server failed")]
    Grpc(#[source] tonic::transport::Error),
    /// `require_world` is set and the world did not load at start-up (why is logged).
    #[error("the world did not load at start-up and require_world is set")]
    NoWorld,
    /// A gRPC worker thread or its event loop could not be started.
    #[error("cannot start a gRPC worker")]
    Worker(#[source] std::io::Error),
}
