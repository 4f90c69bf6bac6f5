//! Lets BABE's block import see each block's seal, so that its equivocation reports are valid.
//!
//! BABE's verifier moves a block's seal out of the header (into `post_digests`) before the
//! import pipeline runs, and on the stable2609 line (`sc-consensus-babe` 0.60) BABE looks for
//! equivocations during import, where it only has the unsealed header. It keeps those headers per
//! slot and, when an author signs two blocks for one slot, builds the equivocation proof from
//! them; the runtime checks the seals of both headers (`check_equivocation_proof`), finds none,
//! and rejects every report with `InvalidEquivocationProof`. A validator that authors two blocks
//! for one slot would never be punished.
//!
//! The fix wraps BABE's import on both sides: [`SealedForBabe`] puts the seal back into the header
//! just for BABE, and [`UnsealedAfterBabe`], which BABE hands the block to, takes it out again, so
//! the client executes the pre-header as the runtime built it. The header BABE reads is the one
//! the author signed, the block hash is unchanged (the post-header is the same digests in the same
//! order), and nothing else in the pipeline sees a difference.

use sc_consensus::{BlockCheckParams, BlockImport, BlockImportParams, ImportResult};
use sp_consensus_babe::digests::CompatibleDigestItem;
use sp_runtime::traits::{Block as BlockT, Header as HeaderT};

/// Marks a block whose seal [`SealedForBabe`] moved into the header, for [`UnsealedAfterBabe`]
/// to move back (and nothing else: a header that arrived with its seal keeps it).
const RESEALED: &[u8] = b"atoma_babe_seal_in_header";

/// The outer half: moves the BABE seal from `post_digests` back to the end of the header.
#[derive(Clone)]
pub struct SealedForBabe<I>(pub I);

/// The inner half: moves the seal that [`SealedForBabe`] put in the header back to
/// `post_digests`, before GRANDPA and the client import the block.
#[derive(Clone)]
pub struct UnsealedAfterBabe<I>(pub I);

/// Moves a trailing BABE seal from `post_digests` into the header, marking the block.
fn seal_header<B: BlockT>(block: &mut BlockImportParams<B>) {
	let is_babe_seal = |item: &sp_runtime::DigestItem| item.as_babe_seal().is_some();
	// Only the verifier's shape: exactly one post-digest, BABE's seal, and an unsealed header.
	if block.post_digests.len() != 1
		|| !block.post_digests.last().is_some_and(is_babe_seal)
		|| block.header.digest().logs().last().is_some_and(is_babe_seal)
	{
		return;
	}
	if let Some(seal) = block.post_digests.pop() {
		block.header.digest_mut().push(seal);
		block.insert_intermediate(RESEALED, ());
	}
}

/// Undoes [`seal_header`] on a block it changed.
fn unseal_header<B: BlockT>(block: &mut BlockImportParams<B>) {
	if block.remove_intermediate::<()>(RESEALED).is_err() {
		return;
	}
	if let Some(seal) = block.header.digest_mut().pop() {
		block.post_digests.push(seal);
	}
}

#[async_trait::async_trait]
impl<B: BlockT, I: BlockImport<B> + Send + Sync> BlockImport<B> for SealedForBabe<I> {
	type Error = I::Error;

	async fn check_block(&self, block: BlockCheckParams<B>) -> Result<ImportResult, Self::Error> {
		self.0.check_block(block).await
	}

	async fn import_block(
		&self,
		mut block: BlockImportParams<B>,
	) -> Result<ImportResult, Self::Error> {
		seal_header(&mut block);
		self.0.import_block(block).await
	}
}

#[async_trait::async_trait]
impl<B: BlockT, I: BlockImport<B> + Send + Sync> BlockImport<B> for UnsealedAfterBabe<I> {
	type Error = I::Error;

	async fn check_block(&self, block: BlockCheckParams<B>) -> Result<ImportResult, Self::Error> {
		self.0.check_block(block).await
	}

	async fn import_block(
		&self,
		mut block: BlockImportParams<B>,
	) -> Result<ImportResult, Self::Error> {
		unseal_header(&mut block);
		self.0.import_block(block).await
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use atoma_runtime::{opaque::Block, Header};
	use sp_consensus::BlockOrigin;
	use sp_consensus_babe::{digests::PreDigest, AuthoritySignature};
	use sp_runtime::{Digest, DigestItem};

	fn header_with(logs: Vec<DigestItem>) -> Header {
		Header::new(7, Default::default(), Default::default(), Default::default(), Digest { logs })
	}

	fn pre_digest() -> DigestItem {
		let secondary = sp_consensus_babe::digests::SecondaryPlainPreDigest {
			authority_index: 2,
			slot: 99.into(),
		};
		<DigestItem as CompatibleDigestItem>::babe_pre_digest(PreDigest::SecondaryPlain(secondary))
	}

	fn seal() -> DigestItem {
		<DigestItem as CompatibleDigestItem>::babe_seal(
			AuthoritySignature::try_from(vec![7u8; 64].as_slice()).expect("64 bytes"),
		)
	}

	/// What BABE's verifier hands to the import pipeline: the pre-header and the seal apart.
	fn verified_block() -> BlockImportParams<Block> {
		let mut block =
			BlockImportParams::new(BlockOrigin::NetworkBroadcast, header_with(vec![pre_digest()]));
		block.post_digests.push(seal());
		block
	}

	#[test]
	fn babe_sees_the_signed_header_and_the_client_the_pre_header() {
		let mut block = verified_block();
		let signed = header_with(vec![pre_digest(), seal()]);
		let hash = block.post_hash();
		assert_eq!(hash, signed.hash());

		seal_header(&mut block);
		// What BABE's equivocation check reads: the header as signed, seal included.
		assert_eq!(block.header, signed);
		assert!(block.post_digests.is_empty());
		assert_eq!(block.post_hash(), hash);

		unseal_header(&mut block);
		assert_eq!(block.header, header_with(vec![pre_digest()]));
		assert_eq!(block.post_digests, vec![seal()]);
		assert_eq!(block.post_hash(), hash);
		// The mark is gone: the client refuses blocks with intermediates left over.
		assert!(block.intermediates.is_empty());
	}

	#[test]
	fn a_block_not_shaped_by_the_verifier_passes_through_unchanged() {
		// A header that arrives with its seal still on (state or warp sync): not touched, and
		// the inner half does not strip a seal it did not add.
		let sealed = header_with(vec![pre_digest(), seal()]);
		let mut block = BlockImportParams::<Block>::new(BlockOrigin::WarpSync, sealed.clone());
		seal_header(&mut block);
		unseal_header(&mut block);
		assert_eq!(block.header, sealed);
		assert!(block.post_digests.is_empty());

		// A post-digest that is not BABE's seal stays where it is.
		let mut block = verified_block();
		block.post_digests = vec![DigestItem::Seal(*b"othr", vec![1, 2, 3])];
		seal_header(&mut block);
		assert_eq!(block.header, header_with(vec![pre_digest()]));
		assert_eq!(block.post_digests.len(), 1);
		assert!(block.intermediates.is_empty());
	}
}
