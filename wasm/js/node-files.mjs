// Node adapters for the wasm host: files through synchronous fs calls at explicit positions
// (fs.readSync / fs.writeSync with a numeric position, exact past 4 GiB; never fs.openAsBlob,
// which is wrong above 2 GiB on Node 20). Outputs are written to OUT.part and renamed to OUT
// when finished, like the native CLI, and the messages are the native host's word for word.
import fs from 'node:fs';
import path from 'node:path';
import { ExitCode, llmqError } from './llmq-errors.mjs';

// glibc's strerror texts for the errors file I/O meets (Node only gives the symbolic code).
const strerrors = {
  EACCES: 'Permission denied', EPERM: 'Operation not permitted', ENOENT: 'No such file or directory',
  ENOTDIR: 'Not a directory', EISDIR: 'Is a directory', ENOSPC: 'No space left on device',
  EDQUOT: 'Disk quota exceeded', EROFS: 'Read-only file system', EEXIST: 'File exists',
  EMFILE: 'Too many open files', ENFILE: 'Too many open files in system', EIO: 'Input/output error',
  EFBIG: 'File too large', ENAMETOOLONG: 'File name too long', ELOOP: 'Too many levels of symbolic links',
  EBUSY: 'Device or resource busy', EXDEV: 'Invalid cross-device link', EINVAL: 'Invalid argument',
  ETXTBSY: 'Text file busy', EAGAIN: 'Resource temporarily unavailable',
};

export function strerror(e) {
  return strerrors[e?.code] ?? String(e?.message ?? e);
}

// path.join normalises ("a/./b" → "a/b"); std::filesystem's operator/ does not. Names in
// messages must match the native CLI's, so join the way it does.
function joinLikeNative(root, rel) {
  return root.endsWith('/') ? root + rel : `${root}/${rel}`;
}

/** A source over a file: {name, size, read(offset, into), close()}; or an error object. */
export function nodeSource(file) {
  let fd;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    if (e.code === 'ENOENT') return llmqError(ExitCode.modelNotFound, `${file}: no such file`, 'check the path');
    return llmqError(ExitCode.general, `${file}: cannot open: ${strerror(e)}`);
  }
  let stat;
  try {
    stat = fs.fstatSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    return llmqError(ExitCode.general, `${file}: cannot stat: ${strerror(e)}`);
  }
  if (stat.isDirectory()) {
    fs.closeSync(fd);
    return llmqError(ExitCode.unsupported, `${file} is a directory, not a file`);
  }
  return {
    name: file,
    size: stat.size,
    read(offset, into) {
      let done = 0;
      while (done < into.length) {
        let n;
        try {
          n = fs.readSync(fd, into, done, into.length - done, offset + done);
        } catch (e) {
          if (e.code === 'EINTR' || e.code === 'EAGAIN') continue;
          return llmqError(ExitCode.general, `${file}: read error: ${strerror(e)}`);
        }
        if (n === 0) return llmqError(ExitCode.corruptInput, `${file}: file shrank while reading`);
        done += n;
      }
      return undefined;
    },
    close() {
      if (fd !== undefined) fs.closeSync(fd);
      fd = undefined;
    },
  };
}

/** A sink writing OUT.part, renamed to OUT by finish(); abort() removes the part file. */
export function nodeSink(file) {
  const part = `${file}.part`;
  let fd;
  try {
    fd = fs.openSync(part, 'w', 0o644);
  } catch (e) {
    return llmqError(ExitCode.outputIo, `${part}: cannot create: ${strerror(e)}`,
      'check that the output directory exists and is writable');
  }
  let position = 0;
  let open = true;
  const abort = () => {
    if (fd !== undefined) {
      try { fs.closeSync(fd); } catch { /* already failing */ }
      fd = undefined;
    }
    if (open) {
      try { fs.rmSync(part, { force: true }); } catch { /* nothing to remove */ }
      open = false;
    }
  };
  return {
    name: file,
    write(bytes) {
      if (fd === undefined) return llmqError(ExitCode.outputIo, `${file}: write after close`);
      let done = 0;
      while (done < bytes.length) {
        try {
          done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
        } catch (e) {
          if (e.code === 'EINTR' || e.code === 'EAGAIN') continue;
          abort();
          return llmqError(ExitCode.outputIo, `${file}: write failed: ${strerror(e)}`,
            e.code === 'ENOSPC' ? 'free some disk space or choose another output directory with -o' : null);
        }
      }
      position += bytes.length;
      return undefined;
    },
    finish() {
      if (fd === undefined) return llmqError(ExitCode.outputIo, `${file}: already closed`);
      try {
        fs.fsyncSync(fd);
      } catch (e) {
        if (e.code !== 'EINVAL') {
          abort();
          return llmqError(ExitCode.outputIo, `${file}: cannot flush: ${strerror(e)}`);
        }
      }
      try {
        fs.closeSync(fd);
      } catch (e) {
        fd = undefined;
        abort();
        return llmqError(ExitCode.outputIo, `${file}: cannot close: ${strerror(e)}`);
      }
      fd = undefined;
      try {
        fs.renameSync(part, file);
      } catch (e) {
        abort();
        return llmqError(ExitCode.outputIo, `${file}: cannot rename the finished file into place: ${strerror(e)}`);
      }
      open = false;
      return undefined;
    },
    abort,
  };
}

/** The files of a model: one file, or a directory (HuggingFace). */
export function nodeFileSet(root) {
  let stat;
  try {
    stat = fs.statSync(root);
  } catch {
    return llmqError(ExitCode.modelNotFound, `${root}: no such file or directory`,
      'give the path of a .gguf file or of a HuggingFace model directory');
  }
  const isDirectory = stat.isDirectory();
  const resolve = (rel) => (isDirectory ? joinLikeNative(root, rel) : root);
  return {
    name: root,
    isDirectory,
    list() {
      if (!isDirectory) return [path.basename(root)];
      return fs.readdirSync(root).filter((n) => {
        try {
          return fs.statSync(joinLikeNative(root, n)).isFile();
        } catch {
          return false;
        }
      });
    },
    exists(rel) {
      try {
        return fs.statSync(resolve(rel)).isFile();
      } catch {
        return false;
      }
    },
    open: (rel) => nodeSource(resolve(rel)),
  };
}

// The peak resident set of this process, like the native host's VmHWM.
function peakRss() {
  return process.resourceUsage().maxRSS * 1024;
}

/** Creates a directory and its missing parents, with the native host's message on failure. */
export function nodeMakeDirectories(dir) {
  try {
    fs.mkdirSync(dir, { recursive: true });
    return undefined;
  } catch (e) {
    return llmqError(ExitCode.outputIo, `cannot create directory ${dir}: ${strerror(e)}`, 'check the path and its permissions');
  }
}

// A file of llmq's data/ directory: $LLMQ_DATA_DIR first (as the native CLI), then dataDir
// (the npm package's data/). '' when neither has it.
function bundledPath(name, dataDir) {
  const dirs = [process.env.LLMQ_DATA_DIR, dataDir].filter(Boolean);
  for (const dir of dirs) {
    const file = joinLikeNative(dir, name);
    try {
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not in this directory
    }
  }
  return '';
}

/**
 * A complete host over the local file system. Paths are taken as given (relative to
 * process.cwd()), so messages name files exactly as the native CLI does. Extra members
 * (stdout, stderr, progress, cancelled, configure) are passed through. dataDir: where the files
 * shipped with llmq are (the npm package's data/), for bundledFile.
 */
export function nodeHost(extra = {}, { dataDir } = {}) {
  return {
    openFiles: nodeFileSet,
    openFile: nodeSource,
    createFile: nodeSink,
    exists: (p) => fs.existsSync(p),
    removeFile: (p) => fs.rmSync(p, { force: true }),
    makeDirectories: nodeMakeDirectories,
    env: (name) => process.env[name],
    bundledFile: (name) => bundledPath(name, dataDir),
    now: () => performance.now() / 1000,
    peakMemory: peakRss,
    ...extra,
  };
}
