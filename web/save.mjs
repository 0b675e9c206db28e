// Getting the result out of the browser. It sits in OPFS (or in Blobs); where the File System
// Access API exists (Chromium) the user picks a place and the file is streamed there, otherwise
// it is offered as a download straight from the disk-backed OPFS file.
import { opfsFile } from './wasm/opfs-files.mjs';

let lastUrl = null;

/** The File/Blob of a finished output message from the worker. */
export async function outputFile(output) {
  return output.entry ? opfsFile(output.entry) : output.blob;
}

async function saveWithPicker(file, name) {
  const handle = await window.showSaveFilePicker({
    suggestedName: name,
    types: [{ description: 'GGUF model', accept: { 'application/octet-stream': ['.gguf'] } }],
  });
  const writable = await handle.createWritable();
  await file.stream().pipeTo(writable);
  return handle.name;
}

/**
 * Wires the save button and the download link for a result. Without a file picker the download
 * starts at once; with one, the user chooses when (the picker needs a click).
 */
export function offerSave(file, name, { saveButton, downloadLink, status }) {
  if (lastUrl) URL.revokeObjectURL(lastUrl);
  lastUrl = URL.createObjectURL(file);
  downloadLink.href = lastUrl;
  downloadLink.download = name;
  downloadLink.textContent = 'Download';
  downloadLink.hidden = false;
  if (typeof window.showSaveFilePicker === 'function') {
    saveButton.hidden = false;
    status.textContent = 'Choose where to save the result, or download it.';
    saveButton.onclick = async () => {
      saveButton.disabled = true;
      status.textContent = 'Saving…';
      try {
        status.textContent = `Saved as ${await saveWithPicker(file, name)}.`;
      } catch (e) {
        status.textContent = e?.name === 'AbortError' ? 'Not saved (no place chosen).' : `Could not save: ${e?.message ?? e}. Use Download instead.`;
      } finally {
        saveButton.disabled = false;
      }
    };
  } else {
    saveButton.hidden = true;
    downloadLink.textContent = 'Download again';
    status.textContent = `Downloading ${name}…`;
    downloadLink.click();
  }
}
