// The store writes `.qdo` files with the one atomic writer (src/util/atomic-file.ts;
// spec/layout.md §Writes); its temp-file names are part of the layout.
export {
  closePendingFiles,
  discardPendingFiles,
  fsyncDir,
  fsyncDirs,
  installPendingFile,
  isTempName,
  randomHex8,
  syncPendingFiles,
  tempPathFor,
  TEMP_MARK,
  writeFileAtomic,
  writeFilesAtomic,
  writePendingFile,
  type AtomicWriteOptions,
  type PendingFile,
} from '../util/atomic-file.js';
