//! The emission pallet's tests: every call's success and errors, each epoch's payout (nodes by
//! verified work, validators equally, owners by use, the treasury the rest), the decay, forfeits,
//! bounded payouts over blocks, and exact issuance after every test (`ExtBuilder`).

use atoma_support::{NodeId, OnNodeSlashed, WorkLedger};
use frame_support::{assert_noop, assert_ok, traits::fungible::Inspect};
use sp_runtime::{DispatchError, Perbill};

use crate::{mock::*, Error, Event, NextEmission, Payouts, Schedule, WorkOf};

/// Fees well above any share: the cap at a node's fees does not bind.
const AMPLE_FEE: Balance = 1_000_000_000_000;

fn settle(model_name: &[u8], nodes: &[u64], tokens: u64) {
	settle_for(model_name, nodes, tokens, AMPLE_FEE);
}

fn settle_for(model_name: &[u8], nodes: &[u64], tokens: u64, fee: Balance) {
	let paid: Vec<(NodeId, Balance)> = nodes.iter().map(|n| (NodeId(*n), fee)).collect();
	Emission::record_settled_work(&model(model_name), &paid, tokens);
}

fn node_rewards() -> Vec<(u64, Balance)> {
	events()
		.into_iter()
		.filter_map(|e| match e {
			Event::NodeRewarded { node, amount, .. } => Some((node.0, amount)),
			_ => None,
		})
		.collect()
}

#[test]
fn genesis_sets_the_schedule_and_the_first_emission() {
	ExtBuilder::default().build_and_execute(|| {
		assert_eq!(crate::CurrentSchedule::<Test>::get(), schedule());
		assert_eq!(Emission::emission_per_epoch(), PER_EPOCH);
		assert_eq!(crate::OpenEpoch::<Test>::get(), 0);
	});
}

#[test]
fn governance_sets_the_schedule() {
	ExtBuilder::default().build_and_execute(|| {
		let new = Schedule { per_epoch: 5_000, ..schedule() };
		assert_ok!(Emission::set_schedule(RuntimeOrigin::root(), new.clone()));
		assert_eq!(crate::CurrentSchedule::<Test>::get(), new);
		assert_eq!(NextEmission::<Test>::get(), 5_000);
		assert_eq!(events(), vec![Event::ScheduleSet { schedule: new }]);
	});
}

#[test]
fn only_governance_sets_the_schedule() {
	ExtBuilder::default().build_and_execute(|| {
		assert_noop!(
			Emission::set_schedule(RuntimeOrigin::signed(VAL_1), schedule()),
			DispatchError::BadOrigin
		);
	});
}

#[test]
fn shares_over_the_whole_are_refused() {
	ExtBuilder::default().build_and_execute(|| {
		let greedy = Schedule {
			validators_share: Perbill::from_percent(60),
			model_owners_share: Perbill::from_percent(41),
			..schedule()
		};
		assert_noop!(
			Emission::set_schedule(RuntimeOrigin::root(), greedy),
			Error::<Test>::SharesExceedWhole
		);
	});
}

#[test]
fn an_epoch_pays_nodes_by_work_validators_equally_and_owners_by_use() {
	ExtBuilder::default().build_and_execute(|| {
		let issued = Balances::total_issuance();
		// Nodes 1 and 2 settle a 300-token request of model A together; node 3 a 100-token one
		// of model B alone: work 300 + 300 + 100 = 700; use A 300, B 100.
		settle(b"model-a", &[1, 2], 300);
		settle(b"model-b", &[3], 100);
		end_epoch();
		pay_all();

		// 10% to the two validators, 20% to owners, 70% (700,000) to nodes by tokens.
		assert_eq!(balance(VAL_1), 50_000);
		assert_eq!(balance(VAL_2), 50_000);
		assert_eq!(balance(operator(1)), 300_000);
		assert_eq!(balance(operator(2)), 300_000);
		assert_eq!(balance(operator(3)), 100_000);
		assert_eq!(balance(OWNER_A), 150_000);
		assert_eq!(balance(OWNER_B), 50_000);
		// Issuance rose by exactly the epoch's emission.
		assert_eq!(Balances::total_issuance(), issued + PER_EPOCH);
		assert!(events().contains(&Event::EpochPaid { epoch: 0, paid: PER_EPOCH, to_treasury: 0 }));
		// The epoch's records are gone.
		assert_eq!(WorkOf::<Test>::iter().count(), 0);
		assert_eq!(Payouts::<Test>::iter().count(), 0);
	});
}

#[test]
fn nothing_is_paid_for_an_epoch_without_verified_work() {
	ExtBuilder::default().build_and_execute(|| {
		let issued = Balances::total_issuance();
		end_epoch();
		pay_all();
		assert!(node_rewards().is_empty());
		// The validators' part is paid; the rest goes to the treasury, so the schedule holds.
		assert_eq!(balance(VAL_1) + balance(VAL_2), 100_000);
		assert_eq!(balance(TREASURY), EXISTENTIAL_DEPOSIT + 900_000);
		assert_eq!(Balances::total_issuance(), issued + PER_EPOCH);
	});
}

#[test]
fn each_epoch_mints_less_by_the_decay() {
	ExtBuilder::default().build_and_execute(|| {
		let issued = Balances::total_issuance();
		let mut closed = Vec::new();
		for _ in 0..3 {
			end_epoch();
			pay_all();
		}
		for e in events() {
			if let Event::EpochClosed { emission, .. } = e {
				closed.push(emission);
			}
		}
		assert_eq!(closed, vec![1_000_000, 900_000, 810_000]);
		assert_eq!(Emission::emission_per_epoch(), 729_000);
		assert_eq!(Balances::total_issuance(), issued + 2_710_000);
	});
}

#[test]
fn a_schedule_change_applies_from_the_open_epoch() {
	ExtBuilder::default().build_and_execute(|| {
		end_epoch();
		assert_ok!(Emission::set_schedule(
			RuntimeOrigin::root(),
			Schedule { per_epoch: 10_000, decay: Perbill::zero(), ..schedule() }
		));
		end_epoch();
		end_epoch();
		pay_all();
		let closed: Vec<_> = events()
			.into_iter()
			.filter_map(|e| match e {
				Event::EpochClosed { epoch, emission, .. } => Some((epoch, emission)),
				_ => None,
			})
			.collect();
		assert_eq!(closed, vec![(0, 1_000_000), (1, 10_000), (2, 10_000)]);
	});
}

#[test]
fn a_node_slashed_in_the_epoch_loses_its_share() {
	ExtBuilder::default().build_and_execute(|| {
		settle(b"model-a", &[1, 2], 500);
		// Node 1 is slashed (a timeout, a lost dispute): its work so far and later in the epoch
		// earns nothing; node 2 takes the whole nodes' part.
		Emission::on_node_slashed(NodeId(1));
		settle(b"model-a", &[1, 2], 500);
		assert_eq!(Emission::expected_node_reward(NodeId(1)), 0);
		assert_eq!(Emission::expected_node_reward(NodeId(2)), 700_000);
		end_epoch();
		pay_all();
		assert_eq!(balance(operator(1)), 0);
		assert_eq!(balance(operator(2)), 700_000);
		assert_eq!(node_rewards(), vec![(2, 700_000)]);
		assert!(events().contains(&Event::WorkForfeited {
			epoch: 0,
			node: NodeId(1),
			tokens: 500
		}));
		// The model's use still counts for its owner.
		assert_eq!(balance(OWNER_A), 200_000);
	});
}

#[test]
fn a_slash_after_the_epoch_closed_does_not_take_its_verified_work() {
	ExtBuilder::default().build_and_execute(|| {
		MaxPayoutsPerBlock::set(1);
		settle(b"model-a", &[1, 2], 100);
		RegistryEpoch::set(1);
		// Closing happens in this block; the slash comes while epoch 0 is still being paid.
		crate::Pallet::<Test>::close_epoch_if_ended();
		Emission::on_node_slashed(NodeId(1));
		pay_all();
		assert_eq!(balance(operator(1)), 350_000);
		assert_eq!(balance(operator(2)), 350_000);
		// The forfeit is of the open epoch, 1.
		assert!(events().contains(&Event::WorkForfeited { epoch: 1, node: NodeId(1), tokens: 0 }));
	});
}

#[test]
fn payouts_are_spread_over_blocks_when_many_earned() {
	ExtBuilder::default().build_and_execute(|| {
		MaxPayoutsPerBlock::set(3);
		let nodes: Vec<u64> = (1..=10).collect();
		settle(b"model-a", &nodes, 70);
		end_epoch();
		// The closing block paid three nodes; each later block three more (then the model owner
		// and the end of the epoch).
		assert_eq!(node_rewards().len(), 3);
		next_block();
		assert_eq!(node_rewards().len(), 6);
		pay_all();
		let rewards = node_rewards();
		assert_eq!(rewards.len(), 10);
		assert!(rewards.iter().all(|(_, amount)| *amount == 70_000));
		assert_eq!(balance(OWNER_A), 200_000);
	});
}

#[test]
fn what_no_one_can_take_goes_to_the_treasury() {
	ExtBuilder::default().build_and_execute(|| {
		let issued = Balances::total_issuance();
		// The gone node's operator is unknown; node 4 earns less than the existential deposit
		// of its empty account; the unknown model has no owner.
		settle(b"model-a", &[GONE_NODE], 100_000);
		settle(b"unknown-model", &[4], 1);
		end_epoch();
		pay_all();
		assert_eq!(balance(operator(4)), 0);
		let treasury = balance(TREASURY) - EXISTENTIAL_DEPOSIT;
		let paid: Balance = [VAL_1, VAL_2, OWNER_A].iter().map(|a| balance(*a)).sum();
		assert_eq!(treasury + paid, PER_EPOCH);
		assert_eq!(Balances::total_issuance(), issued + PER_EPOCH);
	});
}

#[test]
fn work_after_a_close_counts_toward_the_next_epoch() {
	ExtBuilder::default().build_and_execute(|| {
		settle(b"model-a", &[1], 10);
		end_epoch();
		settle(b"model-a", &[2], 10);
		assert_eq!(WorkOf::<Test>::get(1, NodeId(2)).map(|w| w.tokens), Some(10));
		pay_all();
		assert_eq!(balance(operator(1)), 700_000);
		assert_eq!(balance(operator(2)), 0);
		end_epoch();
		pay_all();
		assert_eq!(balance(operator(2)), 630_000);
	});
}

#[test]
fn the_views_show_what_the_open_epoch_would_pay() {
	ExtBuilder::default().build_and_execute(|| {
		settle(b"model-a", &[1, 2], 30);
		settle(b"model-b", &[1], 40);
		// Work: node 1 70, node 2 30 of 100; use: A 30, B 40 of 70.
		assert_eq!(Emission::expected_node_reward(NodeId(1)), 490_000);
		assert_eq!(Emission::expected_node_reward(NodeId(2)), 210_000);
		assert_eq!(Emission::expected_node_reward(NodeId(3)), 0);
		let (used, share, earned) = Emission::model_usage(model(b"model-b"));
		assert_eq!(used, 40);
		assert_eq!(share, 200_000 * 40 / 70);
		assert_eq!(earned, 0);
		end_epoch();
		pay_all();
		// Paid: the owner's earnings for the model so far; the new epoch has no use yet.
		assert_eq!(Emission::model_usage(model(b"model-b")), (0, 0, 200_000 * 40 / 70));
	});
}

#[test]
fn validators_beyond_the_bound_are_not_paid_and_no_validators_leaves_it_to_the_treasury() {
	ExtBuilder::default().build_and_execute(|| {
		SessionValidators::set(vec![]);
		end_epoch();
		pay_all();
		assert!(!events().iter().any(|e| matches!(e, Event::ValidatorsRewarded { .. })));
		assert_eq!(balance(TREASURY), EXISTENTIAL_DEPOSIT + PER_EPOCH);
		SessionValidators::set((60..70).collect());
		end_epoch();
		pay_all();
		// MaxValidators is 4: four of them share the part.
		assert!(events().contains(&Event::ValidatorsRewarded {
			epoch: 1,
			validators: 4,
			each: 90_000 / 4
		}));
		assert_eq!(Balances::balance(&64), 0);
	});
}

#[test]
fn a_chain_without_a_schedule_mints_nothing() {
	ExtBuilder::default().schedule(Schedule::default()).build_and_execute(|| {
		let issued = Balances::total_issuance();
		settle(b"model-a", &[1], 100);
		end_epoch();
		pay_all();
		assert!(node_rewards().is_empty());
		assert_eq!(Balances::total_issuance(), issued);
		assert!(events().contains(&Event::EpochPaid { epoch: 0, paid: 0, to_treasury: 0 }));
	});
}

#[test]
fn added_to_a_running_chain_it_opens_the_registry_epoch() {
	use frame_support::traits::{GetStorageVersion, OnRuntimeUpgrade, StorageVersion};
	ExtBuilder::default().build_and_execute(|| {
		// A chain at registry epoch 7 before the pallet existed.
		StorageVersion::new(0).put::<Emission>();
		crate::OpenEpoch::<Test>::kill();
		crate::PayoutHead::<Test>::kill();
		RegistryEpoch::set(7);
		crate::migrations::InitializeEmission::<Test>::on_runtime_upgrade();
		assert_eq!(crate::OpenEpoch::<Test>::get(), 7);
		assert_eq!(crate::PayoutHead::<Test>::get(), 7);
		assert_eq!(Emission::on_chain_storage_version(), 1);
		// The next block closes nothing: no walk through epochs 0 to 6.
		next_block();
		assert!(events().is_empty());
		// Run again, it changes nothing.
		RegistryEpoch::set(8);
		crate::migrations::InitializeEmission::<Test>::on_runtime_upgrade();
		assert_eq!(crate::OpenEpoch::<Test>::get(), 7);
	});
}

#[test]
fn a_node_earns_no_more_than_the_fees_it_was_paid() {
	ExtBuilder::default().build_and_execute(|| {
		let issued = Balances::total_issuance();
		// A quiet epoch: one request nearly free, to the washer's own node. Without the cap it
		// would draw the whole nodes' part (700,000); it gets its 500 of fees back at most.
		settle_for(b"model-a", &[1], 100, 500);
		assert_eq!(Emission::expected_node_reward(NodeId(1)), 500);
		// Node 2 earned ample fees for the same work: its share, uncapped.
		settle(b"model-a", &[2], 100);
		end_epoch();
		pay_all();
		assert_eq!(balance(operator(1)), 500);
		assert_eq!(balance(operator(2)), 350_000);
		// The capped remainder went to the treasury; the schedule still holds.
		assert_eq!(balance(TREASURY), EXISTENTIAL_DEPOSIT + 350_000 - 500);
		assert_eq!(Balances::total_issuance(), issued + PER_EPOCH);
	});
}

#[test]
fn a_model_owner_earns_no_more_than_its_models_requests_paid() {
	ExtBuilder::default().build_and_execute(|| {
		// The only use of the epoch: one request that paid its node 500. Without the cap the
		// owner would draw the owners' whole part (200,000).
		settle_for(b"model-a", &[1], 100, 500);
		assert_eq!(Emission::model_usage(model(b"model-a")), (100, 500, 0));
		end_epoch();
		pay_all();
		assert_eq!(balance(OWNER_A), 500);
		assert_eq!(Emission::model_usage(model(b"model-a")), (0, 0, 500));
	});
}

#[test]
fn use_without_paid_work_earns_nothing() {
	ExtBuilder::default().build_and_execute(|| {
		let issued = Balances::total_issuance();
		// A settlement whose nodes could not be paid: the model's tokens count, its fees are nil.
		Emission::record_settled_work(&model(b"model-a"), &[], 100);
		end_epoch();
		pay_all();
		assert_eq!(balance(OWNER_A), 0);
		assert!(node_rewards().is_empty());
		assert_eq!(Balances::total_issuance(), issued + PER_EPOCH);
	});
}

#[test]
fn closed_epochs_queue_and_are_paid_in_order() {
	ExtBuilder::default().build_and_execute(|| {
		MaxPayoutsPerBlock::set(1);
		settle(b"model-a", &[1, 2], 10);
		end_epoch();
		settle(b"model-b", &[3], 10);
		// Epoch 1 closes while epoch 0 is still being paid, one step a block.
		end_epoch();
		assert!(Payouts::<Test>::contains_key(0) && Payouts::<Test>::contains_key(1));
		pay_all();
		let paid: Vec<_> = events()
			.into_iter()
			.filter_map(|e| match e {
				Event::EpochPaid { epoch, .. } => Some(epoch),
				_ => None,
			})
			.collect();
		assert_eq!(paid, vec![0, 1]);
		assert_eq!(balance(operator(1)), 350_000);
		assert_eq!(balance(operator(3)), 630_000);
		assert_eq!(balance(OWNER_A), 200_000);
		assert_eq!(balance(OWNER_B), 180_000);
	});
}

#[test]
fn spare_block_weight_pays_a_backlog() {
	use frame_support::{
		traits::{Get, Hooks},
		weights::Weight,
	};
	ExtBuilder::default().build_and_execute(|| {
		MaxPayoutsPerBlock::set(1);
		let nodes: Vec<u64> = (1..=10).collect();
		settle(b"model-a", &nodes, 70);
		end_epoch();
		assert_eq!(node_rewards().len(), 1);
		// The rest of the block is free: `on_idle` pays the backlog with it.
		Emission::on_idle(System::block_number(), Weight::MAX);
		assert_eq!(node_rewards().len(), 10);
		assert!(events().iter().any(|e| matches!(e, Event::EpochPaid { epoch: 0, .. })));
		// With nothing left, an idle block only looks.
		let weight = Emission::on_idle(System::block_number(), Weight::MAX);
		let db: frame_support::weights::RuntimeDbWeight =
			<<Test as frame_system::Config>::DbWeight as Get<_>>::get();
		assert_eq!(weight, db.reads(2));
		// Without spare weight, it pays nothing.
		settle(b"model-a", &nodes, 70);
		end_epoch();
		let before = node_rewards().len();
		Emission::on_idle(System::block_number(), Weight::zero());
		assert_eq!(node_rewards().len(), before);
	});
}
