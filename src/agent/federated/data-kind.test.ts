import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DATA_DIR } from '../../ml/test-support/data-files.js';
import { detectDataKind } from './data-kind.js';

describe('detectDataKind', () => {
  it('tells digits from a load series, and says nothing about other files', () => {
    expect(detectDataKind(path.join(DATA_DIR, 'optdigits/optdigits.csv'))).toBe('digits');
    expect(detectDataKind(path.join(DATA_DIR, 'energy/PJME_hourly_trimmed.csv'))).toBe('forecast');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-kind-'));
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'hello\nworld\n');
    expect(detectDataKind(path.join(dir, 'notes.txt'))).toBeUndefined();
    expect(detectDataKind(path.join(dir, 'missing.csv'))).toBeUndefined();
  });
});
