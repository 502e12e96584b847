import { describe, expect, it } from 'vitest';
import { cliCommand, fromScratchCommand } from './cli-hint.js';

describe('cliCommand', () => {
  it('needs no --data-dir for ./.fogline, the CLI default', () => {
    expect(cliCommand('nodes list', '/home/ana/fogline/.fogline', '/home/ana/fogline')).toBe('npx fogline nodes list');
  });

  it('names any other data folder: relative below this folder, absolute elsewhere, quoted for the shell', () => {
    expect(cliCommand('nodes list', '/home/ana/fogline/demo', '/home/ana/fogline')).toBe('npx fogline nodes list --data-dir demo');
    expect(cliCommand('deploy get energy', '/tmp/fogline-demo', '/home/ana/fogline')).toBe(
      'npx fogline deploy get energy --data-dir /tmp/fogline-demo',
    );
    expect(cliCommand('nodes list', "/tmp/ana's data", '/home/ana')).toBe(`npx fogline nodes list --data-dir '/tmp/ana'\\''s data'`);
  });
});

describe('fromScratchCommand', () => {
  it('deletes the data folder alone when the SQLite database is inside it', () => {
    expect(fromScratchCommand({ dataDir: '/srv/f/.fogline', db: 'sqlite:/srv/f/.fogline/fogline.db' })).toBe('rm -r /srv/f/.fogline');
  });

  it('empties a database that lives elsewhere too', () => {
    expect(fromScratchCommand({ dataDir: '/srv/f/.fogline', db: 'sqlite:/var/lib/fogline.db' })).toBe(
      'rm -r /srv/f/.fogline && rm /var/lib/fogline.db /var/lib/fogline.db-wal /var/lib/fogline.db-shm',
    );
    expect(fromScratchCommand({ dataDir: '/srv/f/.fogline', db: 'postgres://fog:secret@db.lan:5433/fogline' })).toBe(
      'rm -r /srv/f/.fogline && dropdb -h db.lan -p 5433 -U fog fogline && createdb -h db.lan -p 5433 -U fog fogline',
    );
    expect(fromScratchCommand({ dataDir: '/srv/f/.fogline', db: 'mariadb://root:pw@127.0.0.1/fogline' })).toBe(
      "rm -r /srv/f/.fogline && mariadb -h 127.0.0.1 -u root -p -e 'DROP DATABASE fogline; CREATE DATABASE fogline'",
    );
  });
});
