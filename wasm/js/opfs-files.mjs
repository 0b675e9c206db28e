// Browser output: a file in the origin-private file system (OPFS) written through a
// FileSystemSyncAccessHandle, the only synchronous writable file a Worker has. Getting the
// handle is asynchronous, so an output is prepared before the job starts; the job then writes at
// explicit positions (offsets as doubles, fine past 4 GiB). The result is later copied to a file
// the user picks (File System Access API) or offered as a download straight from OPFS (disk
// backed: no copy of the model in memory). Where OPFS is unavailable, memoryOutput() collects the
// bytes in Blobs instead (the browser keeps large Blobs on disk).
import { ExitCode, llmqError } from './llmq-errors.mjs';

export const OUTPUT_DIRECTORY = 'llmq-output';

function quotaError(name, e) {
  if (e?.name === 'QuotaExceededError') {
    return llmqError(ExitCode.outputIo, `${name}: write failed: the browser's storage quota is full`,
      'free disk space or site storage, or use the native llmq for this model');
  }
  return llmqError(ExitCode.outputIo, `${name}: write failed: ${e?.message ?? e}`);
}

export async function opfsAvailable() {
  try {
    const root = await navigator.storage.getDirectory();
    return typeof FileSystemFileHandle !== 'undefined' && 'createSyncAccessHandle' in FileSystemFileHandle.prototype && !!root;
  } catch {
    return false;
  }
}

/** An output written to OPFS under a unique entry name; `name` is the path the job sees. */
export async function openOpfsOutput(name) {
  const root = await navigator.storage.getDirectory();
  const dir = await root.getDirectoryHandle(OUTPUT_DIRECTORY, { create: true });
  const entry = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}-${name.replace(/[^\w.-]+/g, '_')}`;
  const handle = await dir.getFileHandle(entry, { create: true });
  const access = await handle.createSyncAccessHandle();
  access.truncate(0);
  let position = 0;
  let state = 'writing';
  return {
    name,
    entry,
    get finished() {
      return state === 'finished';
    },
    sink() {
      return {
        name,
        write(bytes) {
          let done = 0;
          try {
            while (done < bytes.length) done += access.write(bytes.subarray(done), { at: position + done });
          } catch (e) {
            this.abort();
            return quotaError(name, e);
          }
          position += bytes.length;
          return undefined;
        },
        finish() {
          access.flush();
          state = 'finished';
          return undefined;
        },
        abort() {
          if (state !== 'writing') return;
          state = 'aborted';
          access.truncate(0);
        },
      };
    },
    // Reads the finished file back (the job re-opens its output to validate it).
    source() {
      return {
        name,
        size: access.getSize(),
        read(offset, into) {
          const n = access.read(into, { at: offset });
          if (n !== into.length) return llmqError(ExitCode.corruptInput, `${name}: file shrank while reading`);
          return undefined;
        },
      };
    },
    discard() {
      state = 'aborted';
      access.truncate(0);
    },
    close() {
      access.close();
    },
  };
}

/** The File behind a finished OPFS output (after its worker closed the handle). */
export async function opfsFile(entry) {
  const root = await navigator.storage.getDirectory();
  const dir = await root.getDirectoryHandle(OUTPUT_DIRECTORY, { create: true });
  return (await dir.getFileHandle(entry)).getFile();
}

/** Removes outputs of earlier jobs (entries still open in another tab are left alone). */
export async function removeOpfsOutputs(keep = []) {
  try {
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle(OUTPUT_DIRECTORY, { create: true });
    for await (const key of dir.keys()) {
      if (keep.includes(key)) continue;
      try {
        await dir.removeEntry(key);
      } catch {
        // busy in another tab
      }
    }
  } catch {
    // no OPFS here
  }
}

/** An output kept in memory as Blob parts (fallback without OPFS). */
export function memoryOutput(name) {
  const parts = [];
  let pending = [];
  let pendingBytes = 0;
  let blob = null;
  // Gathering copies into Blobs every 64 MiB lets the browser move them out of the JS heap.
  const seal = () => {
    if (pending.length) parts.push(new Blob(pending));
    pending = [];
    pendingBytes = 0;
  };
  return {
    name,
    get finished() {
      return blob !== null;
    },
    sink() {
      return {
        name,
        write(bytes) {
          pending.push(bytes.slice());
          pendingBytes += bytes.length;
          if (pendingBytes >= 64 << 20) seal();
          return undefined;
        },
        finish() {
          seal();
          blob = new Blob(parts, { type: 'application/octet-stream' });
          return undefined;
        },
        abort() {
          parts.length = 0;
          pending = [];
        },
      };
    },
    source() {
      const reader = new FileReaderSync();
      return {
        name,
        size: blob.size,
        read(offset, into) {
          into.set(new Uint8Array(reader.readAsArrayBuffer(blob.slice(offset, offset + into.length))));
          return undefined;
        },
      };
    },
    blob: () => blob,
    discard() {
      blob = null;
      parts.length = 0;
    },
    close() {},
  };
}
