//! The report: what microvmm learned about the host, the guest's memory and
//! every guest process, and its renderings (text, JSON, SVG, HTML).

pub mod build;
pub mod efficiency;
pub mod faults;
pub mod html;
pub mod json;
pub mod kvm;
pub mod model;
pub mod svg;
pub mod text;
pub mod threads;
pub mod trace;
pub mod tree;

pub use model::*;
