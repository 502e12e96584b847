import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DATA_DIR } from './test-support/data-files.js';

// Every vendored data file's sha256 is written in its folder's PROVENANCE.md; this keeps them true.
describe('vendored data', () => {
  for (const folder of ['energy', 'nab', 'optdigits']) {
    it(`${folder}: files match the sha256 in PROVENANCE.md, and a licence is beside them`, () => {
      const dir = path.join(DATA_DIR, folder);
      const provenance = fs.readFileSync(path.join(dir, 'PROVENANCE.md'), 'utf8');
      const listed = [...provenance.matchAll(/([0-9a-f]{64}) {2}([\w./-]+)/g)].map((m) => ({ sha256: m[1]!, file: m[2]! }));
      expect(listed.length).toBeGreaterThan(0);
      for (const { sha256, file } of listed) {
        expect(
          createHash('sha256')
            .update(fs.readFileSync(path.join(dir, file)))
            .digest('hex'),
          file,
        ).toBe(sha256);
      }
      expect(fs.existsSync(path.join(dir, 'LICENSE.txt'))).toBe(true);
    });
  }
});
