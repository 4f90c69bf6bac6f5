//! The node's JSON-RPC extensions beyond what `sc-service` provides (system, chain, state,
//! author, offchain, rpc_methods): account nonces (`system_accountNextIndex`), fee queries
//! (`payment_queryInfo`, `payment_queryFeeDetails`) and the slots this node's BABE keys may
//! author in the current epoch (`babe_epochAuthorship`, unsafe: local operators only), and
//! whether another node may read a by-hash input from this node's worker
//! (`atoma_authorizeInputRead`, asked by the worker: `crate::input_access`).

use std::sync::Arc;

use atoma_runtime::{opaque::Block, AccountId, Balance, Nonce};
use jsonrpsee::RpcModule;
use sc_consensus_babe::BabeWorkerHandle;
use sc_transaction_pool_api::TransactionPool;
use sp_api::ProvideRuntimeApi;
use sp_block_builder::BlockBuilder;
use sp_blockchain::{Error as BlockChainError, HeaderBackend, HeaderMetadata};
use sp_consensus::SelectChain;
use sp_keystore::KeystorePtr;

/// What the RPC extensions need from the node.
pub struct FullDeps<C, P, SC> {
	/// The client instance to use.
	pub client: Arc<C>,
	/// Transaction pool instance.
	pub pool: Arc<P>,
	/// The chain selection rule, to find the best block for BABE queries.
	pub select_chain: SC,
	/// The node's keystore, whose BABE keys `babe_epochAuthorship` looks up.
	pub keystore: KeystorePtr,
	/// Answers BABE epoch queries.
	pub babe_worker_handle: BabeWorkerHandle<Block>,
}

/// Instantiate all full RPC extensions.
pub fn create_full<C, P, SC>(
	deps: FullDeps<C, P, SC>,
) -> Result<RpcModule<()>, Box<dyn std::error::Error + Send + Sync>>
where
	C: ProvideRuntimeApi<Block>
		+ HeaderBackend<Block>
		+ HeaderMetadata<Block, Error = BlockChainError>
		+ Send
		+ Sync
		+ 'static,
	C::Api: substrate_frame_rpc_system::AccountNonceApi<Block, AccountId, Nonce>,
	C::Api: pallet_transaction_payment_rpc::TransactionPaymentRuntimeApi<Block, Balance>,
	C::Api: BlockBuilder<Block>,
	C::Api: sp_consensus_babe::BabeApi<Block>,
	C::Api: atoma_inference_runtime_api::InferenceApi<Block, Balance>,
	P: TransactionPool + 'static,
	SC: SelectChain<Block> + Clone + 'static,
{
	use crate::input_access::{InputAccess, InputAccessApiServer};
	use pallet_transaction_payment_rpc::{TransactionPayment, TransactionPaymentApiServer};
	use sc_consensus_babe_rpc::{Babe, BabeApiServer};
	use substrate_frame_rpc_system::{System, SystemApiServer};

	let mut module = RpcModule::new(());
	let FullDeps { client, pool, select_chain, keystore, babe_worker_handle } = deps;

	module.merge(System::new(client.clone(), pool).into_rpc())?;
	module.merge(TransactionPayment::new(client.clone()).into_rpc())?;
	module.merge(InputAccess::new(client.clone()).into_rpc())?;
	module.merge(Babe::new(client, babe_worker_handle, keystore, select_chain).into_rpc())?;

	Ok(module)
}
