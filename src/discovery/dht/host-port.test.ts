import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHostPort } from './host-port.js';

test('parseHostPort: IPv4 literals and DNS names with a port', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:6881'), { host: '127.0.0.1', port: 6881 });
  assert.deepEqual(parseHostPort(' router.example.org:1 '), { host: 'router.example.org', port: 1 });
  assert.deepEqual(parseHostPort('localhost:65535'), { host: 'localhost', port: 65535 });
});

test('parseHostPort: anything else is null', () => {
  for (const s of ['', '127.0.0.1', ':6881', '127.0.0.1:0', '127.0.0.1:65536', '127.0.0.1:123456', '::1:6881', '[::1]:6881',
    '999.1.1.1:6881', '1.2.3:6881', 'a_b.example:6881', '-bad.example:6881', 'host:port', 'host:68 81']) {
    assert.equal(parseHostPort(s), null, s);
  }
});
