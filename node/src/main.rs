//! The Atoma appchain node.
//!
//! A Substrate node (BABE + GRANDPA, ParityDB, litep2p or libp2p networking, off-chain workers)
//! for the Atoma runtime.

mod babe_seal;
mod chain_spec;
mod cli;
mod command;
mod input_access;
mod job_finisher;
mod rpc;
mod service;
mod sortition;
mod worker_status;

fn main() -> sc_cli::Result<()> {
	command::run()
}
