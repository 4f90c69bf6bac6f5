//! The pallets whose FRAME benchmarks this runtime exposes (`runtime-benchmarks` feature).
//! `scripts/benchmark-pallets.sh` runs them with `frame-omni-bencher` and writes each pallet's
//! `weights.rs`.

frame_benchmarking::define_benchmarks!(
	[pallet_node_registry, NodeRegistry]
	[pallet_model_registry, ModelRegistry]
	[pallet_inference, Inference]
	[pallet_disputes, Disputes]
	[pallet_oracle, Oracle]
	[pallet_validator_set, ValidatorSet]
	[pallet_emission, Emission]
	[pallet_model_validators, ModelValidators]
);
