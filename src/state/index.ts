/**
 * The state directory and resume data (reliability rule 9 in docs/design/reliability.md): atomic writes, the resume
 * codec, the store, the throttled writer and the start-up plan. See docs/design/persistence.md.
 */
export { writeFileAtomic, readFileCapped, readFileCappedSync, removeStaleTempFiles, syncDir } from './atomic.js';
export type { AtomicWriteOptions } from './atomic.js';
export {
  encodeResume, decodeResume, maxResumeSize, parsePeerAddress, formatPeerAddress, readResumeFile, writeResumeFile,
  RESUME_VERSION, MAX_RESUME_PEERS, MAX_RESUME_TEXT, MAX_RESUME_BASE_SIZE, RESUME_MAX_DEPTH,
} from './resume.js';
export type { ResumeData, ResumeExpectation, FileStamp, FilePriority } from './resume.js';
export { StateStore, MAX_SETTINGS_SIZE } from './state-store.js';
export type { StateStoreOptions } from './state-store.js';
export { ResumeWriter, DEFAULT_RESUME_INTERVAL_MS } from './resume-writer.js';
export type { ResumeWriterOptions, WriterTimers } from './resume-writer.js';
export { planStartupCheck, observeFiles, observeFilesSync, snapshotDiskState, sameStamp } from './fast-resume.js';
export type { StartupPlan, PlanOptions, ResumeMeta } from './fast-resume.js';
