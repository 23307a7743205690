/**
 * A small Chrome DevTools Protocol client over `--remote-debugging-pipe` (fd 3: commands in, fd 4:
 * events and results out, NUL-separated JSON), so the browser tests drive Debian's Chromium with no
 * npm dependency. It records what the report must never do: console errors, uncaught exceptions, and
 * any network request other than the page's own file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** The real binary first: Debian's /usr/bin/chromium is a shell wrapper that adds its own flags. */
const CANDIDATES = [process.env['CHROMIUM'], '/usr/lib/chromium/chromium', '/usr/bin/chromium'];

export function chromiumPath(): string | null {
  return CANDIDATES.find((p): p is string => typeof p === 'string' && fs.existsSync(p)) ?? null;
}

type Json = Record<string, unknown>;
interface Pending {
  resolve: (v: Json) => void;
  reject: (e: Error) => void;
  method: string;
}

export interface PageEvents {
  console: { type: string; text: string }[];
  exceptions: string[];
  log: { level: string; source: string; text: string }[];
  requests: string[];
}

export class Browser {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners: ((method: string, params: Json, sessionId?: string) => void)[] = [];
  private readonly out: Writable;

  private constructor(
    private readonly proc: ChildProcess,
    private readonly profile: string,
  ) {
    this.out = proc.stdio[3] as Writable;
    const input = proc.stdio[4] as Readable;
    let buf = '';
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => {
      buf += chunk;
      for (let end = buf.indexOf('\0'); end >= 0; end = buf.indexOf('\0')) {
        const msg = JSON.parse(buf.slice(0, end)) as Json;
        buf = buf.slice(end + 1);
        this.dispatch(msg);
      }
    });
    proc.on('exit', () => {
      for (const p of this.pending.values()) p.reject(new Error(`chromium exited during ${p.method}`));
      this.pending.clear();
    });
  }

  static async launch(): Promise<Browser> {
    const exe = chromiumPath();
    if (!exe) throw new Error('chromium not found (apt-get install chromium)');
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'hoptrace-chromium-'));
    const proc = spawn(
      exe,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-extensions',
        '--disable-default-apps',
        '--no-first-run',
        '--no-default-browser-check',
        '--hide-scrollbars',
        '--mute-audio',
        `--user-data-dir=${profile}`,
        '--remote-debugging-pipe',
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
    );
    proc.stderr?.resume();
    const b = new Browser(proc, profile);
    await b.send('Browser.getVersion');
    return b;
  }

  private dispatch(msg: Json): void {
    if (typeof msg['id'] === 'number') {
      const p = this.pending.get(msg['id']);
      if (!p) return;
      this.pending.delete(msg['id']);
      const err = msg['error'] as { message?: string } | undefined;
      if (err) p.reject(new Error(`${p.method}: ${err.message ?? 'CDP error'}`));
      else p.resolve((msg['result'] ?? {}) as Json);
      return;
    }
    const sessionId = typeof msg['sessionId'] === 'string' ? msg['sessionId'] : undefined;
    for (const l of this.listeners) l(String(msg['method']), (msg['params'] ?? {}) as Json, sessionId);
  }

  send(method: string, params: Json = {}, sessionId?: string): Promise<Json> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.out.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  }

  onEvent(l: (method: string, params: Json, sessionId?: string) => void): void {
    this.listeners.push(l);
  }

  async newPage(width = 1400, height = 900): Promise<Page> {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true });
    const page = new Page(this, String(sessionId));
    await page.init(width, height);
    return page;
  }

  async close(): Promise<void> {
    const exited = new Promise((r) => this.proc.once('exit', r));
    await this.send('Browser.close').catch(() => undefined);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    fs.rmSync(this.profile, { recursive: true, force: true });
  }
}

export class Page {
  readonly events: PageEvents = { console: [], exceptions: [], log: [], requests: [] };
  private loadWaiters: (() => void)[] = [];

  constructor(
    private readonly browser: Browser,
    readonly sessionId: string,
  ) {
    browser.onEvent((method, params, sid) => {
      if (sid !== this.sessionId) return;
      if (method === 'Runtime.consoleAPICalled') {
        const args = (params['args'] as { value?: unknown; description?: string }[]) ?? [];
        this.events.console.push({
          type: String(params['type']),
          text: args.map((a) => String(a.value ?? a.description ?? '')).join(' '),
        });
      } else if (method === 'Runtime.exceptionThrown') {
        const d = params['exceptionDetails'] as { text?: string; exception?: { description?: string } };
        this.events.exceptions.push(`${d.text ?? ''} ${d.exception?.description ?? ''}`);
      } else if (method === 'Log.entryAdded') {
        const e = params['entry'] as { level: string; source: string; text: string };
        this.events.log.push({ level: e.level, source: e.source, text: e.text });
      } else if (method === 'Network.requestWillBeSent') {
        this.events.requests.push(String((params['request'] as { url: string }).url));
      } else if (method === 'Page.loadEventFired') {
        for (const w of this.loadWaiters.splice(0)) w();
      }
    });
  }

  send(method: string, params: Json = {}): Promise<Json> {
    return this.browser.send(method, params, this.sessionId);
  }

  async init(width: number, height: number): Promise<void> {
    for (const domain of ['Page', 'Runtime', 'Log', 'Network']) await this.send(`${domain}.enable`);
    await this.send('Emulation.setDeviceMetricsOverride', {
      width,
      height,
      deviceScaleFactor: 1,
      mobile: false,
    });
  }

  async goto(url: string): Promise<number> {
    const t0 = performance.now();
    const loaded = new Promise<void>((r) => this.loadWaiters.push(r));
    await this.send('Page.navigate', { url });
    await loaded;
    return performance.now() - t0;
  }

  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
    if (r['exceptionDetails']) throw new Error(`evaluate failed: ${JSON.stringify(r['exceptionDetails'])}`);
    return (r['result'] as { value: T }).value;
  }

  /** PNG of the page region `selector` covers (the whole page with `html`). */
  async screenshot(file: string, selector = 'html'): Promise<void> {
    const rect = await this.evaluate<{ x: number; y: number; width: number; height: number }>(
      `(() => { const r = document.querySelector(${JSON.stringify(selector)}).getBoundingClientRect();
        return { x: r.left + scrollX, y: r.top + scrollY, width: Math.ceil(r.width), height: Math.ceil(r.height) }; })()`,
    );
    const r = await this.send('Page.captureScreenshot', {
      format: 'png',
      captureBeyondViewport: true,
      clip: { ...rect, height: Math.min(rect.height, 8000), scale: 1 },
    });
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, Buffer.from(String(r['data']), 'base64'));
  }

  async printToPdf(file: string): Promise<number> {
    const r = await this.send('Page.printToPDF', { printBackground: true, preferCSSPageSize: false });
    const pdf = Buffer.from(String(r['data']), 'base64');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, pdf);
    return pdf.length;
  }

  setMedia(media: 'print' | 'screen'): Promise<Json> {
    return this.send('Emulation.setEmulatedMedia', { media });
  }

  /** Types text into the focused element as key events would, then waits two frames. */
  async type(selector: string, text: string): Promise<void> {
    await this.evaluate(`document.querySelector(${JSON.stringify(selector)}).focus()`);
    await this.send('Input.insertText', { text });
    await this.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
  }

  async click(selector: string): Promise<void> {
    const c = await this.evaluate<{ x: number; y: number }>(
      `(() => { const el = document.querySelector(${JSON.stringify(selector)}); el.scrollIntoView({ block: 'center' });
        const r = el.getBoundingClientRect(); return { x: r.left + r.width / 2, y: r.top + r.height / 2 }; })()`,
    );
    for (const type of ['mousePressed', 'mouseReleased'])
      await this.send('Input.dispatchMouseEvent', { type, x: c.x, y: c.y, button: 'left', clickCount: 1 });
    await this.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
  }
}
