//! Renders the report as svg.
