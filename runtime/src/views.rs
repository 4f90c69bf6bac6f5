//! Read-only views of the chain's Atoma state for app developers: the `AtomaViewApi` runtime API.
//!
//! Declared in the runtime, with the runtime's own types, so that the metadata (v15 and later)
//! describes every answer: polkadot.js calls them as `api.call.atomaViewApi.*` and decodes the
//! results with no custom types (`clients/views.mjs`). The node never calls them. Fee quotes, the
//! Nash bound and the tamper probability are the inference API's (`api.call.inferenceApi.*`).
//!
//! A runtime API runs off chain, outside any block's weight: `models` and `echelons` read whole
//! maps, which is what a dashboard needs; everything else reads a few keys.

use alloc::vec::Vec;

use atoma_support::{EchelonId, ModelId, NodeId, RequestId};
use codec::{Decode, Encode};
use scale_info::TypeInfo;

use super::{Balance, Runtime};

/// Where a request is.
// Built once per runtime API call, to be encoded: the size of its variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, Debug)]
pub enum RequestStatus {
	/// Neither in flight nor settled: never submitted, ended without a result (its
	/// `inference.RequestFailed` event says why and what was refunded), or settled so long ago
	/// that its result expired.
	Unknown,
	/// In flight (awaiting selection, executing, revealing or disputed): the request as stored,
	/// and the commitments made so far, by node.
	InFlight {
		/// The stored request: owner, model, echelon, mode, phase, drawn nodes, escrow.
		request: pallet_inference::Request<Runtime>,
		/// Each committing node's commitment.
		commitments: Vec<(NodeId, pallet_inference::Commitment)>,
	},
	/// Settled: what a user needs to verify an output (`clients/atoma.mjs`' `checkDelivered`).
	Settled {
		/// The settled result: output commitment, tokens, paid nodes, sampler seed.
		result: pallet_inference::types::RequestResult<Runtime>,
	},
}

/// An echelon (hardware class) with the price its nodes' bids set for the current epoch.
#[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, Debug)]
pub struct EchelonView {
	/// Its id.
	pub id: EchelonId,
	/// Its device, memory and execution profile.
	pub echelon: pallet_node_registry::EchelonOf<Runtime>,
	/// This epoch's price per token; `None` until a node of the echelon has bid.
	pub price_per_token: Option<Balance>,
}

/// The TOMA emission (`pallet-emission`): the schedule and where it stands.
#[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, Debug)]
pub struct EmissionView {
	/// The schedule governance set.
	pub schedule: pallet_emission::ScheduleOf<Runtime>,
	/// What the open epoch mints when it closes (the current rate, after the decay so far).
	pub per_epoch: Balance,
	/// The epoch whose work is being recorded.
	pub open_epoch: atoma_support::EpochIndex,
	/// Everything minted since genesis.
	pub total_emitted: Balance,
}

/// `AtomaViewApi::emission`.
pub fn emission() -> EmissionView {
	EmissionView {
		schedule: pallet_emission::CurrentSchedule::<Runtime>::get(),
		per_epoch: pallet_emission::NextEmission::<Runtime>::get(),
		open_epoch: pallet_emission::OpenEpoch::<Runtime>::get(),
		total_emitted: pallet_emission::TotalEmitted::<Runtime>::get(),
	}
}

sp_api::decl_runtime_apis! {
	/// Read-only views for app developers (dashboards, clients): requests, nodes, echelons,
	/// models and disputes; from version 2, the emission.
	#[api_version(2)]
	pub trait AtomaViewApi {
		/// Where `request` is: in flight with its commitments so far, settled with its result,
		/// or unknown.
		fn request_status(request: RequestId) -> RequestStatus;

		/// The nodes subscribed to `model` in `echelon` that a request submitted now could draw:
		/// active, with the free collateral a job holds. Empty for an unknown model or echelon.
		fn eligible_nodes(model: ModelId, echelon: EchelonId) -> Vec<NodeId>;

		/// Every echelon with this epoch's price.
		fn echelons() -> Vec<EchelonView>;

		/// Every registered model, by id.
		fn models() -> Vec<(ModelId, pallet_model_registry::ModelRecordOf<Runtime>)>;

		/// The dispute over `request`, while it is open.
		fn dispute(request: RequestId) -> Option<pallet_disputes::Dispute<Runtime>>;

		/// The emission schedule, the current rate and everything minted so far.
		#[api_version(2)]
		fn emission() -> EmissionView;

		/// What `node`'s operator would receive for the open epoch's verified work if the epoch
		/// closed now (zero once the node is slashed in it).
		#[api_version(2)]
		fn expected_node_reward(node: NodeId) -> Balance;

		/// `model`'s tokens settled in the open epoch, its owner's share of the emission if the
		/// epoch closed now, and the emission its owner has received for it since genesis.
		#[api_version(2)]
		fn model_usage(model: ModelId) -> (u64, Balance, Balance);
	}
}

/// `AtomaViewApi::request_status`.
pub fn request_status(request: RequestId) -> RequestStatus {
	if let Some(result) = pallet_inference::Results::<Runtime>::get(request) {
		return RequestStatus::Settled { result };
	}
	match pallet_inference::Requests::<Runtime>::get(request) {
		Some(stored) => RequestStatus::InFlight {
			request: stored,
			commitments: pallet_inference::Commitments::<Runtime>::iter_prefix(request).collect(),
		},
		None => RequestStatus::Unknown,
	}
}

/// `AtomaViewApi::echelons`, by id.
pub fn echelons() -> Vec<EchelonView> {
	let mut echelons: Vec<EchelonView> = pallet_node_registry::Echelons::<Runtime>::iter()
		.map(|(id, echelon)| EchelonView {
			id,
			echelon,
			price_per_token: pallet_node_registry::EchelonPrices::<Runtime>::get(id),
		})
		.collect();
	echelons.sort_by_key(|view| view.id);
	echelons
}

/// `AtomaViewApi::models`, by id.
pub fn models() -> Vec<(ModelId, pallet_model_registry::ModelRecordOf<Runtime>)> {
	let mut models: Vec<_> = pallet_model_registry::Models::<Runtime>::iter().collect();
	models.sort_by(|a, b| a.0.cmp(&b.0));
	models
}
