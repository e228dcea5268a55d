// The playground in a real browser (Debian's Chromium driven by
// playwright-core): a query runs and shows its result, a subscription shows
// an event caused by a mutation from elsewhere. A screenshot is kept in
// artifacts/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { FOLIO_URL, register, publishArticle, addComment } from './helpers.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
let browser;

before(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
});

/** Replaces the operation editor's text, as pasting would. */
async function setOperation(page, text) {
  await page.locator('.graphiql-query-editor .monaco-editor').first().click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
  // GraphiQL reads the operation (and its name) from the editor shortly
  // after a change.
  await page.waitForTimeout(500);
}

async function run(page) {
  await page.locator('.graphiql-execute-button').click();
}

/** Waits until the result pane shows `text`. */
async function resultShows(page, text, timeout = 15_000) {
  await page.waitForFunction(
    // Monaco wraps long lines and renders spaces as no-break spaces.
    (expected) => {
      const squeeze = (text) => text.replace(/\s+/g, '');
      const shown = document.querySelector('.result-window')?.innerText ?? '';
      return squeeze(shown).includes(squeeze(expected));
    },
    text,
    { timeout },
  );
}

test('a query and a subscription run in the playground', async () => {
  const author = await register('browser');
  const article = await publishArticle(author.token, `Seen in a browser ${Date.now()}`);
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const failedRequests = [];
  page.on('requestfailed', (request) => failedRequests.push(request.url()));
  const blocked = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) {
      blocked.push(message.text());
    }
  });
  const external = [];
  page.on('request', (request) => {
    if (!request.url().startsWith(FOLIO_URL) && !request.url().startsWith('ws')) {
      external.push(request.url());
    }
  });

  await page.goto(`${FOLIO_URL}/playground`);
  await page.locator('.graphiql-query-editor').waitFor();
  // The Examples panel lists the tour.
  for (const name of ['browse-articles', 'log-in', 'paginate', 'watch-comments']) {
    await page.locator(`[data-example="${name}"]`).waitFor();
  }

  await setOperation(page, `{ article(slug: "${article.slug}") { title author { username } } }`);
  await run(page);
  await resultShows(page, article.title).catch(async (err) => {
    await page.screenshot({ path: new URL('./artifacts/playground-failed.png', import.meta.url).pathname });
    throw err;
  });

  // The headers editor makes the playground act as a user.
  await page.getByText('Headers', { exact: true }).click();
  await page.locator('.graphiql-editor-tool .monaco-editor').last().click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(`{"Authorization": "Bearer ${author.token}"}`);
  await setOperation(page, '{ viewer { username } }');
  await run(page);
  await resultShows(page, author.username);

  const body = `live from node ${Date.now()}`;
  await setOperation(
    page,
    `subscription { commentAdded(articleId: "${article.id}") { body author { username } } }`,
  );
  await run(page);
  // The subscription is open once the server has it; comment until the
  // event shows (the first comment may race the subscribe message).
  const deadline = Date.now() + 15_000;
  let shown = false;
  while (!shown && Date.now() < deadline) {
    await addComment(author.token, article.id, body);
    shown = await resultShows(page, body, 1_000).then(() => true, () => false);
  }
  assert.ok(shown, 'the comment arrived in the result pane');
  await page.screenshot({ path: new URL('./artifacts/playground.png', import.meta.url).pathname });
  assert.deepEqual(external, [], 'nothing is fetched from outside Folio');
  assert.deepEqual(failedRequests, []);
  assert.deepEqual(blocked, [], 'the page works within its Content-Security-Policy');
  await page.close();
});
