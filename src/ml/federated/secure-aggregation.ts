import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  randomBytes,
} from 'node:crypto';
import { MlInputError } from '../errors.js';

/**
 * Secure aggregation (Bonawitz et al., CCS 2017, "Practical Secure Aggregation for
 * Privacy-Preserving Machine Learning"), the semi-honest-server variant: the server learns the sum
 * of the clients' vectors and nothing else, and the sum is still recovered when clients drop out
 * after sharing their keys, as long as `threshold` of them answer the last step.
 *
 * Four steps per round, every message plain data (the server only relays and sums):
 *   1. advertise: each client publishes two X25519 public keys (one to encrypt shares, one to mask);
 *   2. share: each client Shamir-splits its masking secret key and a fresh self-mask seed into
 *      shares for every other client, each share pair encrypted to its recipient (AES-256-GCM);
 *   3. mask: each client sends x + PRG(b_u) + Σ_{v>u} PRG(s_uv) − Σ_{v<u} PRG(s_uv) in ℤ/2³²;
 *   4. unmask: survivors reveal, for each peer, either its self-mask share (peer sent its input)
 *      or its secret-key share (peer dropped) — never both — and the server removes the masks.
 *
 * Vectors are fixed-point in ℤ/2³²: the caller keeps |Σ values| · 2^scaleBits below 2³¹ (clip
 * first). The library does not wire this into the control plane: see docs/federated.md.
 */
export interface SecAggConfig {
  /** Values in the vector (the last one can carry an integer such as the example count). */
  length: number;
  /** Fewest clients whose answers recover the sum; at least 2, at most the number of clients. */
  threshold: number;
  /** Fixed-point fraction bits (default 16). */
  scaleBits?: number;
}

export interface AdvertisedKeys {
  id: number;
  /** X25519 public keys, base64url (raw 32 bytes). */
  cipherKey: string;
  maskKey: string;
}

export interface EncryptedShares {
  from: number;
  to: number;
  /** iv | tag | ciphertext, base64url. */
  box: string;
}

export interface MaskedInput {
  id: number;
  values: Uint32Array;
}

export interface UnmaskResponse {
  from: number;
  /** Shares of dropped clients' mask secret keys. */
  keyShares: Array<{ of: number; share: string }>;
  /** Shares of surviving clients' self-mask seeds. */
  seedShares: Array<{ of: number; share: string }>;
}

// ---- Shamir secret sharing of 32-byte secrets over GF(2¹²⁷ − 1), in four 8-byte chunks ----------

const P = (1n << 127n) - 1n;
const mod = (a: bigint): bigint => ((a % P) + P) % P;

function modPow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}

function randomField(): bigint {
  return mod(BigInt(`0x${randomBytes(16).toString('hex')}`));
}

function chunks(secret: Uint8Array): bigint[] {
  return [0, 8, 16, 24].map((at) => BigInt(`0x${Buffer.from(secret.subarray(at, at + 8)).toString('hex')}`));
}

/** Shares of a 32-byte secret for parties 1..n; any `threshold` of them rebuild it. */
export function shamirSplit(secret: Uint8Array, n: number, threshold: number): string[] {
  const coefficients = chunks(secret).map((c) => [c, ...Array.from({ length: threshold - 1 }, randomField)]);
  return Array.from({ length: n }, (_, k) => {
    const x = BigInt(k + 1);
    const ys = coefficients.map((poly) => poly.reduceRight((acc, c) => mod(acc * x + c), 0n));
    return `${k + 1}:${ys.map((y) => y.toString(16)).join('.')}`;
  });
}

export function shamirCombine(shares: readonly string[]): Uint8Array {
  const points = shares.map((s) => {
    const [x, ys] = s.split(':');
    return { x: BigInt(x!), ys: ys!.split('.').map((y) => BigInt(`0x${y}`)) };
  });
  const out = new Uint8Array(32);
  for (let c = 0; c < 4; c++) {
    let secret = 0n;
    for (const [i, pi] of points.entries()) {
      let num = 1n;
      let den = 1n;
      for (const [j, pj] of points.entries()) {
        if (i === j) continue;
        num = mod(num * -pj.x);
        den = mod(den * (pi.x - pj.x));
      }
      secret = mod(secret + pi.ys[c]! * num * modPow(den, P - 2n));
    }
    // Too few shares give a random field element: keep 64 bits so the result is still 32 bytes (and wrong).
    out.set(Buffer.from((secret & ((1n << 64n) - 1n)).toString(16).padStart(16, '0'), 'hex'), c * 8);
  }
  return out;
}

// ---- keys, key agreement, PRG ------------------------------------------------------------------

interface KeyPair {
  d: string;
  x: string;
}

function newKeyPair(): KeyPair {
  const { privateKey } = generateKeyPairSync('x25519');
  const jwk = privateKey.export({ format: 'jwk' });
  return { d: jwk.d!, x: jwk.x! };
}

function agree(mine: KeyPair, theirPublic: string, label: string): Buffer {
  const shared = diffieHellman({
    privateKey: createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: mine.d, x: mine.x }, format: 'jwk' }),
    publicKey: createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: theirPublic }, format: 'jwk' }),
  });
  return createHash('sha256').update(label).update(shared).digest();
}

/** `length` pseudo-random uint32 from a 32-byte seed (AES-256-CTR keystream). */
export function prg(seed: Uint8Array, length: number): Uint32Array {
  const cipher = createCipheriv('aes-256-ctr', seed, Buffer.alloc(16));
  const bytes = cipher.update(Buffer.alloc(length * 4));
  return new Uint32Array(bytes.buffer, bytes.byteOffset, length).slice();
}

function addInto(target: Uint32Array, mask: Uint32Array, sign: 1 | -1): void {
  for (let i = 0; i < target.length; i++) target[i] = (target[i]! + sign * mask[i]!) >>> 0;
}

/** Fixed-point encoding of a float vector into ℤ/2³² (two's complement). */
export function toRing(values: ArrayLike<number>, scaleBits = 16): Uint32Array {
  const scale = 2 ** scaleBits;
  return Uint32Array.from({ length: values.length }, (_, i) => Math.round(values[i]! * scale) >>> 0);
}

export function fromRing(values: Uint32Array, scaleBits = 16): Float64Array {
  const scale = 2 ** scaleBits;
  return Float64Array.from(values, (v) => (v | 0) / scale);
}

function checkConfig(config: SecAggConfig, clients: number): void {
  if (!(Number.isInteger(config.threshold) && config.threshold >= 2 && config.threshold <= clients)) {
    throw new MlInputError('bad-parameter', `The threshold must be an integer from 2 to the ${clients} clients (got ${config.threshold}).`);
  }
}

// ---- the client --------------------------------------------------------------------------------

/** One client's side of a round. Its state (keys, seeds) never leaves it except as the protocol says. */
export class SecAggClient {
  private readonly cipherKeys = newKeyPair();
  private readonly maskKeys = newKeyPair();
  private readonly seed = randomBytes(32);
  private roster: AdvertisedKeys[] = [];

  constructor(
    readonly id: number,
    private readonly config: SecAggConfig,
  ) {}

  advertise(): AdvertisedKeys {
    return { id: this.id, cipherKey: this.cipherKeys.x, maskKey: this.maskKeys.x };
  }

  /** Step 2: shares of this client's mask secret key and self-mask seed, one encrypted box per peer. */
  share(roster: readonly AdvertisedKeys[]): EncryptedShares[] {
    checkConfig(this.config, roster.length);
    this.roster = [...roster].sort((a, b) => a.id - b.id);
    const keyShares = shamirSplit(Buffer.from(this.maskKeys.d, 'base64url'), this.roster.length, this.config.threshold);
    const seedShares = shamirSplit(this.seed, this.roster.length, this.config.threshold);
    return this.roster.map((peer, k) => {
      const key = agree(this.cipherKeys, peer.cipherKey, 'fogline-secagg-box');
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(`${this.id}>${peer.id}`));
      const body = Buffer.concat([cipher.update(JSON.stringify({ key: keyShares[k], seed: seedShares[k] })), cipher.final()]);
      return { from: this.id, to: peer.id, box: Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url') };
    });
  }

  /**
   * Step 3: the masked vector. `values` are already fixed-point (toRing); `sharedWith` are the
   * clients whose shares reached everyone (the server's list after step 2).
   */
  mask(values: Uint32Array, sharedWith: readonly number[]): MaskedInput {
    if (values.length !== this.config.length)
      throw new MlInputError('bad-input', `Expected ${this.config.length} values, got ${values.length}.`);
    const out = Uint32Array.from(values);
    addInto(out, prg(this.seed, out.length), 1);
    for (const peer of this.roster) {
      if (peer.id === this.id || !sharedWith.includes(peer.id)) continue;
      const pairwise = prg(agree(this.maskKeys, peer.maskKey, 'fogline-secagg-mask'), out.length);
      addInto(out, pairwise, peer.id > this.id ? 1 : -1);
    }
    return { id: this.id, values: out };
  }

  /** Step 4: for each peer, its seed share if it sent an input, its key share if it dropped — never both. */
  unmask(boxes: readonly EncryptedShares[], sharedWith: readonly number[], sentInput: readonly number[]): UnmaskResponse {
    const response: UnmaskResponse = { from: this.id, keyShares: [], seedShares: [] };
    for (const box of boxes) {
      if (box.to !== this.id || !sharedWith.includes(box.from)) continue;
      const peer = this.roster.find((p) => p.id === box.from);
      if (!peer) continue;
      const bytes = Buffer.from(box.box, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', agree(this.cipherKeys, peer.cipherKey, 'fogline-secagg-box'), bytes.subarray(0, 12));
      decipher.setAAD(Buffer.from(`${box.from}>${this.id}`));
      decipher.setAuthTag(bytes.subarray(12, 28));
      const { key, seed } = JSON.parse(Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString()) as {
        key: string;
        seed: string;
      };
      if (sentInput.includes(box.from)) response.seedShares.push({ of: box.from, share: seed });
      else response.keyShares.push({ of: box.from, share: key });
    }
    return response;
  }
}

// ---- the server --------------------------------------------------------------------------------

/**
 * The server's last step: the sum of the survivors' vectors from their masked inputs and at least
 * `threshold` unmask responses. Throws when fewer clients answered (the round fails, as a round
 * without quorum does today).
 */
export function unmaskSum(
  config: SecAggConfig,
  roster: readonly AdvertisedKeys[],
  sharedWith: readonly number[],
  inputs: readonly MaskedInput[],
  responses: readonly UnmaskResponse[],
): Uint32Array {
  if (responses.length < config.threshold) {
    throw new MlInputError('too-short', `Only ${responses.length} clients answered the unmasking step; ${config.threshold} are needed.`);
  }
  const sent = new Set(inputs.map((i) => i.id));
  const sum = new Uint32Array(config.length);
  for (const input of inputs) addInto(sum, input.values, 1);
  const sharesOf = (kind: 'keyShares' | 'seedShares', id: number) =>
    responses.flatMap((r) => r[kind].filter((s) => s.of === id).map((s) => s.share)).slice(0, config.threshold);
  // Survivors' self-masks.
  for (const id of sent) {
    const shares = sharesOf('seedShares', id);
    if (shares.length < config.threshold) throw new MlInputError('too-short', `Too few shares to remove client ${id}'s self-mask.`);
    addInto(sum, prg(shamirCombine(shares), config.length), -1);
  }
  // Dropped clients' pairwise masks, still inside the survivors' inputs.
  for (const id of sharedWith) {
    if (sent.has(id)) continue;
    const shares = sharesOf('keyShares', id);
    if (shares.length < config.threshold) throw new MlInputError('too-short', `Too few shares to remove client ${id}'s pairwise masks.`);
    const dropped = roster.find((r) => r.id === id)!;
    const keys: KeyPair = { d: Buffer.from(shamirCombine(shares)).toString('base64url'), x: dropped.maskKey };
    for (const survivor of sent) {
      const pairwise = prg(agree(keys, roster.find((r) => r.id === survivor)!.maskKey, 'fogline-secagg-mask'), config.length);
      // The survivor added +mask when the dropped peer's id was larger, −mask otherwise.
      addInto(sum, pairwise, id > survivor ? -1 : 1);
    }
  }
  return sum;
}
