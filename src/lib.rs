//! arroyo-exporter: a Prometheus/OpenMetrics exporter for Arroyo stream processing jobs.
//!
//! The data's path through the crate, one module per step:
//! [`config`] → [`scrape`] (discovery and fetches through [`arroyo`]) →
//! [`arroyo::wire`] (decode, pure) → [`model`] → [`exposition`] (render, pure) →
//! [`server`] (HTTP).

pub mod arroyo;
pub mod config;
pub mod exposition;
pub mod model;
pub mod scrape;
pub mod selfmetrics;
pub mod server;
pub mod sim;
pub mod webconfig;
