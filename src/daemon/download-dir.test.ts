import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseUserDirs, userDownloadDir } from './download-dir.js';

const HOME = '/home/ann';

/** A reader that knows one file. */
function files(map: Record<string, string>): (p: string) => string | undefined {
  return (p) => map[p];
}

test('XDG_DOWNLOAD_DIR from the environment wins; $HOME is expanded; a relative value is ignored', () => {
  assert.equal(userDownloadDir({ XDG_DOWNLOAD_DIR: '/data/dl' }, HOME, files({})), '/data/dl');
  assert.equal(userDownloadDir({ XDG_DOWNLOAD_DIR: '$HOME/Téléchargements/' }, HOME, files({})), '/home/ann/Téléchargements');
  assert.equal(userDownloadDir({ XDG_DOWNLOAD_DIR: 'dl' }, HOME, files({})), '/home/ann/Downloads');
  assert.equal(userDownloadDir({ XDG_DOWNLOAD_DIR: '' }, HOME, files({})), '/home/ann/Downloads');
});

test('else user-dirs.dirs of XDG_CONFIG_HOME or ~/.config; else ~/Downloads', () => {
  const text = '# written by xdg-user-dirs-update\nXDG_DESKTOP_DIR="$HOME/Desktop"\nXDG_DOWNLOAD_DIR="$HOME/Descargas"\n';
  assert.equal(userDownloadDir({}, HOME, files({ '/home/ann/.config/user-dirs.dirs': text })), '/home/ann/Descargas');
  assert.equal(userDownloadDir({ XDG_CONFIG_HOME: '/etc/ann' }, HOME, files({ '/etc/ann/user-dirs.dirs': text })), '/home/ann/Descargas');
  assert.equal(userDownloadDir({ XDG_CONFIG_HOME: 'rel' }, HOME, files({ '/home/ann/.config/user-dirs.dirs': text })), '/home/ann/Descargas',
    'a relative XDG_CONFIG_HOME is ignored');
  assert.equal(userDownloadDir({}, HOME, files({})), '/home/ann/Downloads');
  assert.equal(userDownloadDir({}, HOME, () => { throw new Error('EACCES'); }), '/home/ann/Downloads');
});

test('the file is parsed, never run: anything but $HOME/... or an absolute path is ignored', () => {
  const at = (line: string): string => userDownloadDir({}, HOME, files({ '/home/ann/.config/user-dirs.dirs': `${line}\n` }));
  assert.equal(at('XDG_DOWNLOAD_DIR="/srv/in coming"'), '/srv/in coming');
  assert.equal(at('XDG_DOWNLOAD_DIR=$HOME/dl'), '/home/ann/dl');
  assert.equal(at('XDG_DOWNLOAD_DIR="${HOME}/dl"'), '/home/ann/dl');
  assert.equal(at('XDG_DOWNLOAD_DIR="$(rm -rf ~)"'), '/home/ann/Downloads');
  assert.equal(at('XDG_DOWNLOAD_DIR="`id`"'), '/home/ann/Downloads');
  assert.equal(at('XDG_DOWNLOAD_DIR="$USER/dl"'), '/home/ann/Downloads');
  assert.equal(at('XDG_DOWNLOAD_DIR="$HOME/$OTHER"'), '/home/ann/Downloads');
  assert.equal(at('XDG_DOWNLOAD_DIR="\\$HOME/dl"'), '/home/ann/Downloads');
  assert.equal(at('XDG_DOWNLOAD_DIR="$HOME/"'), '/home/ann/Downloads', 'the home folder itself means "none"');
  assert.equal(at('XDG_DOWNLOAD_DIR="relative"'), '/home/ann/Downloads');
  assert.equal(at('XDG_DOWNLOAD_DIR="/a" ; touch /tmp/x'), '/home/ann/Downloads', 'a line that is more than an assignment is skipped');
});

test('parseUserDirs: comments, blanks and junk skipped; escapes; the last assignment wins', () => {
  assert.deepEqual(parseUserDirs('# c\n\nA="1"\nB="x\\"y"\nnot a line\nA="2"\n'), { A: '2', B: 'x"y' });
});
