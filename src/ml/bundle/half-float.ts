/**
 * IEEE 754 half precision (binary16) ↔ numbers, as raw 16-bit patterns: ONNX Runtime's FP16
 * tensors, the Open Inference Protocol's binary FP16 data and float16 federated updates all use it.
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Rounds to nearest, ties to even (as numpy's astype(float16) does). Finite values beyond ±65504
 * become ±Infinity, or with `saturate` the largest finite half (a federated update is clipped, not
 * made infinite).
 */
export function toHalfBits(value: number, options: { saturate?: boolean } = {}): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  const tooLarge = sign | (options.saturate ? 0x7bff : 0x7c00);
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // Inf or NaN
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return tooLarge;
  if (e <= 0) {
    if (e < -10) return sign; // too small even for a subnormal: ±0
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half += 1;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half += 1;
  if ((half & 0x7fff) >= 0x7c00) return tooLarge;
  return sign | half;
}

export function fromHalfBits(half: number): number {
  const sign = half & 0x8000 ? -1 : 1;
  const exponent = (half >>> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}
