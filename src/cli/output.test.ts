import { describe, expect, it } from 'vitest';
import { formatTable, terminalSafe } from './output.js';

describe('terminalSafe', () => {
  it('strips what could drive a terminal and keeps the text, tabs and newlines', () => {
    expect(terminalSafe('linux\u001b]0;pwned\u0007 5.15\u001b[2J')).toBe('linux]0;pwned 5.15[2J');
    expect(terminalSafe('a\r\u0008b\u007f\u009b2Jc\u202eevil\u2066')).toBe('ab2Jcevil');
    expect(terminalSafe('line one\n\tline two')).toBe('line one\n\tline two');
    expect(terminalSafe('Zürich — 東京 ✓')).toBe('Zürich — 東京 ✓');
  });

  it('leaves a table of safe cells as it was', () => {
    const table = formatTable(
      [{ name: 'edge-1', os: 'linux 6.1' }],
      [
        { header: 'NAME', value: (r) => r.name },
        { header: 'OS', value: (r) => r.os },
      ],
    );
    expect(terminalSafe(table)).toBe(table);
  });
});
