import { describe, expect, it } from 'vitest';
import { type EdgeGrant, edgeTokensFor } from './edge-tokens.js';

const hash = (c: string) => c.repeat(64);
const grant = (id: string, more: Partial<EdgeGrant>): EdgeGrant => ({
  id,
  secretHash: hash(id[0]!),
  deployments: [],
  metrics: false,
  expiresAt: null,
  ...more,
});

describe('edgeTokensFor', () => {
  const grants = [
    grant('b000000000000001', { deployments: ['energy', 'other'] }),
    grant('a000000000000002', { deployments: ['elsewhere'] }),
    grant('c000000000000003', { metrics: true, expiresAt: Date.UTC(2030, 0, 1) }),
    grant('0000000000000002', { deployments: ['*'], cloudOnly: true }),
  ];

  it('gives a node only the tokens for what it serves, narrowed to it, and the metrics tokens, sorted by id', () => {
    expect(edgeTokensFor(grants, { role: 'edge' }, ['energy'])).toEqual([
      { id: 'b000000000000001', sha256: hash('b'), deployments: ['energy'], metrics: false, expiresAt: null },
      { id: 'c000000000000003', sha256: hash('c'), deployments: [], metrics: true, expiresAt: '2030-01-01T00:00:00.000Z' },
    ]);
  });

  it("gives the control plane's own token to cloud nodes only", () => {
    expect(edgeTokensFor(grants, { role: 'edge' }, []).map((t) => t.id)).toEqual(['c000000000000003']);
    expect(edgeTokensFor(grants, { role: 'cloud' }, ['replicated']).map((t) => [t.id, t.deployments])).toEqual([
      ['0000000000000002', ['*']],
      ['c000000000000003', []],
    ]);
    // Not to a cloud node given nothing to serve (yet, or while it waits for approval).
    expect(edgeTokensFor(grants, { role: 'cloud' }, []).map((t) => t.id)).toEqual(['c000000000000003']);
  });
});
