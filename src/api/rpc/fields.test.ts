// The pure field mapping: status and error numbers, ratio's special values, BEP 48 scrape URLs, tracker hosts, the
// conservative pieces bitfield, peer flags, units (kB = 1000), and — as a bounded property — that integer fields are
// integers whatever the API's meters report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FakeApi } from '../../../test/support/fake-api.js';
import {
  errorOf, flagStr, knownFields, piecesOf, ratioOf, scrapeUrl, sessionObject, statusOf, toKBps, torrentObject,
  trackerHost, TORRENT_FIELDS, TR_STATUS,
} from './fields.js';
import type { PeerInfo, TorrentInfo, TorrentStateName } from '../types.js';

const sample = (): TorrentInfo[] => new FakeApi({ now: () => 1_700_000_000_000 }).get();

test('status numbers follow Transmission (0 stopped … 6 seeding); errors are local errors (3)', () => {
  const t = sample()[1]!;
  const cases: [TorrentStateName, number, number][] = [
    ['paused', 0, TR_STATUS.STOPPED], ['error', 0, TR_STATUS.STOPPED], ['checking', 0, TR_STATUS.CHECK],
    ['queued', 10, TR_STATUS.DOWNLOAD_WAIT], ['queued', 0, TR_STATUS.SEED_WAIT], ['downloading', 10, TR_STATUS.DOWNLOAD],
    ['seeding', 0, TR_STATUS.SEED],
  ];
  for (const [state, left, status] of cases) assert.equal(statusOf({ ...t, state, leftUntilDone: left }), status, state);
  assert.equal(errorOf(t), 0);
  assert.equal(errorOf({ ...t, state: 'error', error: 'disk full' }), 3);
  assert.deepEqual(torrentObject({ ...t, state: 'error', error: 'disk full' }, ['error', 'errorString', 'status'], { nowSec: 0 }),
    { error: 3, errorString: 'disk full', status: 0 });
});

test('uploadRatio: up/down, over haveValid for a pure seed, -2 infinite, -1 none', () => {
  const t = sample()[0]!;
  assert.equal(ratioOf(t), 2);
  assert.equal(ratioOf({ ...t, downloadedEver: 0 }), 9_400 / 4_700, 'a seed that never downloaded: over what it has');
  assert.equal(ratioOf({ ...t, downloadedEver: 0, files: [], sizeWhenDone: 0, leftUntilDone: 0 }), -2);
  assert.equal(ratioOf({ ...t, uploadedEver: 0, downloadedEver: 0, files: [], sizeWhenDone: 0, leftUntilDone: 0 }), -1);
});

test('scrape URLs by the BEP 48 convention; tracker hosts as scheme://host:port', () => {
  assert.equal(scrapeUrl('http://t.example/announce'), 'http://t.example/scrape');
  assert.equal(scrapeUrl('http://t.example/x/announce.php?passkey=1'), 'http://t.example/x/scrape.php?passkey=1');
  assert.equal(scrapeUrl('udp://t.example:6969/announce'), 'udp://t.example:6969/scrape');
  assert.equal(scrapeUrl('http://t.example/a'), '');
  assert.equal(scrapeUrl('http://t.example/announce/x'), '');
  assert.equal(trackerHost('http://T.example/announce'), 'http://t.example:80');
  assert.equal(trackerHost('https://t.example/announce'), 'https://t.example:443');
  assert.equal(trackerHost('udp://[::1]:6969/announce'), 'udp://[::1]:6969');
  assert.equal(trackerHost('not a url'), 'not a url');
});

test('pieces: the API\'s bitfield if given; else set only where every file of the piece is complete', () => {
  const [seed, part] = sample() as [TorrentInfo, TorrentInfo];
  assert.equal(piecesOf({ ...seed, pieces: 'AAEC' }), 'AAEC');
  const full = Buffer.from(piecesOf(seed), 'base64');
  assert.equal(full.length, Math.ceil(seed.pieceCount / 8));
  const spare = full.length * 8 - seed.pieceCount;
  assert.equal(full.at(-1), (0xff << spare) & 0xff, 'spare bits are zero');
  // Three files of 10, 10, 10 bytes with 8-byte pieces: only the middle file is complete.
  const t: TorrentInfo = { ...part, pieceSize: 8, pieceCount: 4, files: [
    { path: 'a', length: 10, bytesCompleted: 3, wanted: true, priority: 'normal' },
    { path: 'b', length: 10, bytesCompleted: 10, wanted: true, priority: 'normal' },
    { path: 'c', length: 10, bytesCompleted: 0, wanted: true, priority: 'normal' },
  ] };
  // piece 0 = [0,8) in a; 1 = [8,16) a+b; 2 = [16,24) b+c; 3 = [24,30) c: nothing is certain
  assert.deepEqual([...Buffer.from(piecesOf(t), 'base64')], [0]);
  t.files[0]!.bytesCompleted = 10;
  assert.deepEqual([...Buffer.from(piecesOf(t), 'base64')], [0b1100_0000]);
  assert.equal(piecesOf({ ...t, pieceCount: 0 }), '');
});

test('peer flags from what we know', () => {
  const p: PeerInfo = { address: '127.0.0.1', port: 1, client: 'x', direction: 'in', source: 'pex', rateToClient: 5, rateToPeer: 0, progress: 0.5, downloaded: 0, uploaded: 0 };
  assert.equal(flagStr(p), 'DXI');
  assert.equal(flagStr({ ...p, direction: 'out', source: 'dht', rateToClient: 0, rateToPeer: 9 }), 'UH');
  assert.equal(flagStr({ ...p, clientChoked: true, clientInterested: true, peerChoked: false, peerInterested: false, source: 'tracker', direction: 'out' }), 'd?');
  // Transmission's order: E (encrypted) after '?', T (uTP) last.
  assert.equal(flagStr({ ...p, encrypted: true, utp: true }), 'DEXIT');
});

test('units: speed limits in kB/s with k = 1000; session-get carries the units object', () => {
  assert.equal(toKBps(1_500_000), 1500);
  assert.equal(toKBps(1499), 1);
  const s = sessionObject({ downloadDir: '/d', port: 1, uploadLimit: 64_000, downloadLimit: 0, maxActiveDownloads: 2, maxActiveSeeds: 0, lsd: false, pex: true }, { sessionId: 'x', freeSpace: 5 });
  assert.equal(s['speed-limit-up'], 64);
  assert.equal(s['speed-limit-up-enabled'], true);
  assert.equal(s['speed-limit-down-enabled'], false);
  assert.equal(s['seed-queue-enabled'], false);
  assert.equal(s['download-dir-free-space'], 5);
  assert.deepEqual((s['units'] as Record<string, unknown>)['speed-units'], ['kB/s', 'MB/s', 'GB/s', 'TB/s']);
  assert.equal((s['units'] as Record<string, unknown>)['memory-bytes'], 1024);
});

test('knownFields keeps known names once, in order', () => {
  assert.deepEqual(knownFields(['id', 7, 'nope', 'name', 'id', 'toString', '__proto__']), ['id', 'name']);
});

test('property: every numeric field that is not a ratio or fraction is an integer, whatever the meters say', () => {
  const reals = new Set(['percentDone', 'percentComplete', 'uploadRatio', 'recheckProgress', 'metadataPercentComplete', 'seedRatioLimit', 'progress']);
  const base = sample()[1]!;
  const real = fc.double({ min: -1e12, max: 1e12, noNaN: true });
  fc.assert(fc.property(real, real, real, real, real, fc.double({ min: 0, max: 1, noNaN: true }), (down, up, eta, ever, pr, pct) => {
    const t: TorrentInfo = {
      ...base, downloadRate: down, uploadRate: up, eta, downloadedEver: Math.abs(ever), percentDone: pct,
      peers: base.peers.map((p) => ({ ...p, rateToClient: pr, rateToPeer: up })),
    };
    const obj = torrentObject(t, TORRENT_FIELDS, { nowSec: 1_700_000_000.5 });
    const check = (v: unknown, key: string): void => {
      if (typeof v === 'number') assert.ok(reals.has(key) || Number.isInteger(v), `${key} = ${v}`);
      else if (Array.isArray(v)) v.forEach((x) => check(x, key));
      else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) check(x, k);
    };
    for (const [k, v] of Object.entries(obj)) check(v, k);
  }), { numRuns: 150, interruptAfterTimeLimit: 2000 });
});

test('a pending magnet (no metadata yet): metadataPercentComplete 0, status downloading/stopped, eta unknown (-2)', () => {
  const t = sample()[1]!;
  const pending: TorrentInfo = { ...t, metadataPending: true, pieceCount: 0, pieceSize: 0, files: [], totalSize: 0, sizeWhenDone: 0,
    leftUntilDone: 0, percentDone: 0, eta: -1 };
  const fields = ['metadataPercentComplete', 'status', 'eta', 'totalSize', 'pieces', 'files'];
  assert.deepEqual(torrentObject(pending, fields, { nowSec: 0 }),
    { metadataPercentComplete: 0, status: TR_STATUS.DOWNLOAD, eta: -2, totalSize: 0, pieces: '', files: [] });
  assert.equal(torrentObject({ ...pending, state: 'paused' }, ['status'], { nowSec: 0 })['status'], TR_STATUS.STOPPED);
  assert.equal(torrentObject(t, ['metadataPercentComplete'], { nowSec: 0 })['metadataPercentComplete'], 1);
});

test('file priorities: the facade\'s low/normal/high are Transmission\'s -1/0/1 in fileStats and priorities', () => {
  const t = sample()[1]!;
  assert.deepEqual(t.files.map((f) => f.priority), ['high', 'normal', 'low']);
  const o = torrentObject(t, ['fileStats', 'priorities'], { nowSec: 0 });
  assert.deepEqual(o['priorities'], [1, 0, -1]);
  assert.deepEqual((o['fileStats'] as Array<{ priority: number }>).map((f) => f.priority), [1, 0, -1]);
});

test('BEP 52: hashString stays the wire hash; bitpeer-hashStringV2 and bitpeer-metaVersion carry the v2 identity', () => {
  const t = sample()[1]!;
  const v2 = 'ab'.repeat(32);
  const fields = ['hashString', 'bitpeer-hashStringV2', 'bitpeer-metaVersion'];
  assert.deepEqual(torrentObject({ ...t, infoHash: v2.slice(0, 40), infoHashV2: v2, metaVersion: 'v2' }, fields, { nowSec: 0 }),
    { hashString: v2.slice(0, 40), 'bitpeer-hashStringV2': v2, 'bitpeer-metaVersion': 'v2' });
  assert.deepEqual(torrentObject({ ...t, metaVersion: 'v1' }, fields, { nowSec: 0 }),
    { hashString: t.infoHash, 'bitpeer-hashStringV2': '', 'bitpeer-metaVersion': 'v1' });
  assert.ok(TORRENT_FIELDS.includes('bitpeer-hashStringV2') && TORRENT_FIELDS.includes('bitpeer-metaVersion'));
});
