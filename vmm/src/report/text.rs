//! Renders the report as text.
