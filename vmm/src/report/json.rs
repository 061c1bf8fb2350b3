//! Renders the report as json.
