// The store writes `.qdo` files with the one atomic writer (src/util/atomic-file.ts;
// spec/layout.md §Writes); its temp-file names are part of the layout.
export { fsyncDir, isTempName, syncFile, tempPathFor, TEMP_MARK, writeFileAtomic, writeTempFile, type AtomicWriteOptions } from '../util/atomic-file.js';
