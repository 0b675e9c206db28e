// Browser adapters for model input: sources over File/Blob objects, read synchronously with
// FileReaderSync (so they work only inside a Worker, where the C++ may block), one range at a
// time: a file larger than the tab could hold is streamed, never loaded whole. File sets over a
// single GGUF file or over the files of a chosen or dropped folder (a HuggingFace model).
import { ExitCode, llmqError } from './llmq-errors.mjs';

/** A source over a Blob: {name, size, read(offset, into)}. */
export function blobSource(blob, name) {
  const reader = new FileReaderSync();
  return {
    name,
    size: blob.size,
    read(offset, into) {
      const bytes = reader.readAsArrayBuffer(blob.slice(offset, offset + into.length));
      if (bytes.byteLength !== into.length) return llmqError(ExitCode.corruptInput, `${name}: file shrank while reading`);
      into.set(new Uint8Array(bytes));
      return undefined;
    },
  };
}

function baseName(path) {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * A file set named `name` over either one File (a GGUF model) or a Map from relative path
 * ("config.json", "sub/x.json") to File (a folder). Names are checked by the C++ side first.
 */
export function blobFileSet(name, content) {
  if (!(content instanceof Map)) {
    return {
      name,
      isDirectory: false,
      list: () => [baseName(name)],
      exists: () => true,
      open: () => blobSource(content, name),
    };
  }
  const path = (rel) => (name.endsWith('/') ? name + rel : `${name}/${rel}`);
  return {
    name,
    isDirectory: true,
    // Like the native host: the regular files directly inside the folder.
    list: () => [...content.keys()].filter((rel) => !rel.includes('/')),
    exists: (rel) => content.has(rel),
    open(rel) {
      const file = content.get(rel);
      if (!file) return llmqError(ExitCode.modelNotFound, `${path(rel)}: no such file`, 'check the path');
      return blobSource(file, path(rel));
    },
  };
}

/**
 * The files of an <input type="file" webkitdirectory> selection as {name, files}: the folder's
 * name and a Map from path relative to it to File.
 */
export function folderFromFileList(fileList) {
  const files = new Map();
  let name = '';
  for (const file of fileList) {
    const parts = (file.webkitRelativePath || file.name).split('/');
    if (parts.length > 1) {
      name ||= parts[0];
      files.set(parts.slice(1).join('/'), file);
    } else {
      files.set(parts[0], file);
    }
  }
  return { name: name || 'model', files };
}

function entryFile(entry) {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

async function readAllEntries(directory) {
  const reader = directory.createReader();
  const entries = [];
  // readEntries returns the listing in batches until an empty one.
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return entries;
    entries.push(...batch);
  }
}

/**
 * What was dropped: {kind: 'file', name, file} for a file, {kind: 'folder', name, files} for a
 * directory (walked recursively), or null. Call synchronously in the drop handler: the entries
 * are only available during the event.
 */
export function droppedModel(dataTransfer) {
  const item = [...(dataTransfer.items ?? [])].find((i) => i.kind === 'file');
  const entry = item?.webkitGetAsEntry?.();
  if (!entry || entry.isFile) {
    const file = item?.getAsFile() ?? dataTransfer.files?.[0];
    return file ? Promise.resolve({ kind: 'file', name: file.name, file }) : Promise.resolve(null);
  }
  return (async () => {
    const files = new Map();
    const walk = async (dir, prefix) => {
      for (const child of await readAllEntries(dir)) {
        if (child.isDirectory) await walk(child, `${prefix}${child.name}/`);
        else files.set(prefix + child.name, await entryFile(child));
      }
    };
    await walk(entry, '');
    return { kind: 'folder', name: entry.name, files };
  })();
}
