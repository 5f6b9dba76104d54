/**
 * bitpeer's version, and every string derived from it: the `--version` line, the client name sent in the extended
 * handshake (`v`, BEP 10), the `created by` of torrents we make, and the Azureus-style peer-id prefix (BEP 20).
 *
 * Invariant: {@link VERSION} equals package.json's `version` (version.test.ts checks it), and nothing else in src/
 * spells the version. It is a constant, not read from package.json at run time, so this module stays pure and works
 * the same from a clone, from `npm pack` and from any folder depth under dist/.
 */

/** bitpeer's version (semver `major.minor.patch`); keep equal to package.json's `version`. */
export const VERSION = '0.1.0';

/** Client name and version, e.g. `bitpeer 0.1.0` (`--version`, the extended handshake's `v`). */
export const CLIENT_NAME = `bitpeer ${VERSION}`;

/** The `created by` of torrents bitpeer makes, e.g. `bitpeer/0.1.0`. */
export const CREATED_BY = `bitpeer/${VERSION}`;

/**
 * The Azureus-style peer-id prefix of a version: `-bp` then one character for each of major, minor and patch
 * (0-9, then A-Z for 10..35) and a `0`, then `-`. `0.1.0` gives `-bp0100-`.
 * @throws RangeError for a version that is not `major.minor.patch` with each part in 0..35.
 */
export function peerIdPrefix(version: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/.exec(version);
  const parts = m ? [m[1], m[2], m[3]].map(Number) : [];
  if (parts.length !== 3 || parts.some((n) => n > 35)) throw new RangeError(`version "${version}" has no peer-id form`);
  return `-bp${parts.map((n) => n.toString(36).toUpperCase()).join('')}0-`;
}

/** Our peer-id prefix, `-bp0100-` for 0.1.0. */
export const CLIENT_PREFIX = peerIdPrefix(VERSION);
