//! Holding under abuse (issue 12): each module reproduces one attack against the real server
//! or binary and shows it now fails safe, with nothing lost.

mod backups;
mod bodies;
mod connections;
mod forge;
mod install_keys;
mod links;
mod stall;
mod tenants;
mod titles;
mod wal;
