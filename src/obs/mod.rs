//! Observability below the layers that report: Prometheus [`metrics`] with typed, bounded
//! labels. The run, signals and daemon layers write to it; it imports none of them.

pub mod metrics;
