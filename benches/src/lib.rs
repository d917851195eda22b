//! Shared helpers for the criterion benches (shapes of the real models).
