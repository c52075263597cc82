//! The sites store: the tenant's rows (`jwt_tokens`) on either backend — the Connect identity
//! (install, uninstall, enable), the Forge identity (which site an installation or cloud id
//! names), merging two rows of one site, and each way in's state and last use. Every operation
//! is one function over both backends; the decisions it applies are plain functions in
//! [`super`], tested once. Both ways in ask this store; neither knows the other's columns.

pub(crate) mod census;
pub mod connect;
pub(crate) mod forge;
mod merge;
pub(crate) mod seen;
