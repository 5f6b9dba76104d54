/**
 * The command table of the bitpeer CLI: for every command its arguments, its options (name, value name, what it
 * does, its default) and examples. It is the single source of truth: the parser (`parse` in args.ts) accepts exactly
 * the options listed here, and `bitpeer <command> --help`, `bitpeer help <command>` and the `bitpeer --help`
 * overview are generated from it.
 *
 * Adding an option is a one-line change: add an `OptionDoc` to that command's `options` (or to a shared group such
 * as NETWORK_OPTIONS or RPC_OPTIONS), then read its value in the command module. Invariant (tested in
 * test/loopback/cli-help.test.ts): every option a command accepts is explained on its help page.
 * Pure: no I/O. BEP: none.
 */

/** One option of one command. */
export interface OptionDoc {
  /** The long name, without the dashes ("piece-length"). */
  readonly name: string;
  /** A one-letter alias ("o" for -o). */
  readonly short?: string;
  /** The value's name ("DIR"); absent for a flag that takes no value. */
  readonly value?: string;
  /** May be given several times (the values are collected). */
  readonly multiple?: boolean;
  /** What it does, one or two sentences. */
  readonly desc: string;
  /** Its default, in words ("6881", "the current folder"); absent when "off"/"none" is obvious. */
  readonly default?: string;
}

export interface CommandDoc {
  /** The positional arguments, as shown in the usage line. */
  readonly args: string;
  /** How many positional arguments it takes. */
  readonly min: number;
  readonly max: number;
  /** One line for the overview. */
  readonly summary: string;
  /** A paragraph for the help page (word-wrapped when shown). */
  readonly about: string;
  readonly options: readonly OptionDoc[];
  readonly examples: readonly string[];
}

const HELP: OptionDoc = { name: 'help', short: 'h', desc: 'Show this help and exit.' };
const JSON_OUT: OptionDoc = { name: 'json', desc: 'Machine-readable output: one JSON object per line on stdout (docs/cli.md lists them).' };

/** The DHT's bootstrap and network options (seed, get, share and daemon). */
const DHT_OPTIONS: readonly OptionDoc[] = [
  { name: 'dht-bootstrap', value: 'HOST:PORT', multiple: true, desc: 'Join the DHT through this node (repeatable); replaces the default list.',
    default: 'the public routers (router.bittorrent.com:6881, dht.transmissionbt.com:6881, router.utorrent.com:6881, dht.libtorrent.org:25401), ' +
      'or $BITPEER_DHT_BOOTSTRAP (comma-separated HOST:PORT; "none" = no bootstrap node)' },
  { name: 'dht-private', desc: 'DHT private-network mode: loopback and private addresses are nodes and peers, several nodes per IP.',
    default: 'on when every bootstrap node is a loopback or private IP address, else off' },
  { name: 'no-dht-private', desc: 'The public DHT\'s rules even with private bootstrap nodes.' },
];

/** Options of every command that runs a session in the foreground (seed, get, share). */
const NETWORK_OPTIONS: readonly OptionDoc[] = [
  { name: 'port', value: 'N', desc: 'TCP and UDP port to listen on (peers, and this peer\'s own tracker); 0 picks a free one. Given\n' +
    'explicitly, a port in use is an error.', default: '6881; get and share take the next free one (6882-6889, then any) and say which' },
  { name: 'bind', value: 'ADDR', desc: 'Local address to listen on.', default: '0.0.0.0, every interface' },
  { name: 'peer', value: 'HOST:PORT', multiple: true, desc: 'Connect to this peer (repeatable), besides those the trackers, LSD and PEX find.' },
  { name: 'max-peers', value: 'N', desc: 'Connections per torrent, incoming and outgoing; more are refused.', default: '50' },
  { name: 'max-connections', value: 'N', desc: 'Connections in the whole session, handshakes included.', default: '200, or --max-peers if larger' },
  { name: 'upload-limit', value: 'RATE', desc: 'Upload at most RATE bytes per second; K, M, G = KiB, MiB, GiB (2M); 0 = no limit.', default: 'no limit' },
  { name: 'download-limit', value: 'RATE', desc: 'Download at most RATE bytes per second (as --upload-limit).', default: 'no limit' },
  { name: 'no-tracker', desc: 'Do not announce to the torrent\'s trackers (this peer\'s own tracker still answers).' },
  { name: 'open-tracker', desc: 'This peer\'s own tracker answers for any info-hash, not only for its own torrents.' },
  { name: 'no-lsd', desc: 'No local service discovery (BEP 14 multicast on the LAN); on by default.' },
  { name: 'no-pex', desc: 'No peer exchange (BEP 11); on by default, never used for private torrents.' },
  { name: 'utp', desc: 'uTP (BEP 29) on the UDP port besides TCP: accepted, and tried first when dialing (TCP beside it\n' +
    'after 0.5 s without an answer, or at once if it fails).', default: 'on' },
  { name: 'no-utp', desc: 'No uTP: peers over TCP only.' },
  { name: 'no-dht', desc: 'No DHT (BEP 5): peers only from trackers, LSD, PEX and --peer; on by default, never used for private torrents.' },
  ...DHT_OPTIONS,
  { name: 'encryption', value: 'MODE', desc: 'MSE/PE encryption: disabled (plaintext only), enabled (accept both, try\n' +
    'encrypted first) or forced (RC4 only, both ways).', default: 'enabled' },
  { name: 'progress-interval', value: 'MS', desc: 'Milliseconds between progress updates (the live line, `progress` events).', default: '1000' },
  { name: 'verbose', short: 'v', desc: 'Log peer connections and debug lines on stderr.' },
  JSON_OUT,
  HELP,
];

/** Options of every command that talks to a running daemon (add, ls, pause, resume, rm, stats). */
const RPC_OPTIONS: readonly OptionDoc[] = [
  { name: 'rpc-host', value: 'HOST', desc: 'Host of the daemon\'s RPC server.', default: '127.0.0.1' },
  { name: 'rpc-port', value: 'N', desc: 'Port of the daemon\'s RPC server.', default: '9091' },
  { name: 'rpc-user', value: 'USER', desc: 'RPC user name (Basic auth).', default: '$BITPEER_RPC_USER' },
  { name: 'rpc-password', value: 'PASS', desc: 'RPC password (Basic auth).', default: '$BITPEER_RPC_PASSWORD' },
  { name: 'state-dir', value: 'DIR', desc: 'The daemon\'s state folder. With no user and password given, a daemon on this\n' +
    'machine that asks for them gets the ones it made itself (DIR/rpc-credentials.json), if that file exists.',
    default: '$XDG_DATA_HOME/bitpeer, i.e. ~/.local/share/bitpeer' },
  JSON_OUT,
  HELP,
];

const ANNOUNCE_HOST: OptionDoc = {
  name: 'announce-host', value: 'HOST',
  desc: 'Host in the default announce URL (http://HOST:PORT/announce, this peer\'s own tracker) when no --announce is given.',
  default: 'this machine\'s first LAN IPv4 address',
};
const PIECE_LENGTH: OptionDoc = {
  name: 'piece-length', value: 'BYTES', desc: 'Piece size: a power of two, at least 16K (256K, 1M).',
  default: 'chosen for 1000-2000 pieces, 16 KiB to 16 MiB',
};
const ANNOUNCE: OptionDoc = { name: 'announce', value: 'URL', multiple: true, desc: 'Tracker URL to write (http://, https:// or udp://); repeatable.', default: 'this peer\'s own tracker' };
const TORRENT_OUTPUT: OptionDoc = { name: 'output', short: 'o', value: 'FILE', desc: 'Where to write the .torrent.', default: '<name>.torrent in the current folder' };
const PRIVATE: OptionDoc = { name: 'private', desc: 'Mark the torrent private (BEP 27): peers come from its trackers only, no LSD or PEX.' };

/** How pause, resume and rm name torrents (the 4 is MIN_HASH_PREFIX in commands/remote.ts). */
const TORRENT_IDS = 'ids from `bitpeer ls`, info-hashes, or a unique prefix of 4+ hex digits of one';

export const COMMANDS = {
  create: {
    args: '<path>', min: 1, max: 1,
    summary: 'write a .torrent for a file or a folder',
    about: 'Hashes the file or folder and writes <name>.torrent in the current folder (or -o). An existing file is\n' +
      'never overwritten without --force. Prints the info-hash and the magnet link. The default format is v1, with\n' +
      'the same info-hash as mktorrent; --v2 and --hybrid make BitTorrent v2 torrents identical to libtorrent 2\'s.',
    options: [
      TORRENT_OUTPUT,
      {
        ...PIECE_LENGTH,
        default: 'chosen for 1000-2000 pieces, 16 KiB to 16 MiB; the same for --v2 and --hybrid, where it must be a power of two of at least 16 KiB',
      },
      {
        name: 'v2', desc: 'Make a BitTorrent v2-only torrent (BEP 52): per-file merkle trees; only v2 clients (libtorrent 2, qBittorrent 4.4+) open it. ' +
          'Laid out exactly as libtorrent 2.0.8 does, so the info-hash equals its create_torrent\'s.',
      },
      {
        name: 'hybrid', desc: 'Make a hybrid v1+v2 torrent (libtorrent 2\'s default format): both info-hashes, one swarm; files are aligned to ' +
          'pieces with BEP 47 pad files exactly as libtorrent 2.0.8 lays them out.',
      },
      ANNOUNCE, ANNOUNCE_HOST,
      { name: 'port', value: 'N', desc: 'Port in the default announce URL (the port `seed` will listen on).', default: '6881' },
      PRIVATE,
      { name: 'comment', value: 'TEXT', desc: 'A comment stored in the torrent.' },
      { name: 'no-date', desc: 'Leave out the creation date (the same input then gives the same .torrent).' },
      { name: 'force', short: 'f', desc: 'Overwrite the output file if it exists.' },
      JSON_OUT, HELP,
    ],
    examples: ['bitpeer create ~/photos', 'bitpeer create big.iso -o /tmp/big.torrent --announce udp://tracker.example:6969/announce',
      'bitpeer create ~/photos --hybrid --piece-length 1M'],
  },
  info: {
    args: '<file.torrent|magnet>', min: 1, max: 1,
    summary: 'show what a torrent or a magnet link contains',
    about: 'Prints the name, info-hash, size, pieces, trackers and files of a .torrent (the first 1000 files unless\n' +
      '--all), or what a magnet link says.',
    options: [
      { name: 'all', desc: 'List every file, not only the first 1000.' },
      { name: 'json', desc: 'One JSON object on stdout, with every file.' },
      HELP,
    ],
    examples: ['bitpeer info photos.torrent', 'bitpeer info big.torrent --all | less', 'bitpeer info "magnet:?xt=urn:btih:..."'],
  },
  seed: {
    args: '<file.torrent> <data-path>', min: 2, max: 2,
    summary: 'check the data of a torrent, then serve it until Ctrl-C',
    about: 'Hashes every piece of the data first (a piece that fails is not served), then uploads it to peers until\n' +
      'SIGINT or SIGTERM (exit 0). <data-path> is the path given to create (the file or folder), or the folder that\n' +
      'holds it. Incomplete data is an error.',
    options: NETWORK_OPTIONS,
    examples: ['bitpeer seed photos.torrent ~/photos', 'bitpeer seed big.torrent /data --port 51413 --upload-limit 2M'],
  },
  get: {
    args: '<file.torrent|magnet>', min: 1, max: 1,
    summary: 'download a torrent or a magnet link, then exit (or keep seeding with --seed)',
    about: 'Downloads into -o DIR (data already there is checked and kept) and exits 0 once every piece is verified.\n' +
      'A magnet link first fetches the torrent\'s metadata from peers (BEP 9). Ctrl-C stops (exit 130); the same\n' +
      'command again resumes.',
    options: [
      { name: 'output', short: 'o', value: 'DIR', desc: 'Folder to download into.', default: 'the current folder' },
      { name: 'seed', desc: 'Keep seeding after the download completes, until Ctrl-C.' },
      ...NETWORK_OPTIONS,
    ],
    examples: ['bitpeer get photos.torrent -o ~/Downloads', 'bitpeer get "magnet:?xt=urn:btih:..." --peer 192.168.1.20:6881 --seed'],
  },
  stream: {
    args: '<file.torrent|magnet>', min: 1, max: 1,
    summary: 'download a torrent in order and stream one of its files over HTTP (or to stdout) while it downloads',
    about: 'Downloads as get does (pieces in order: sequential download) and serves one file at\n' +
      'http://127.0.0.1:PORT/stream/<info-hash>/<N> (HTTP ranges, so a player can seek: the pieces around the\n' +
      'position are fetched first). Prints the URL, then serves until Ctrl-C. Without --file it picks the largest\n' +
      'media file (mp4, mkv, webm, mp3, flac...), else the largest file. With --stdout it writes the file\'s bytes in\n' +
      'order to stdout (bitpeer stream x.torrent --stdout | mpv -) and exits 0 once they are all out; its log lines\n' +
      'then go to stderr.',
    options: [
      { name: 'output', short: 'o', value: 'DIR', desc: 'Folder to download into.', default: 'the current folder' },
      { name: 'file', value: 'N', desc: 'The file to stream: its index as `bitpeer info` and the RPC\'s torrent-get list them (pad files hidden), from 0.',
        default: 'the largest media file, else the largest file' },
      { name: 'stdout', desc: 'Write the file to stdout, in order, and exit when it is all written.' },
      { name: 'http-port', value: 'N', desc: 'Port of the HTTP server on 127.0.0.1.', default: '0, any free port' },
      ...NETWORK_OPTIONS,
    ],
    examples: ['bitpeer stream film.torrent -o ~/Videos', 'bitpeer stream "magnet:?xt=urn:btih:..." --stdout | mpv -'],
  },
  share: {
    args: '<path>', min: 1, max: 1,
    summary: 'create + seed: write a .torrent for a file or folder, print its magnet link, then seed it',
    about: 'Writes <name>.torrent in the current folder (or -o), prints its path and magnet link, then seeds the data\n' +
      'until Ctrl-C. Other peers can then run `bitpeer get <name>.torrent` or the magnet link.',
    options: [
      TORRENT_OUTPUT,
      PIECE_LENGTH, ANNOUNCE, ANNOUNCE_HOST, PRIVATE,
      { name: 'force', short: 'f', desc: 'Overwrite the .torrent file if it exists (without it, an existing file is an error).' },
      ...NETWORK_OPTIONS,
    ],
    examples: ['bitpeer share ~/photos', 'bitpeer share ./release -o /tmp/release.torrent --announce-host 192.168.1.10'],
  },
  daemon: {
    args: '', min: 0, max: 0,
    summary: 'run many torrents as a background service, driven over the Transmission RPC',
    about: 'Runs in the foreground (logs on stdout; Ctrl-C, SIGINT or SIGTERM is a clean stop) and keeps its torrents\n' +
      'and their progress in the state folder across restarts. add, ls, pause, resume, rm and stats (and\n' +
      'transmission-remote) drive it, and so does the web UI at http://127.0.0.1:9091/. --port, --rpc-port, --download-dir, the limits, --no-lsd, --no-pex, --utp/--no-utp,\n' +
      '--dht/--no-dht, --dht-bootstrap and --encryption are saved in the state folder\'s settings.json and used again on the next start. Basic auth: set\n' +
      'BITPEER_RPC_USER and BITPEER_RPC_PASSWORD (an --rpc-host other than loopback without them: generated once, see --rpc-host).\n' +
      'The RPC speaks Transmission\'s legacy protocol and its 4.1 JSON-RPC 2.0, chosen per request.',
    options: [
      { name: 'state-dir', value: 'DIR', desc: 'Where torrents, resume data and settings are kept.', default: '$XDG_DATA_HOME/bitpeer, i.e. ~/.local/share/bitpeer' },
      { name: 'download-dir', value: 'DIR', desc: 'Folder new torrents download into.', default: 'the saved setting, else $XDG_DOWNLOAD_DIR, else ~/Downloads' },
      { name: 'port', value: 'N', desc: 'TCP and UDP port for peers; 0 picks a free one.', default: 'the saved setting, else 6881' },
      { name: 'bind', value: 'ADDR', desc: 'Local address to listen on for peers.', default: '0.0.0.0, every interface' },
      { name: 'rpc-port', value: 'N', desc: 'Port of the RPC server (http://HOST:N/transmission/rpc).', default: 'the saved setting, else 9091' },
      { name: 'rpc-host', value: 'ADDR', desc: 'Address of the RPC server. A non-loopback one needs a user and password: BITPEER_RPC_USER/PASSWORD, else user "bitpeer" with a random password made on the first start, logged once, kept in STATE-DIR/rpc-credentials.json.', default: '127.0.0.1' },
      { name: 'web-home', value: 'DIR', desc: 'Serve this web folder (e.g. Transmission\'s web client) at http://HOST:PORT/transmission/web/ instead of bitpeer\'s web UI at /.', default: '$TRANSMISSION_WEB_HOME, else bitpeer\'s UI' },
      { name: 'upload-limit', value: 'RATE', desc: 'Upload at most RATE bytes per second (K, M, G suffixes); 0 = no limit.', default: 'the saved setting, else no limit' },
      { name: 'download-limit', value: 'RATE', desc: 'Download at most RATE bytes per second; 0 = no limit.', default: 'the saved setting, else no limit' },
      { name: 'no-lsd', desc: 'No local service discovery (BEP 14). Saved: later starts keep it off.' },
      { name: 'no-pex', desc: 'No peer exchange (BEP 11). Saved: later starts keep it off.' },
      { name: 'utp', desc: 'uTP (BEP 29) besides TCP, tried first when dialing. Saved.', default: 'the saved setting, else on' },
      { name: 'no-utp', desc: 'No uTP: peers over TCP only. Saved: later starts keep it off.' },
      { name: 'dht', desc: 'The DHT (BEP 5) on the peer port. Saved.', default: 'the saved setting, else on' },
      { name: 'no-dht', desc: 'No DHT. Saved: later starts keep it off.' },
      { ...DHT_OPTIONS[0]!, desc: 'Join the DHT through this node (repeatable); replaces the default list. Saved.',
        default: `the saved setting, else ${DHT_OPTIONS[0]!.default ?? ''}` },
      ...DHT_OPTIONS.slice(1),
      { name: 'encryption', value: 'MODE', desc: 'MSE/PE encryption: disabled, enabled or forced (as in seed). Saved.', default: 'the saved setting, else enabled' },
      { name: 'verbose', short: 'v', desc: 'Also log debug lines.' },
      { name: 'json', desc: 'Log one JSON object per line (session events and log lines).' },
      HELP,
    ],
    examples: ['bitpeer daemon', 'bitpeer daemon --download-dir ~/Downloads --port 51413 --upload-limit 1M'],
  },
  add: {
    args: '<file.torrent|magnet>...', min: 1, max: 10_000,
    summary: 'add torrents or magnet links to the running daemon',
    about: 'Sends each .torrent (or magnet link) to the daemon, which starts downloading it (or seeding it if the data\n' +
      'is already there). Adding a torrent the daemon already has says so and changes nothing.',
    options: [
      { name: 'output', short: 'o', value: 'DIR', desc: 'Folder to download into.', default: 'the daemon\'s --download-dir' },
      { name: 'download-dir', value: 'DIR', desc: 'The same as -o.' },
      { name: 'paused', desc: 'Add it paused (start it later with `bitpeer resume`).' },
      ...RPC_OPTIONS,
    ],
    examples: ['bitpeer add photos.torrent', 'bitpeer add *.torrent -o /data --paused'],
  },
  ls: {
    args: '', min: 0, max: 0,
    summary: 'list the daemon\'s torrents',
    about: 'One line per torrent: id, percent done, size, rates, peers, ETA, state and name. The states are\n' +
      'checking, downloading, seeding, paused, queued and error (docs/cli.md explains each).',
    options: RPC_OPTIONS,
    examples: ['bitpeer ls', 'bitpeer ls --json'],
  },
  pause: {
    args: '<id|hash|hash-prefix|all>...', min: 1, max: 10_000,
    summary: 'pause torrents of the daemon',
    about: `Stops transferring the given torrents: ${TORRENT_IDS} (as the daemon's log shows them); \`all\` for every\n` +
      'one. An id that names no torrent, or a prefix that names several, is an error, reported before anything changes.',
    options: RPC_OPTIONS,
    examples: ['bitpeer pause 3', 'bitpeer pause all'],
  },
  resume: {
    args: '<id|hash|hash-prefix|all>...', min: 1, max: 10_000,
    summary: 'resume paused torrents of the daemon',
    about: `Starts the given torrents again: ${TORRENT_IDS}; \`all\` for every one.`,
    options: RPC_OPTIONS,
    examples: ['bitpeer resume 3', 'bitpeer resume all'],
  },
  rm: {
    args: '<id|hash|hash-prefix>...', min: 1, max: 10_000,
    summary: 'remove torrents from the daemon (and, with --delete-data, their files)',
    about: `Removes the given torrents: ${TORRENT_IDS} (never "all"). Their data stays on disk unless --delete-data.`,
    options: [
      { name: 'delete-data', desc: 'Also delete the files the torrent lists, then its folders that became empty; any other file in them (yours, another torrent\'s) stays.' },
      ...RPC_OPTIONS,
    ],
    examples: ['bitpeer rm 3', 'bitpeer rm 3 4 --delete-data'],
  },
  stats: {
    args: '', min: 0, max: 0,
    summary: 'show the daemon\'s totals: torrents, speeds, bytes this session and all time, the DHT',
    about: 'Prints the number of torrents (active, paused), the current speeds, the bytes downloaded and\n' +
      'uploaded in this session of the daemon and in all its sessions, and the DHT: its phase, nodes (good/total),\n' +
      'the torrents and peers others announced to it, and our external address as the DHT sees it.',
    options: RPC_OPTIONS,
    examples: ['bitpeer stats', 'bitpeer stats --json'],
  },
} as const satisfies Record<string, CommandDoc>;

export type CommandName = keyof typeof COMMANDS;

/** The commands that drive a running daemon over its RPC (src/cli/commands/remote.ts runs them). */
export const REMOTE_COMMANDS = ['add', 'ls', 'pause', 'resume', 'rm', 'stats'] as const satisfies readonly CommandName[];
export type RemoteCommand = (typeof REMOTE_COMMANDS)[number];

export function isCommand(name: string): name is CommandName {
  return Object.hasOwn(COMMANDS, name);
}

/** "bitpeer get <file.torrent|magnet> [options]". */
export function usageLine(cmd: CommandName): string {
  const doc: CommandDoc = COMMANDS[cmd];
  return `bitpeer ${cmd}${doc.args ? ` ${doc.args}` : ''} [options]`;
}

/** "-o, --output DIR" / "    --seed". */
function optionLabel(o: OptionDoc): string {
  const long = `--${o.name}${o.value ? ` ${o.value}` : ''}${o.multiple ? '...' : ''}`;
  return o.short ? `-${o.short}, ${long}` : `    ${long}`;
}

/** Width of the help pages. */
const WIDTH = 100;

/** Word-wraps `text` to lines of at most `width` characters (a word longer than that stays whole). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) { lines.push(line); line = word; } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** The help page of one command: usage, what it does, every option with its default, examples. */
export function commandHelp(cmd: CommandName): string {
  const doc: CommandDoc = COMMANDS[cmd];
  const labels = doc.options.map(optionLabel);
  const col = Math.min(Math.max(...labels.map((l) => l.length)) + 2, 30);
  const out = [`usage: ${usageLine(cmd)}`, '', `${doc.summary[0]!.toUpperCase()}${doc.summary.slice(1)}.`, '', ...wrap(doc.about, WIDTH), '', 'options:'];
  doc.options.forEach((o, i) => {
    const text = wrap(`${o.desc}${o.default ? ` (default: ${o.default})` : ''}`, WIDTH - 2 - col);
    const label = labels[i]!;
    if (label.length + 2 > col) { out.push(`  ${label}`); text.forEach((t) => out.push(`  ${' '.repeat(col)}${t}`)); } else {
      text.forEach((t, j) => out.push(`  ${(j === 0 ? label : '').padEnd(col)}${t}`));
    }
  });
  out.push('', 'examples:', ...doc.examples.map((e) => `  ${e}`));
  return `${out.join('\n')}\n`;
}

/** `bitpeer --help`: every command in one line, the options most runs need, and where to read more. */
export function overview(): string {
  const names = Object.keys(COMMANDS) as CommandName[];
  const width = Math.max(...names.map((n) => n.length)) + 2;
  const row = (n: CommandName): string => `  ${n.padEnd(width)}${COMMANDS[n].summary}`;
  const remote = new Set<CommandName>(REMOTE_COMMANDS);
  const runs = names.filter((n) => !remote.has(n));
  return [
    'bitpeer: a BitTorrent peer (client, server and tracker in one)',
    '',
    'usage: bitpeer <command> [arguments] [options]',
    '',
    'commands:',
    ...runs.map(row),
    '',
    'commands that drive a running daemon (through its RPC: see --rpc-host, --rpc-port in their help):',
    ...[...remote].map(row),
    '',
    'options of seed, get, stream and share (see each command\'s help for the rest):',
    '  --port N (default 6881, 0 = any)  --bind ADDR  --peer HOST:PORT (repeatable)  --json  --verbose',
    '  --upload-limit RATE  --download-limit RATE (bytes/s, K/M/G suffixes, 0 = no limit)',
    '  --no-tracker  --open-tracker  --no-lsd  --no-pex  --no-utp  --max-peers N  --max-connections N',
    '  --no-dht  --dht-bootstrap HOST:PORT (repeatable)  --dht-private / --no-dht-private',
    '  --encryption disabled|enabled|forced (default enabled)',
    '',
    'bitpeer <command> --help (or bitpeer help <command>) explains a command and each of its options.',
    'bitpeer --version prints the version. Exit codes: 0 ok, 1 error, 2 usage, 130/143 interrupted.',
    '',
  ].join('\n');
}
