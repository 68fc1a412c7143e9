import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  aadArray,
  buildAad,
  buildNonce,
  decodeOscoreOption,
  decodeUdpFrame,
  deriveContext,
  encodeOscoreOption,
  encodePartialIv,
  encodePlaintext,
  encodeUdpFrame,
  findOption,
  hkdfInfo,
  MemorySequenceStorage,
  OPTION,
  SecurityContext,
  splitOptions,
  type CoapUdpFrame,
} from '../../lib/oscore';
import {
  AAD_EXAMPLE,
  COMPRESSION_EXAMPLES,
  KEY_VECTORS,
  MASTER_SECRET,
  REQUEST_VECTORS,
  RESPONSE_VECTORS,
  type KeyVector,
} from '../support/oscore-rfc8613-vectors';

const hex = (b: Buffer): string => b.toString('hex');

function keyVector(name: string): KeyVector {
  const found = KEY_VECTORS.find((v) => v.name === name);
  assert.ok(found, name);
  return found;
}

function contextFor(v: KeyVector, storage = new MemorySequenceStorage()): SecurityContext {
  return new SecurityContext({
    masterSecret: MASTER_SECRET,
    masterSalt: v.masterSalt,
    idContext: v.idContext,
    senderId: v.senderId,
    recipientId: v.recipientId,
    storage,
  });
}

function withMessage(frame: CoapUdpFrame, message: CoapUdpFrame['message']): Buffer {
  return encodeUdpFrame({ ...frame, message });
}

test('vector bytes have the lengths the RFC prints (guards the transcription)', () => {
  assert.deepEqual(REQUEST_VECTORS.map((v) => [v.unprotected.length, v.protected.length, v.ciphertext.length]), [[22, 35, 13], [22, 36, 13], [22, 44, 13]]);
  assert.deepEqual(RESPONSE_VECTORS.map((v) => [v.unprotected.length, v.protected.length, v.ciphertext.length]), [[21, 32, 22], [21, 34, 22]]);
  for (const v of KEY_VECTORS) assert.deepEqual([v.senderKey.length, v.recipientKey.length, v.commonIv.length], [16, 16, 13], v.name);
});

for (const v of KEY_VECTORS) {
  test(`RFC 8613 ${v.name}: info, keys, Common IV and nonces byte for byte`, () => {
    const keyLength = 16;
    assert.equal(hex(hkdfInfo(v.senderId, v.idContext, 10, 'Key', keyLength)), hex(v.infoSenderKey));
    assert.equal(hex(hkdfInfo(v.recipientId, v.idContext, 10, 'Key', keyLength)), hex(v.infoRecipientKey));
    assert.equal(hex(hkdfInfo(Buffer.alloc(0), v.idContext, 10, 'IV', 13)), hex(v.infoCommonIv));
    const ctx = deriveContext({ masterSecret: MASTER_SECRET, masterSalt: v.masterSalt, idContext: v.idContext, senderId: v.senderId, recipientId: v.recipientId, alg: 10 });
    assert.equal(hex(ctx.senderKey), hex(v.senderKey));
    assert.equal(hex(ctx.recipientKey), hex(v.recipientKey));
    assert.equal(hex(ctx.commonIv), hex(v.commonIv));
    const piv0 = encodePartialIv(0);
    assert.equal(hex(piv0), '00');
    assert.equal(hex(buildNonce(ctx.commonIv, ctx.senderId, piv0)), hex(v.senderNonce));
    assert.equal(hex(buildNonce(ctx.commonIv, ctx.recipientId, piv0)), hex(v.recipientNonce));
  });
}

test('RFC 8613 §5.4 AAD example byte for byte', () => {
  assert.equal(hex(aadArray(10, AAD_EXAMPLE.requestKid, AAD_EXAMPLE.requestPiv)), hex(AAD_EXAMPLE.aadArray));
  assert.equal(hex(buildAad(10, AAD_EXAMPLE.requestKid, AAD_EXAMPLE.requestPiv)), hex(AAD_EXAMPLE.aad));
});

for (const example of COMPRESSION_EXAMPLES) {
  test(`RFC 8613 ${example.name}: OSCORE option value encodes and decodes`, () => {
    assert.equal(hex(encodeOscoreOption(example.value)), hex(example.option));
    const decoded = decodeOscoreOption(example.option);
    assert.deepEqual(
      { kid: decoded.kid && hex(decoded.kid), partialIv: decoded.partialIv && hex(decoded.partialIv), kidContext: decoded.kidContext && hex(decoded.kidContext) },
      {
        kid: example.value.kid && hex(example.value.kid),
        partialIv: example.value.partialIv && hex(example.value.partialIv),
        kidContext: 'kidContext' in example.value && example.value.kidContext ? hex(example.value.kidContext) : undefined,
      },
    );
  });
}

const SERVER_OF: Record<string, string> = {
  'C.1.1 client, with Master Salt': 'C.1.2 server, with Master Salt',
  'C.2.1 client, without Master Salt': 'C.2.2 server, without Master Salt',
  'C.3.1 client, with ID Context': 'C.3.2 server, with ID Context',
};

for (const v of REQUEST_VECTORS) {
  test(`RFC 8613 ${v.name}: AAD, plaintext, nonce, option, ciphertext and whole message byte for byte`, () => {
    const kv = keyVector(v.context);
    const frame = decodeUdpFrame(v.unprotected);
    assert.equal(hex(encodeUdpFrame(frame)), hex(v.unprotected), 'frame codec round-trips the unprotected request');
    assert.equal(hex(aadArray(10, v.kid, v.partialIv)), hex(v.aadArray));
    assert.equal(hex(buildAad(10, v.kid, v.partialIv)), hex(v.aad));
    assert.equal(hex(encodePartialIv(v.senderSequenceNumber)), hex(v.partialIv));
    assert.equal(hex(buildNonce(kv.commonIv, kv.senderId, v.partialIv)), hex(v.nonce));
    const { inner } = splitOptions(frame.message.options, false);
    assert.equal(hex(encodePlaintext(frame.message.code, inner, frame.message.payload)), hex(v.plaintext));

    const client = contextFor(kv, new MemorySequenceStorage(v.senderSequenceNumber));
    const { message } = client.protectRequest(frame.message);
    assert.equal(hex(findOption(message.options, OPTION.OSCORE)?.value ?? Buffer.alloc(1)), hex(v.optionValue));
    assert.equal(hex(message.payload), hex(v.ciphertext));
    assert.equal(hex(withMessage(frame, message)), hex(v.protected));

    const server = contextFor(keyVector(SERVER_OF[v.context]));
    const verified = server.verifyRequest(decodeUdpFrame(v.protected).message);
    assert.equal(verified.status, 'verified');
    assert.equal(hex(withMessage(frame, verified.message)), hex(v.unprotected), 'server recovers the original request');
  });
}

for (const v of RESPONSE_VECTORS) {
  test(`RFC 8613 ${v.name}: nonce, option, ciphertext and whole message byte for byte, and the client verifies it`, () => {
    const request = REQUEST_VECTORS[0]; // C.4
    const clientKeys = keyVector('C.1.1 client, with Master Salt');
    const serverKeys = keyVector('C.1.2 server, with Master Salt');
    assert.equal(hex(aadArray(10, request.kid, request.partialIv)), hex(v.aadArray));
    assert.equal(hex(buildAad(10, request.kid, request.partialIv)), hex(v.aad));
    const expectedNonce = v.partialIv ? buildNonce(serverKeys.commonIv, serverKeys.senderId, v.partialIv) : request.nonce;
    assert.equal(hex(expectedNonce), hex(v.nonce));

    const client = contextFor(clientKeys, new MemorySequenceStorage(request.senderSequenceNumber));
    const sent = client.protectRequest(decodeUdpFrame(request.unprotected).message);
    // Sequence number 0 is a first start: nothing stored yet, replay window valid.
    assert.equal(v.senderSequenceNumber, 0);
    const server = contextFor(serverKeys, new MemorySequenceStorage());
    const verified = server.verifyRequest(sent.message);
    assert.equal(verified.status, 'verified');

    const responseFrame = decodeUdpFrame(v.unprotected);
    assert.equal(hex(encodePlaintext(responseFrame.message.code, responseFrame.message.options, responseFrame.message.payload)), hex(v.plaintext));
    const protectedResponse = server.protectResponse(responseFrame.message, verified.exchange, { partialIv: v.partialIv !== undefined });
    assert.equal(hex(findOption(protectedResponse.options, OPTION.OSCORE)?.value ?? Buffer.alloc(1)), hex(v.optionValue));
    assert.equal(hex(protectedResponse.payload), hex(v.ciphertext));
    assert.equal(hex(withMessage(responseFrame, protectedResponse)), hex(v.protected));

    const received = client.verifyResponse(decodeUdpFrame(v.protected).message, sent.exchange);
    assert.equal(hex(withMessage(responseFrame, received.message)), hex(v.unprotected), 'client recovers the original response');
    assert.equal(received.sequenceNumber, v.partialIv ? 0 : undefined);
  });
}
