// @atoma-appchain/client: ask the Atoma appchain for a verified answer with plain `@polkadot/api`.
//
//   import { ApiPromise, WsProvider } from '@polkadot/api';
//   import { Keyring } from '@polkadot/keyring';
//   import { ask, verifyReceipt } from '@atoma-appchain/client';
//
//   const api = await ApiPromise.create({ provider: new WsProvider('ws://127.0.0.1:9944') });
//   const bob = new Keyring({ type: 'sr25519' }).addFromUri('//Bob');
//   const { answer, receipt } = await ask({ api, signer: bob, prompt: 'What is the capital of France?' });
//   console.log(answer.text, (await verifyReceipt(api, receipt)).ok);
export { MODEL, ask, verificationMode } from './request.js';
export { receiptFor, verifyReceipt } from './receipt.js';
export { canonicalOutput, checkDelivered, commitmentRoot, outputCommitment, outputLeaf } from './commitments.js';
export { inputHash, outputReadHeaders, outputReadMessage, readEvents, streamOutput, uploadInput } from './worker.js';
