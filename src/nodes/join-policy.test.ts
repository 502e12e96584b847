import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FoglineError } from '../errors/fogline-error.js';
import { admitNode, normalizeJoinPolicy } from './join-policy.js';
import { labelAllowed, parseLabelPattern } from './label-pattern.js';

function refusal(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    if (!(error instanceof FoglineError)) throw error;
    return error.code;
  }
}

describe('join policies', () => {
  it('leave everything to the node when the token decides nothing', () => {
    expect(admitNode(null, { role: 'cloud', labels: { a: 'b' } })).toEqual({
      role: 'cloud',
      labels: { a: 'b' },
      pending: false,
      credentialTtlSeconds: null,
    });
    expect(normalizeJoinPolicy({ nodeLabels: {}, allowedLabels: [], requireApproval: false })).toBeNull();
  });

  it('fix the role: another one is refused', () => {
    const policy = { nodeRole: 'edge' as const };
    expect(admitNode(policy, { role: 'edge', labels: {} }).role).toBe('edge');
    expect(refusal(() => admitNode(policy, { role: 'cloud', labels: {} }))).toBe('FOGLINE_ERR_JOIN_ROLE_REFUSED');
  });

  it("give the token's labels to a node that asks for none, and refuse other values or keys", () => {
    const policy = { nodeLabels: { site: 'plant-a', zone: 'north' } };
    expect(admitNode(policy, { role: 'edge', labels: {} }).labels).toEqual({ site: 'plant-a', zone: 'north' });
    expect(admitNode(policy, { role: 'edge', labels: { site: 'plant-a' } }).labels).toEqual({ site: 'plant-a', zone: 'north' });
    expect(refusal(() => admitNode(policy, { role: 'edge', labels: { site: 'plant-b' } }))).toBe('FOGLINE_ERR_JOIN_LABELS_REFUSED');
    expect(refusal(() => admitNode(policy, { role: 'edge', labels: { gpu: 'yes' } }))).toBe('FOGLINE_ERR_JOIN_LABELS_REFUSED');
  });

  it('allow what the patterns allow, and a fixed key only with its fixed value', () => {
    const policy = { nodeLabels: { tier: 'edge' }, allowedLabels: ['site=plant-*', 'tier=*'] };
    expect(admitNode(policy, { role: 'edge', labels: { site: 'plant-9' } }).labels).toEqual({ site: 'plant-9', tier: 'edge' });
    expect(refusal(() => admitNode(policy, { role: 'edge', labels: { site: 'office' } }))).toBe('FOGLINE_ERR_JOIN_LABELS_REFUSED');
    // The fixed label wins over a pattern that would allow another value.
    expect(refusal(() => admitNode(policy, { role: 'edge', labels: { tier: 'gold' } }))).toBe('FOGLINE_ERR_JOIN_LABELS_REFUSED');
  });

  it('say when the node waits for approval and how long its credentials live', () => {
    expect(admitNode({ requireApproval: true, credentialTtlSeconds: 3600 }, { role: 'edge', labels: {} })).toMatchObject({
      pending: true,
      credentialTtlSeconds: 3600,
    });
  });

  it('refuse a bad pattern or label when the token is made', () => {
    expect(refusal(() => normalizeJoinPolicy({ allowedLabels: ['site'] }))).toBe('FOGLINE_ERR_LABEL_INVALID');
    expect(refusal(() => normalizeJoinPolicy({ nodeLabels: { 'bad key': 'x' } }))).toBe('FOGLINE_ERR_LABEL_INVALID');
  });

  it('admit only labels the token gives or allows, and always give the fixed ones', () => {
    const key = fc.constantFrom('site', 'zone', 'tier', 'example.com/gpu');
    const value = fc.constantFrom('plant-a', 'plant-b', 'north', 'on', '');
    const labels = fc.dictionary(key, value, { maxKeys: 4 });
    const patterns = fc.array(
      fc
        .tuple(fc.constantFrom('site', 'zone', '*', 'example.com/*'), fc.constantFrom('plant-*', '*', 'north', 'on'))
        .map(([k, v]) => `${k}=${v}`),
      { maxLength: 3 },
    );
    fc.assert(
      fc.property(labels, labels, patterns, (fixed, asked, allowed) => {
        const policy = normalizeJoinPolicy({ nodeLabels: fixed, allowedLabels: allowed });
        const parsed = allowed.map(parseLabelPattern);
        const decides = Object.keys(fixed).length > 0 || allowed.length > 0;
        const fits = Object.entries(asked).every(([k, v]) => (k in fixed ? fixed[k] === v : labelAllowed(parsed, k, v)));
        const code = refusal(() => admitNode(policy, { role: 'edge', labels: asked }));
        if (decides && !fits) {
          expect(code).toBe('FOGLINE_ERR_JOIN_LABELS_REFUSED');
          return;
        }
        expect(code).toBeUndefined();
        const admitted = admitNode(policy, { role: 'edge', labels: asked });
        expect(admitted.labels).toMatchObject(fixed);
        for (const [k, v] of Object.entries(admitted.labels)) {
          expect(!decides || fixed[k] === v || labelAllowed(parsed, k, v)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
