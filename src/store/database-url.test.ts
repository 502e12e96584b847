import { describe, expect, it } from 'vitest';
import { parseDatabaseUrl, redactPassword } from './database-url.js';

describe('database URLs', () => {
  it('recognises the three dialects', () => {
    expect(parseDatabaseUrl('sqlite:/var/lib/fogline/f.db')).toEqual({ dialect: 'sqlite', target: '/var/lib/fogline/f.db' });
    expect(parseDatabaseUrl('postgres://u@h/db').dialect).toBe('postgres');
    expect(parseDatabaseUrl('postgresql://u@h/db').dialect).toBe('postgres');
    expect(parseDatabaseUrl('mysql://root@h/db')).toEqual({ dialect: 'mysql', target: 'mysql://root@h/db' });
    expect(parseDatabaseUrl('mariadb://root@h/db')).toEqual({ dialect: 'mysql', target: 'mysql://root@h/db' });
  });

  it('refuses anything else without echoing a password', () => {
    expect(() => parseDatabaseUrl('oracle://u:hunter2@h/db')).toThrow(/oracle:\/\/u:\*\*\*@h\/db/);
    expect(() => parseDatabaseUrl('sqlite:')).toThrow(/Unsupported database URL/);
    expect(redactPassword('postgres://u:secret@h/db')).toBe('postgres://u:***@h/db');
  });
});
