/**
 * Resume files on disk: the codec (resume-codec.ts, pure) plus reading and writing one file (reliability rule 9 in
 * docs/design/reliability.md; bencoding per BEP 3).
 *
 * Invariant: a resume file is only ever replaced atomically and durably (writeFileAtomic), and only read through a
 * size cap derived from the torrent's geometry, then fully validated by `decodeResume`.
 */
import { readFileCapped, writeFileAtomic } from './atomic.js';
import { decodeResume, encodeResume, maxResumeSize, type ResumeData, type ResumeExpectation } from './resume-codec.js';

export {
  encodeResume, decodeResume, maxResumeSize, parsePeerAddress, formatPeerAddress,
  RESUME_VERSION, MAX_RESUME_PEERS, MAX_RESUME_TEXT, MAX_RESUME_BASE_SIZE, RESUME_MAX_DEPTH,
} from './resume-codec.js';
export type { ResumeData, ResumeExpectation, FileStamp, FilePriority } from './resume-codec.js';

/**
 * Read and validate the resume file at `file`. Resolves to null when it does not exist.
 * @throws BtError('BAD_RESUME') when it is malformed or belongs to something else; BtError('IO') when it cannot be
 *   read or exceeds the size cap.
 */
export async function readResumeFile(file: string, expected: ResumeExpectation): Promise<ResumeData | null> {
  const buf = await readFileCapped(file, maxResumeSize(expected.pieceCount, expected.fileCount));
  return buf === null ? null : decodeResume(buf, expected);
}

/** Encode `data` and replace `file` with it atomically and durably. @throws BtError('IO') */
export async function writeResumeFile(file: string, data: ResumeData): Promise<void> {
  await writeFileAtomic(file, encodeResume(data));
}
