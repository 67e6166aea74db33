// Drives the operator page in Debian's headless Chromium with playwright-core, the way an operator would, and prints
// what the page showed as one JSON object on stdout. OperatorPageTests runs it and checks the figures.
//
//   node drive-operator-page.cjs <json settings>
//   settings: {opsTools, chromium, baseUrl, apiKey, model, version, segment, classes, windows, reason, screenshot}
'use strict';

const path = require('path');

const settings = JSON.parse(process.argv[2]);
const { chromium } = require(path.join(settings.opsTools, 'node_modules', 'playwright-core'));

async function main() {
  const browser = await chromium.launch({
    executablePath: settings.chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const seen = { requests: [], console: [] };
  let page = null;
  try {
    page = await browser.newPage({ viewport: { width: 1400, height: 1300 } });
    page.setDefaultTimeout(20000);
    page.on('console', (m) => seen.console.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => seen.console.push(`pageerror: ${e.message}`));
    page.on('request', (r) => {
      if (r.url().includes('/api/v1/')) {
        seen.requests.push({ method: r.method(), url: r.url(), apiKey: r.headers()['x-api-key'] ?? null });
      }
    });
    const byTestId = (id) => page.locator(`[data-testid="${id}"]`);

    await page.goto(new URL('ui/', settings.baseUrl).toString());
    await page.waitForSelector('body[data-ready="true"]');

    // Log in: the key goes to sessionStorage and rides on every API request as X-API-Key.
    await byTestId('api-key').fill(settings.apiKey);
    await byTestId('login-button').click();
    await page.waitForFunction(() => !document.querySelector('[data-testid="identity"]').textContent.includes('not logged in'));
    const identity = await byTestId('identity').textContent();
    const storedKey = await page.evaluate(() => sessionStorage.getItem('confusionmatrix.apiKey'));

    // Model, version, segment, matrix.
    await byTestId('model-input').fill(settings.model);
    await byTestId('model-open').click();
    await byTestId(`version-${settings.version}`).waitFor();
    await byTestId('version-select').selectOption(settings.version);
    await byTestId('segment-select').selectOption(settings.segment);
    await byTestId('window-select').selectOption('all');
    await byTestId('matrix-open').click();
    await byTestId('matrix-section').waitFor({ state: 'visible' });
    await byTestId(`cell-${settings.classes[0]}-${settings.classes[0]}`).waitFor();

    const cells = {};
    for (const actual of settings.classes) {
      for (const predicted of settings.classes) {
        const cell = byTestId(`cell-${actual}-${predicted}`);
        cells[`${actual}|${predicted}`] = {
          text: (await cell.textContent()).trim(),
          count: await cell.getAttribute('data-count'),
          title: await cell.getAttribute('title'),
          background: await cell.evaluate((e) => getComputedStyle(e).backgroundColor),
        };
      }
    }
    const metrics = {};
    for (const c of settings.classes) {
      for (const w of settings.windows) {
        for (const m of ['recall', 'precision']) {
          metrics[`${m}|${c}|${w}`] = (await byTestId(`${m}-${c}-${w}`).textContent()).trim();
        }
      }
    }
    const total = (await byTestId('matrix-total').textContent()).trim();
    const coverage = (await byTestId('coverage-ratio').textContent()).trim();
    const labelled = (await byTestId('coverage-labelled').textContent()).trim();
    const phaseBefore = (await byTestId('rollout-phase').textContent()).trim();
    const verdictRows = await page.locator('[data-testid^="verdict-"]').count();

    // Pause the canary, giving a reason in the dialog.
    await byTestId('rollout-pause').click();
    await byTestId('reason-dialog').waitFor({ state: 'visible' });
    await byTestId('reason-input').fill(settings.reason);
    await byTestId('reason-confirm').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="rollout-phase"]')?.textContent.trim() === 'paused');
    const phaseAfter = (await byTestId('rollout-phase').textContent()).trim();
    const status = (await byTestId('status').textContent()).trim();
    const lastHistory = (await page.locator('[data-testid^="history-"]').first().textContent()).trim();

    await byTestId('matrix-section').scrollIntoViewIfNeeded();
    await page.screenshot({ path: settings.screenshot, fullPage: true });

    process.stdout.write(JSON.stringify({
      ok: true, identity, storedKey, cells, metrics, total, coverage, labelled, phaseBefore, phaseAfter, status,
      lastHistory, verdictRows, requests: seen.requests, console: seen.console,
    }));
  } catch (error) {
    // What the page showed when it went wrong is the best clue; the test keeps the screenshot either way.
    await page?.screenshot({ path: settings.screenshot, fullPage: true }).catch(() => {});
    process.stdout.write(JSON.stringify({ ok: false, error: String(error && error.stack || error), requests: seen.requests, console: seen.console }));
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

main();
