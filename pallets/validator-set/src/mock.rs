//! A test runtime: System, Balances, the real session and historical session pallets (sessions
//! of `SESSION_LENGTH` blocks, the session pallet's up-to-a-third disabling strategy) and this
//! pallet as their session manager. Validators 1 to 4 are in the genesis set; accounts up to
//! 9 are endowed, and `with_keys` gives one session keys.

use codec::Encode;
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU32, ConstU64},
};
use frame_system::EnsureRoot;
use sp_runtime::{
	impl_opaque_keys, testing::UintAuthorityId, traits::ConvertInto, BuildStorage, RuntimeAppPublic,
};

use crate as pallet_validator_set;

type Block = frame_system::mocking::MockBlock<Test>;
pub type AccountId = u64;

#[frame_support::runtime]
mod runtime {
	#[runtime::runtime]
	#[runtime::derive(
		RuntimeCall,
		RuntimeEvent,
		RuntimeError,
		RuntimeOrigin,
		RuntimeFreezeReason,
		RuntimeHoldReason,
		RuntimeSlashReason,
		RuntimeLockId,
		RuntimeTask,
		RuntimeViewFunction
	)]
	pub struct Test;

	#[runtime::pallet_index(0)]
	pub type System = frame_system::Pallet<Test>;
	#[runtime::pallet_index(1)]
	pub type Balances = pallet_balances::Pallet<Test>;
	#[runtime::pallet_index(2)]
	pub type Session = pallet_session::Pallet<Test>;
	#[runtime::pallet_index(3)]
	pub type ValidatorSet = pallet_validator_set::Pallet<Test>;
	#[runtime::pallet_index(4)]
	pub type Historical = pallet_session::historical::Pallet<Test>;
}

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<u64>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
	type ExistentialDeposit = ConstU64<1>;
}

impl_opaque_keys! {
	pub struct MockSessionKeys {
		pub dummy: UintAuthorityId,
	}
}

pub const SESSION_LENGTH: u64 = 5;

parameter_types! {
	pub const Period: u64 = SESSION_LENGTH;
	pub const Offset: u64 = 0;
}

impl pallet_session::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type ValidatorId = AccountId;
	type ValidatorIdOf = ConvertInto;
	type ShouldEndSession = pallet_session::PeriodicSessions<Period, Offset>;
	type NextSessionRotation = pallet_session::PeriodicSessions<Period, Offset>;
	type SessionManager = pallet_session::historical::NoteHistoricalRoot<Test, ValidatorSet>;
	type SessionHandler = pallet_session::TestSessionHandler;
	type Keys = MockSessionKeys;
	type DisablingStrategy = pallet_session::disabling::UpToLimitDisablingStrategy;
	type WeightInfo = ();
	type Currency = Balances;
	type KeyDeposit = ConstU64<1>;
}

impl pallet_session::historical::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type FullIdentification = ();
	type FullIdentificationOf = crate::UnitIdentification;
}

pub const MIN_VALIDATORS: u32 = 2;
pub const MAX_VALIDATORS: u32 = 6;
pub const HISTORY_DEPTH: u32 = 3;

impl pallet_validator_set::Config for Test {
	type ManagerOrigin = EnsureRoot<AccountId>;
	type MinValidators = ConstU32<MIN_VALIDATORS>;
	type MaxValidators = ConstU32<MAX_VALIDATORS>;
	type HistoryDepth = ConstU32<HISTORY_DEPTH>;
	type WeightInfo = ();
}

pub const GENESIS_VALIDATORS: [AccountId; 4] = [1, 2, 3, 4];

fn keys_of(who: AccountId) -> MockSessionKeys {
	MockSessionKeys { dummy: UintAuthorityId(who) }
}

/// Give `who` session keys, as its operator would with `session.setKeys` (with the key's proof
/// of possession for the account).
pub fn with_keys(who: AccountId) {
	let mut key = UintAuthorityId(who);
	let proof = key.generate_proof_of_possession(&who.encode()).map(|p| p.encode());
	let proof = proof.unwrap_or_default();
	frame_support::assert_ok!(Session::set_keys(RuntimeOrigin::signed(who), keys_of(who), proof));
}

pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: (1..=9).map(|who| (who, 100)).collect(),
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	pallet_session::GenesisConfig::<Test> {
		keys: GENESIS_VALIDATORS.iter().map(|&v| (v, v, keys_of(v))).collect(),
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	pallet_validator_set::GenesisConfig::<Test>::default()
		.assimilate_storage(&mut storage)
		.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Run blocks until session `index` has started.
pub fn run_to_session(index: u32) {
	let block = u64::from(index) * SESSION_LENGTH;
	if System::block_number() < block {
		System::run_to_block::<AllPalletsWithSystem>(block);
	}
	assert_eq!(Session::current_index(), index);
}
