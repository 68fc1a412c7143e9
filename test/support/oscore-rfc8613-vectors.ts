/**
 * RFC 8613 Appendix C test vectors, copied from the RFC text (hex as printed, line breaks joined).
 * Shared by the unit tests and, later, interop tests and benchmarks.
 */
const h = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex');

export const MASTER_SECRET = h('0102030405060708090a0b0c0d0e0f10');
export const MASTER_SALT = h('9e7ca92223786340');
export const ID_CONTEXT = h('37cbf3210017a2d3');

export interface KeyVector {
  name: string;
  masterSalt?: Buffer;
  idContext?: Buffer;
  senderId: Buffer;
  recipientId: Buffer;
  infoSenderKey: Buffer;
  infoRecipientKey: Buffer;
  infoCommonIv: Buffer;
  senderKey: Buffer;
  recipientKey: Buffer;
  commonIv: Buffer;
  /** Nonces for Partial IV 0 (RFC: "both for sender and recipient"). */
  senderNonce: Buffer;
  recipientNonce: Buffer;
}

export const KEY_VECTORS: KeyVector[] = [
  {
    name: 'C.1.1 client, with Master Salt',
    masterSalt: MASTER_SALT,
    senderId: h(''),
    recipientId: h('01'),
    infoSenderKey: h('8540f60a634b657910'),
    infoRecipientKey: h('854101f60a634b657910'),
    infoCommonIv: h('8540f60a6249560d'),
    senderKey: h('f0910ed7295e6ad4b54fc793154302ff'),
    recipientKey: h('ffb14e093c94c9cac9471648b4f98710'),
    commonIv: h('4622d4dd6d944168eefb54987c'),
    senderNonce: h('4622d4dd6d944168eefb54987c'),
    recipientNonce: h('4722d4dd6d944169eefb54987c'),
  },
  {
    name: 'C.1.2 server, with Master Salt',
    masterSalt: MASTER_SALT,
    senderId: h('01'),
    recipientId: h(''),
    infoSenderKey: h('854101f60a634b657910'),
    infoRecipientKey: h('8540f60a634b657910'),
    infoCommonIv: h('8540f60a6249560d'),
    senderKey: h('ffb14e093c94c9cac9471648b4f98710'),
    recipientKey: h('f0910ed7295e6ad4b54fc793154302ff'),
    commonIv: h('4622d4dd6d944168eefb54987c'),
    senderNonce: h('4722d4dd6d944169eefb54987c'),
    recipientNonce: h('4622d4dd6d944168eefb54987c'),
  },
  {
    name: 'C.2.1 client, without Master Salt',
    senderId: h('00'),
    recipientId: h('01'),
    infoSenderKey: h('854100f60a634b657910'),
    infoRecipientKey: h('854101f60a634b657910'),
    infoCommonIv: h('8540f60a6249560d'),
    senderKey: h('321b26943253c7ffb6003b0b64d74041'),
    recipientKey: h('e57b5635815177cd679ab4bcec9d7dda'),
    commonIv: h('be35ae297d2dace910c52e99f9'),
    senderNonce: h('bf35ae297d2dace910c52e99f9'),
    recipientNonce: h('bf35ae297d2dace810c52e99f9'),
  },
  {
    name: 'C.2.2 server, without Master Salt',
    senderId: h('01'),
    recipientId: h('00'),
    infoSenderKey: h('854101f60a634b657910'),
    infoRecipientKey: h('854100f60a634b657910'),
    infoCommonIv: h('8540f60a6249560d'),
    senderKey: h('e57b5635815177cd679ab4bcec9d7dda'),
    recipientKey: h('321b26943253c7ffb6003b0b64d74041'),
    commonIv: h('be35ae297d2dace910c52e99f9'),
    senderNonce: h('bf35ae297d2dace810c52e99f9'),
    recipientNonce: h('bf35ae297d2dace910c52e99f9'),
  },
  {
    name: 'C.3.1 client, with ID Context',
    masterSalt: MASTER_SALT,
    idContext: ID_CONTEXT,
    senderId: h(''),
    recipientId: h('01'),
    infoSenderKey: h('85404837cbf3210017a2d30a634b657910'),
    infoRecipientKey: h('8541014837cbf3210017a2d30a634b657910'),
    infoCommonIv: h('85404837cbf3210017a2d30a6249560d'),
    senderKey: h('af2a1300a5e95788b356336eeecd2b92'),
    recipientKey: h('e39a0c7c77b43f03b4b39ab9a268699f'),
    commonIv: h('2ca58fb85ff1b81c0b7181b85e'),
    senderNonce: h('2ca58fb85ff1b81c0b7181b85e'),
    recipientNonce: h('2da58fb85ff1b81d0b7181b85e'),
  },
  {
    name: 'C.3.2 server, with ID Context',
    masterSalt: MASTER_SALT,
    idContext: ID_CONTEXT,
    senderId: h('01'),
    recipientId: h(''),
    infoSenderKey: h('8541014837cbf3210017a2d30a634b657910'),
    infoRecipientKey: h('85404837cbf3210017a2d30a634b657910'),
    infoCommonIv: h('85404837cbf3210017a2d30a6249560d'),
    senderKey: h('e39a0c7c77b43f03b4b39ab9a268699f'),
    recipientKey: h('af2a1300a5e95788b356336eeecd2b92'),
    commonIv: h('2ca58fb85ff1b81c0b7181b85e'),
    senderNonce: h('2da58fb85ff1b81d0b7181b85e'),
    recipientNonce: h('2ca58fb85ff1b81c0b7181b85e'),
  },
];

export interface RequestVector {
  name: string;
  /** Which key vector's client context protects it. */
  context: string;
  senderSequenceNumber: number;
  unprotected: Buffer;
  partialIv: Buffer;
  kid: Buffer;
  kidContext?: Buffer;
  aadArray: Buffer;
  aad: Buffer;
  plaintext: Buffer;
  nonce: Buffer;
  optionValue: Buffer;
  ciphertext: Buffer;
  protected: Buffer;
}

export const REQUEST_VECTORS: RequestVector[] = [
  {
    name: 'C.4 request, client (C.1 context)',
    context: 'C.1.1 client, with Master Salt',
    senderSequenceNumber: 20,
    unprotected: h('44015d1f00003974396c6f63616c686f737483747631'),
    partialIv: h('14'),
    kid: h(''),
    aadArray: h('8501810a40411440'),
    aad: h('8368456e63727970743040488501810a40411440'),
    plaintext: h('01b3747631'),
    nonce: h('4622d4dd6d944168eefb549868'),
    optionValue: h('0914'),
    ciphertext: h('612f1092f1776f1c1668b3825e'),
    protected: h('44025d1f00003974396c6f6 3616c686f7374620914ff612f1092f1776f1c1668b3825e'),
  },
  {
    name: 'C.5 request, client (C.2 context)',
    context: 'C.2.1 client, without Master Salt',
    senderSequenceNumber: 20,
    unprotected: h('440171c30000b932396c6f63616c686f737483747631'),
    partialIv: h('14'),
    kid: h('00'),
    aadArray: h('8501810a4100411440'),
    aad: h('8368456e63727970743040498501810a4100411440'),
    plaintext: h('01b3747631'),
    nonce: h('bf35ae297d2dace910c52e99ed'),
    optionValue: h('091400'),
    ciphertext: h('4ed339a5a379b0b8bc731fffb0'),
    protected: h('440271c30000b932396c6f6 3616c686f737463091400ff4ed339a5a379b0b8bc731fffb0'),
  },
  {
    name: 'C.6 request with kid context, client (C.3 context)',
    context: 'C.3.1 client, with ID Context',
    senderSequenceNumber: 20,
    unprotected: h('44012f8eef9bbf7a396c6f63616c686f737483747631'),
    partialIv: h('14'),
    kid: h(''),
    kidContext: ID_CONTEXT,
    aadArray: h('8501810a40411440'),
    aad: h('8368456e63727970743040488501810a40411440'),
    plaintext: h('01b3747631'),
    nonce: h('2ca58fb85ff1b81c0b7181b84a'),
    optionValue: h('19140837cbf3210017a2d3'),
    ciphertext: h('72cd7273fd331ac45cffbe55c3'),
    protected: h('44022f8eef9bbf7a396c6f63616c686f73746b19140837cbf3210017a2d3ff 72cd7273fd331ac45cffbe55c3'),
  },
];

export interface ResponseVector {
  name: string;
  senderSequenceNumber: number;
  unprotected: Buffer;
  partialIv?: Buffer;
  aadArray: Buffer;
  aad: Buffer;
  plaintext: Buffer;
  nonce: Buffer;
  optionValue: Buffer;
  ciphertext: Buffer;
  protected: Buffer;
}

/** Both answer the C.4 request, protected by the C.1.2 server context. */
export const RESPONSE_VECTORS: ResponseVector[] = [
  {
    name: 'C.7 response without Partial IV, server',
    senderSequenceNumber: 0,
    unprotected: h('64455d1f00003974ff48656c6c6f20576f726c6421'),
    aadArray: h('8501810a40411440'),
    aad: h('8368456e63727970743040488501810a40411440'),
    plaintext: h('45ff48656c6c6f20576f726c6421'),
    nonce: h('4622d4dd6d944168eefb549868'),
    optionValue: h(''),
    ciphertext: h('dbaad1e9a7e7b2a813d3c31524378303cdafae119106'),
    protected: h('64445d1f0000397490ffdbaad1e9a7e7b2a813d3c31524378303cdafae119106'),
  },
  {
    name: 'C.8 response with Partial IV, server',
    senderSequenceNumber: 0,
    unprotected: h('64455d1f00003974ff48656c6c6f20576f726c6421'),
    partialIv: h('00'),
    aadArray: h('8501810a40411440'),
    aad: h('8368456e63727970743040488501810a40411440'),
    plaintext: h('45ff48656c6c6f20576f726c6421'),
    nonce: h('4722d4dd6d944169eefb54987c'),
    optionValue: h('0100'),
    ciphertext: h('4d4c13669384b67354b2b6175ff4b8658c666a6cf88e'),
    protected: h('64445d1f00003974920100 ff4d4c13669384b67354b2b6175ff4b8658c666a6cf88e'),
  },
];

/** §5.4 example AAD and §6.3 compression examples. */
export const AAD_EXAMPLE = {
  requestKid: h('00'),
  requestPiv: h('25'),
  aadArray: h('8501810a4100412540'),
  aad: h('8368456e63727970743040498501810a4100412540'),
};

export const COMPRESSION_EXAMPLES = [
  { name: '§6.3 example 1', value: { kid: h('25'), partialIv: h('05') }, option: h('090525') },
  { name: '§6.3 example 2', value: { kid: h(''), partialIv: h('00') }, option: h('0900') },
  { name: '§6.3 example 3', value: { kid: h(''), partialIv: h('05'), kidContext: h('44616c656b') }, option: h('19050544616c656b') },
  { name: '§6.3 example 4', value: {}, option: h('') },
  { name: '§6.3 example 5', value: { partialIv: h('07') }, option: h('0107') },
];
