/**
 * Debian's Chromium driven by playwright-core (never a browser it downloads), behind the small API the
 * browser tests and the report bench use. It records what the report must never do: console errors,
 * uncaught exceptions, browser log errors (CSP violations and blocked loads arrive there), and any
 * network request other than the page's own file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type CDPSession, chromium, type Browser as PwBrowser, type Page as PwPage } from 'playwright-core';

/** Debian's /usr/bin/chromium is a shell wrapper that adds its own flags; the real binary sits behind it. */
const CANDIDATES = [process.env['CHROMIUM'], '/usr/lib/chromium/chromium', '/usr/bin/chromium'];

export function chromiumPath(): string | null {
  return CANDIDATES.find((p): p is string => typeof p === 'string' && fs.existsSync(p)) ?? null;
}

export interface PageEvents {
  console: { type: string; text: string }[];
  exceptions: string[];
  log: { level: string; source: string; text: string }[];
  requests: string[];
}

/** Two animation frames: what a click or an input needs before the page shows its result. */
const SETTLE = 'new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))';

export class Browser {
  private constructor(private readonly browser: PwBrowser) {}

  static async launch(): Promise<Browser> {
    const exe = chromiumPath();
    if (!exe) throw new Error('chromium not found (apt-get install chromium)');
    const browser = await chromium.launch({
      executablePath: exe,
      headless: true,
      // as root there is no sandbox; background services would try the network this machine does not have
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--hide-scrollbars',
        '--mute-audio',
      ],
    });
    return new Browser(browser);
  }

  async newPage(width = 1400, height = 900): Promise<Page> {
    const page = await this.browser.newPage({ viewport: { width, height } });
    const cdp = await page.context().newCDPSession(page);
    const wrapped = new Page(page, cdp);
    await wrapped.init();
    return wrapped;
  }

  async close(): Promise<void> {
    await this.browser.close();
  }
}

export class Page {
  readonly events: PageEvents = { console: [], exceptions: [], log: [], requests: [] };

  constructor(
    private readonly page: PwPage,
    private readonly cdp: CDPSession,
  ) {
    page.on('console', (m) => this.events.console.push({ type: m.type(), text: m.text() }));
    page.on('pageerror', (e) => this.events.exceptions.push(`${e.name}: ${e.message}`));
    page.on('request', (r) => this.events.requests.push(r.url()));
    cdp.on('Log.entryAdded', (p) =>
      this.events.log.push({ level: p.entry.level, source: p.entry.source, text: p.entry.text }),
    );
  }

  async init(): Promise<void> {
    await this.cdp.send('Log.enable');
  }

  /** Navigates and waits for the load event; returns the milliseconds it took. */
  async goto(url: string): Promise<number> {
    const t0 = performance.now();
    await this.page.goto(url, { waitUntil: 'load' });
    return performance.now() - t0;
  }

  /** Evaluates an expression (a string, as the tests build them) and returns its JSON value. */
  async evaluate<T>(expression: string): Promise<T> {
    return (await this.page.evaluate(expression)) as T;
  }

  /**
   * PNG of the element `selector` (the whole page with `html`). The element is scrolled into view first:
   * the report lays out flow details only near the screen (content-visibility), so a detail captured
   * where it sits off-screen would come out blank.
   */
  async screenshot(file: string, selector = 'html'): Promise<void> {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (selector === 'html') {
      await this.page.screenshot({ path: file, fullPage: true });
      return;
    }
    const el = this.page.locator(selector).first();
    await el.scrollIntoViewIfNeeded();
    await this.evaluate(SETTLE);
    await el.screenshot({ path: file });
  }

  async printToPdf(file: string): Promise<number> {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const pdf = await this.page.pdf({ path: file, printBackground: true });
    return pdf.length;
  }

  async setMedia(media: 'print' | 'screen'): Promise<void> {
    await this.page.emulateMedia({ media });
  }

  /** Types text into the element as a person would, then waits two frames. */
  async type(selector: string, text: string): Promise<void> {
    await this.page.locator(selector).first().pressSequentially(text);
    await this.evaluate(SETTLE);
  }

  async click(selector: string): Promise<void> {
    await this.page.locator(selector).first().click();
    await this.evaluate(SETTLE);
  }
}
