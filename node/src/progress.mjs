// The native CLI's progress display on stderr, for `npx llmq`: on a TTY a bar redrawn at most
// every 100 ms (percentage, amount — MB and MB/s, or "3/6 layers" —, elapsed, ETA, item); otherwise one line per tensor at
// most once a second. Same layout as native/progress.cpp, so both CLIs look alike.

export function clockText(seconds) {
  const s = Math.trunc(seconds + 0.5);
  if (s >= 3600) return `${Math.trunc(s / 3600)}h${String(Math.trunc(s / 60) % 60).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.trunc(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${seconds.toFixed(1)}s`;
}

const WIDTH = 28;

export class StderrProgress {
  #tty;
  #write;
  #enabled = true;
  #active = false;
  #task = '';
  #total = 0;
  #unit = 'bytes';
  #lastItem = '';
  #start = 0;
  #lastDraw = 0;

  /** write(text) puts text on stderr. */
  constructor(tty, write) {
    this.#tty = tty;
    this.#write = write;
  }

  /** The CLI's global options: --quiet turns progress off. */
  configure({ verbosity }) {
    this.#enabled = verbosity !== 'quiet';
  }

  /** unit: 'bytes' or the plural name of the steps counted ('layers'). */
  begin(task, total, unit = 'bytes') {
    this.#task = task;
    this.#total = total;
    this.#unit = unit;
    this.#active = true;
    this.#lastItem = '';
    this.#start = this.#lastDraw = performance.now();
  }

  update(done, item) {
    if (!this.#enabled || !this.#active) return;
    const now = performance.now();
    const newItem = item !== this.#lastItem;
    const since = now - this.#lastDraw;
    if (this.#tty ? since < 100 : !newItem || since < 1000) return;
    this.#lastItem = item;
    this.#lastDraw = now;
    this.#draw(done, item, false);
  }

  end() {
    if (!this.#enabled || !this.#active) return;
    this.#active = false;
    if (this.#tty) this.#draw(this.#total, 'done', true);
  }

  #draw(done, item, final) {
    const elapsed = (performance.now() - this.#start) / 1000;
    const frac = this.#total ? done / this.#total : 1;
    const eta = frac > 0 ? (elapsed * (1 - frac)) / frac : 0;
    const pct = (100 * frac).toFixed(1).padStart(5);
    // Bytes: "12.3/45.6 MB 7.8 MB/s"; steps: "3/6 layers".
    let amount = `${done}/${this.#total} ${this.#unit}`;
    if (this.#unit === 'bytes') {
      const mb = done / 1e6;
      amount = `${mb.toFixed(1)}/${(this.#total / 1e6).toFixed(1)} MB ${(elapsed > 0 ? mb / elapsed : 0).toFixed(1)} MB/s`;
    }
    if (this.#tty) {
      const filled = Math.trunc(frac * WIDTH);
      let bar = '='.repeat(Math.max(0, filled));
      if (filled < WIDTH) bar += '>';
      bar = bar.padEnd(WIDTH).slice(0, WIDTH);
      this.#write(`\r\x1b[2K${this.#task} [${bar}] ${pct}% ${amount}  elapsed ${clockText(elapsed)}  ` +
        `ETA ${final ? '0s' : clockText(eta)}  ${item.slice(0, 40)}${final ? '\n' : ''}`);
    } else {
      this.#write(`${this.#task}: ${pct}% ${amount}, elapsed ${clockText(elapsed)}, ETA ${clockText(eta)}, ${item}\n`);
    }
  }
}

/** Progress as events for the API: {task, unit, done, total, fraction, item, elapsedSeconds, rate,
 *  bytesPerSecond, etaSeconds}; unit is 'bytes' or the plural name of the steps ('layers'). */
export class EventProgress {
  #emit;
  #task = '';
  #unit = 'bytes';
  #total = 0;
  #start = 0;
  #last = 0;
  #lastItem = '';

  constructor(emit) {
    this.#emit = emit;
  }

  begin(task, total, unit = 'bytes') {
    this.#task = task;
    this.#unit = unit;
    this.#total = total;
    this.#start = performance.now();
    this.#last = 0;
    this.#lastItem = '';
    this.#send(0, '');
  }

  // At most ten events a second, plus one whenever the tensor changes.
  update(done, item) {
    const now = performance.now();
    if (item === this.#lastItem && now - this.#last < 100) return;
    this.#last = now;
    this.#lastItem = item;
    this.#send(done, item);
  }

  end() {
    this.#send(this.#total, '');
  }

  #send(done, item) {
    const elapsedSeconds = (performance.now() - this.#start) / 1000;
    const fraction = this.#total ? Math.min(1, done / this.#total) : 1;
    const rate = elapsedSeconds > 0 ? done / elapsedSeconds : 0;
    this.#emit({
      task: this.#task,
      unit: this.#unit,
      done,
      total: this.#total,
      fraction,
      item,
      elapsedSeconds,
      rate,
      bytesPerSecond: this.#unit === 'bytes' ? rate : 0,
      etaSeconds: fraction > 0 ? (elapsedSeconds * (1 - fraction)) / fraction : null,
    });
  }
}
