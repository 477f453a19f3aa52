//! arroyo-exporter: a Prometheus/OpenMetrics exporter for Arroyo stream processing jobs.
//!
//! The data's path through the crate, one module per step:
//! [`config`] → [`scrape`] (discovery and fetches through [`arroyo`]) →
//! [`arroyo::wire`] (decode, pure) → [`model`] → [`exposition`] (render, pure) →
//! [`server`] (HTTP). [`clusters`] holds one scraper per served cluster (the top-level
//! one and each named target) and swaps them on a configuration reload.
//!
//! The simulated Arroyo the tests run against is a separate crate (`crates/arroyo-sim`),
//! not part of this library.

#![forbid(unsafe_code)]

pub mod arroyo;
pub mod clusters;
pub mod config;
pub mod exposition;
pub mod model;
pub mod scrape;
pub mod selfmetrics;
pub mod server;
pub mod webconfig;
