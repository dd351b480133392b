import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { suiteFor, uploadFile } from '../../test-support/http';
import { password, signUp, startLocal, type LocalSystem } from '../../test-support/local';
import { bundledModels, modelName, modelsWithManifest, servedModel } from '../../test-support/models';

/*
 * The web page in real headless Chromium against the whole local process (real API, real model).
 * The page is the built one (web/dist, made by `pnpm build` before jest): this test builds nothing.
 * Locators go by role and label, so a control without an accessible name fails here.
 */

const chromiumPath = '/usr/bin/chromium';
const webDir = join(__dirname, '..', 'dist');
// Every run writes them; only `pnpm screenshots` writes the committed set in docs/screenshots (a normal
// run would otherwise leave the tree dirty: each shot shows the run's own dates and keys).
const screenshots = process.env.SCREENSHOTS_DIR ?? join(__dirname, '..', '..', 'test-results', 'screenshots');
const samples = join(bundledModels, modelName, 'samples');

const unavailable = !existsSync(chromiumPath)
  ? `${chromiumPath} is missing (Debian: apt-get install chromium)`
  : !existsSync(join(webDir, 'index.html'))
    ? 'web/dist is not built: run `pnpm build` first'
    : null;

const desktop = { width: 1280, height: 800 };
const phone = { width: 390, height: 844 };

suiteFor('web page in Chromium', 'chromium', unavailable, () => {
  jest.setTimeout(60_000);
  let sys: LocalSystem;
  let browser: Browser;
  let version: string;
  const adminEmail = 'grace@example.com';
  const feedbackAdminEmail = 'barbara@example.com';
  const modelsAdminEmail = 'models-admin@example.com';
  const adaptAdminEmail = 'adapt-admin@example.com';

  beforeAll(async () => {
    mkdirSync(screenshots, { recursive: true });
    version = (await servedModel()).version;
    [sys, browser] = await Promise.all([
      startLocal({
        WEB_DIR: webDir,
        ADMIN_EMAILS: `${adminEmail},${feedbackAdminEmail},${modelsAdminEmail},${adaptAdminEmail}`,
      }),
      chromium.launch({
        executablePath: chromiumPath,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--disable-quic',
        ],
      }),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await sys?.close();
  });

  /** A fresh browser profile; console errors (a CSP violation, an uncaught exception) fail the test. */
  async function open(viewport = desktop): Promise<{ page: Page; context: BrowserContext; problems: string[] }> {
    const context = await browser.newContext({ viewport, baseURL: sys.baseUrl });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      // A failed API call is logged by Chromium as a console error; those are expected answers here.
      if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) problems.push(msg.text());
    });
    return { page, context, problems };
  }

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true, animations: 'disabled' });

  async function signIn(page: Page, email: string, pass = password): Promise<void> {
    await page.goto('/sign-in');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(pass);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  async function uploadAndWait(page: Page, file: string): Promise<Locator> {
    await page.getByLabel(/Choose a photo/).setInputFiles(file);
    await page.getByRole('button', { name: 'Check this photo' }).click();
    const verdict = page.getByRole('status').filter({ has: page.getByRole('heading', { name: /Verdict/ }) });
    await verdict.waitFor();
    return verdict;
  }

  test('the whole journey: register, sign in, upload, verdict, My images, delete', async () => {
    const { page, context, problems } = await open();
    try {
      await page.goto('/');
      // Signed out, the page sends people to sign in.
      await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
      await shot(page, 'desktop-sign-in');

      await page.getByRole('link', { name: 'Create an account' }).click();
      await page.getByRole('heading', { level: 1, name: 'Create an account' }).waitFor();
      // Focus moves to the new view's heading, as after a page load.
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Create an account');
      await page.getByLabel('Email').fill('ada@example.com');
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Create account' }).click();

      await page.getByRole('status').filter({ hasText: 'Account created' }).waitFor();
      expect(await page.getByLabel('Email').inputValue()).toBe('ada@example.com');
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Sign in' }).click();

      await page.getByRole('heading', { level: 1, name: 'Is this bottle open or closed?' }).waitFor();
      const verdict = await uploadAndWait(page, join(samples, 'closed-1.jpg'));
      expect(await verdict.getByRole('heading').textContent()).toBe('Verdict: closed');
      const confidence = await verdict.getByText(/^Confidence/).textContent();
      expect(confidence).toMatch(/^Confidence \d{2}(\.\d+)? %$/);
      expect(Number(/([\d.]+) %/.exec(confidence ?? '')?.[1])).toBeGreaterThan(90);
      expect(await verdict.textContent()).toContain(`Model bottle-state version ${version}`);
      await page.getByRole('img', { name: 'Preview of closed-1.jpg' }).waitFor();
      await shot(page, 'desktop-verdict');

      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My images' }).click();
      const photos = page.getByRole('list', { name: 'Your photos, newest first' });
      const tile = photos.getByRole('listitem').filter({ hasText: 'closed-1.jpg' });
      await tile.getByText(/closed · \d/).waitFor();
      // The thumbnail came through the token-authenticated fetch as a blob: URL and decoded.
      await page.waitForFunction(() => {
        const img = document.querySelector<HTMLImageElement>('.grid img');
        return !!img?.src.startsWith('blob:') && img.complete && img.naturalWidth > 0;
      });
      await shot(page, 'desktop-my-images');

      await tile.getByRole('button', { name: 'Open closed-1.jpg' }).click();
      const dialog = page.getByRole('dialog', { name: 'closed-1.jpg' });
      await dialog.getByRole('heading', { name: 'Verdict: closed' }).waitFor();
      // The detail view offers the correction too; "Close" is the dialog's button, not "It is closed".
      await dialog
        .getByRole('group', { name: /^Wrong\?/ })
        .getByRole('button', { name: 'It is open' })
        .waitFor();
      await shot(page, 'desktop-image-detail');
      await dialog.getByRole('button', { name: 'Close', exact: true }).click();
      await dialog.waitFor({ state: 'hidden' });

      page.once('dialog', (confirm) => void confirm.accept());
      await tile.getByRole('button', { name: 'Delete closed-1.jpg' }).click();
      await page.getByRole('status').filter({ hasText: 'Deleted closed-1.jpg.' }).waitFor();
      expect(await photos.getByRole('listitem').count()).toBe(0);
      // Gone on the server too, not just from the page.
      await page.reload();
      await page.getByText('No photos yet.').waitFor();

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('status').filter({ hasText: 'You are signed out.' }).waitFor();
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  // The page shows the API's own words: each file is first sent straight to the API for its message.
  test.each([
    [
      'a text file',
      415,
      'notes.txt',
      'text/plain',
      () => Buffer.from('these are not the pixels you are looking for\n'),
    ],
    [
      'a photo over 10 MB',
      413,
      'big.jpg',
      'image/jpeg',
      () => Buffer.concat([readFileSync(join(samples, 'closed-1.jpg')), Buffer.alloc(11 * 1024 * 1024)]),
    ],
  ])('%s gets the API’s own error (%i), shown in words', async (_what, status, name, mimeType, bytes) => {
    const buffer = bytes();
    const direct = await uploadFile(sys.baseUrl, (await signUp(sys.api, `direct-${status}@example.com`)).accessToken, {
      bytes: buffer,
      filename: name,
    });
    expect(direct.status).toBe(status);
    const apiMessage = (direct.body.error as { message: string }).message;

    await signUp(sys.api, `upload-${status}@example.com`);
    const { page, context, problems } = await open();
    try {
      await signIn(page, `upload-${status}@example.com`);
      await page.getByLabel(/Choose a photo/).setInputFiles({ name, mimeType, buffer });
      await page.getByRole('button', { name: 'Check this photo' }).click();
      const alert = page.getByRole('alert').filter({ hasText: /\w/ });
      await alert.waitFor();
      expect((await alert.textContent())?.toLowerCase()).toContain(apiMessage.toLowerCase());
      if (status === 415) await shot(page, 'desktop-upload-error');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test('a photo dropped on the page is checked like a chosen one', async () => {
    await signUp(sys.api, 'drop@example.com');
    const { page, context, problems } = await open();
    try {
      await signIn(page, 'drop@example.com');
      await page.getByRole('heading', { level: 1, name: 'Is this bottle open or closed?' }).waitFor();
      const bytes = readFileSync(join(samples, 'open-1.jpg')).toString('base64');
      // What a browser does when a file is dropped: a drop event whose DataTransfer holds the file.
      const dataTransfer = await page.evaluateHandle((b64) => {
        const transfer = new DataTransfer();
        const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        transfer.items.add(new File([raw], 'open-1.jpg', { type: 'image/jpeg' }));
        return transfer;
      }, bytes);
      await page.locator('.dropzone').dispatchEvent('drop', { dataTransfer });
      await page.getByRole('img', { name: 'Preview of open-1.jpg' }).waitFor();
      await page.getByRole('button', { name: 'Check this photo' }).click();
      const verdict = page.getByRole('status').filter({ has: page.getByRole('heading', { name: /Verdict/ }) });
      await verdict.waitFor();
      expect(await verdict.getByRole('heading').textContent()).toBe('Verdict: open');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test('a verdict the model is not sure of says so: "Not sure: check by eye", on the verdict and in My images', async () => {
    // The same model with a certainty threshold no verdict reaches: every answer is a guess to check.
    const doubtful = await startLocal({
      WEB_DIR: webDir,
      MODEL_DIR: await modelsWithManifest((m) => ({ ...m, certainty_threshold: 0.999999999 })),
    });
    await signUp(doubtful.api, 'unsure@example.com');
    const context = await browser.newContext({ viewport: desktop, baseURL: doubtful.baseUrl });
    const page = await context.newPage();
    try {
      await signIn(page, 'unsure@example.com');
      const verdict = await uploadAndWait(page, join(samples, 'closed-1.jpg'));
      expect(await verdict.getByRole('heading').textContent()).toBe('Verdict: closed');
      await verdict.getByText('Not sure: check by eye').waitFor();
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My images' }).click();
      await page
        .getByRole('list', { name: 'Your photos, newest first' })
        .getByText(/closed · .* · not sure/)
        .waitFor();
    } finally {
      await context.close();
      await doubtful.close();
    }
  });

  test('a certain verdict carries no doubt notice', async () => {
    await signUp(sys.api, 'sure@example.com');
    const { page, context } = await open();
    try {
      await signIn(page, 'sure@example.com');
      const verdict = await uploadAndWait(page, join(samples, 'open-1.jpg'));
      const served = await servedModel();
      const confidence = Number(/([\d.]+) %/.exec((await verdict.getByText(/^Confidence/).textContent()) ?? '')?.[1]);
      const certain = served.certaintyThreshold === null || confidence / 100 >= served.certaintyThreshold;
      expect(await verdict.getByText('Not sure: check by eye').count()).toBe(certain ? 0 : 1);
    } finally {
      await context.close();
    }
  });

  test('a wrong password gets the API’s error, and the page stays on sign-in', async () => {
    await signUp(sys.api, 'wrong@example.com');
    const direct = await sys.api.post('/auth/login', {
      json: { email: 'wrong@example.com', password: 'not my password' },
    });
    expect(direct.status).toBe(401);
    const apiMessage = (direct.body.error as { message: string }).message;

    const { page, context } = await open(phone);
    try {
      await signIn(page, 'wrong@example.com', 'still not my password');
      const alert = page.getByRole('alert').filter({ hasText: /\w/ });
      await alert.waitFor();
      expect((await alert.textContent())?.toLowerCase()).toContain(apiMessage.toLowerCase());
      // Focus goes back to the password, ready for another try.
      expect(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.type)).toBe('password');
      await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
      await shot(page, 'phone-sign-in-error');
    } finally {
      await context.close();
    }
  });

  test('a refused access token is refreshed once with the refresh token; a refused refresh signs out', async () => {
    await signUp(sys.api, 'stale@example.com');
    const { page, context, problems } = await open();
    const stored = () =>
      page.evaluate(
        () => JSON.parse(sessionStorage.getItem('capcheck.session') ?? 'null') as { refreshToken: string } | null,
      );
    try {
      await signIn(page, 'stale@example.com');
      await page.getByRole('heading', { level: 1, name: 'Is this bottle open or closed?' }).waitFor();
      const before = await stored();
      // An access token the API refuses (as an expired one would be), then a reload.
      await page.evaluate(() => {
        const s = JSON.parse(sessionStorage.getItem('capcheck.session') ?? '{}') as object;
        sessionStorage.setItem('capcheck.session', JSON.stringify({ ...s, accessToken: 'expired' }));
      });
      await page.goto('/my-images');
      await page.getByRole('heading', { level: 1, name: 'My images' }).waitFor();
      await page.getByText('No photos yet.').waitFor();
      const after = await stored();
      expect(after?.refreshToken).toBeTruthy();
      expect(after?.refreshToken).not.toBe(before?.refreshToken); // rotated by POST /auth/refresh

      // Both refused (the session was revoked elsewhere): back to sign-in, saying why.
      await sys.api.post('/auth/logout', { json: { refreshToken: after?.refreshToken } });
      await page.evaluate(() => {
        const s = JSON.parse(sessionStorage.getItem('capcheck.session') ?? '{}') as object;
        sessionStorage.setItem('capcheck.session', JSON.stringify({ ...s, accessToken: 'expired' }));
      });
      await page.goto('/api-keys'); // a new page load: the tokens come from sessionStorage
      await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
      await page.getByRole('status').filter({ hasText: 'Your session has ended' }).waitFor();
      expect(await stored()).toBeNull();
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test('API keys: created and shown once, listed, revoked (and then refused by the API)', async () => {
    await signUp(sys.api, 'keys@example.com');
    const { page, context, problems } = await open();
    try {
      await signIn(page, 'keys@example.com');
      await page.getByRole('link', { name: 'API keys' }).click();
      await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
      await page.getByLabel('Key name').fill('line 3 camera');
      await page.getByRole('button', { name: 'Create key' }).click();
      const secret = page.locator('#new-key');
      await secret.waitFor();
      const key = (await secret.textContent()) ?? '';
      expect(key).toMatch(/^cck_/);
      const row = page.getByRole('row').filter({ hasText: 'line 3 camera' });
      await row.waitFor();
      expect(await row.textContent()).toContain(key.slice(0, 8));
      expect((await sys.api.post('/auth/token', { headers: { 'x-api-key': key } })).status).toBe(200);
      await shot(page, 'desktop-api-keys');

      page.once('dialog', (confirm) => void confirm.accept());
      await row.getByRole('button', { name: 'Revoke line 3 camera' }).click();
      await page.getByRole('status').filter({ hasText: 'Revoked line 3 camera.' }).waitFor();
      await row.waitFor({ state: 'detached' });
      expect((await sys.api.post('/auth/token', { headers: { 'x-api-key': key } })).status).toBe(401);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test('admins get the request log and a Grafana link; people do not', async () => {
    const { page, context, problems } = await open();
    try {
      const admin = await signUp(sys.api, adminEmail);
      expect(admin.role).toBe('admin');
      await signIn(page, adminEmail);
      await uploadAndWait(page, join(samples, 'open-1.jpg'));
      const nav = page.getByRole('navigation', { name: 'Main' });
      expect(await nav.getByRole('link', { name: 'Grafana' }).getAttribute('href')).toBe('/admin/grafana/');
      await nav.getByRole('link', { name: 'Request logs' }).click();
      const row = page
        .getByRole('row')
        .filter({ hasText: 'open' })
        .filter({ hasText: `bottle-state v${version}` });
      await row.first().waitFor();
      await shot(page, 'desktop-request-logs');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
    const user = await open();
    try {
      await signUp(sys.api, 'plain@example.com');
      await signIn(user.page, 'plain@example.com');
      await user.page.getByRole('heading', { level: 1, name: 'Is this bottle open or closed?' }).waitFor();
      expect(await user.page.getByRole('link', { name: 'Request logs' }).count()).toBe(0);
      await user.page.goto('/request-logs');
      await user.page.getByRole('heading', { level: 1, name: 'Page not found' }).waitFor();
    } finally {
      await user.context.close();
    }
  });

  test('"Wrong? It is open" records the answer and confirms it; admins see it under Feedback', async () => {
    const owner = await signUp(sys.api, 'corrects@example.com');
    const { page, context, problems } = await open();
    let imageId = '';
    try {
      await signIn(page, 'corrects@example.com');
      const verdict = await uploadAndWait(page, join(samples, 'closed-1.jpg'));
      expect(await verdict.getByRole('heading').textContent()).toBe('Verdict: closed');
      const feedback = page.getByRole('group', { name: /^Wrong\?/ });
      const wrong = feedback.getByRole('button', { name: 'It is open' });
      const right = feedback.getByRole('button', { name: 'It is closed' });
      await wrong.click();
      await feedback.getByRole('status').filter({ hasText: 'Thanks: recorded that it is open, not closed.' }).waitFor();
      expect([await wrong.getAttribute('aria-pressed'), await right.getAttribute('aria-pressed')]).toEqual([
        'true',
        'false',
      ]);
      await shot(page, 'desktop-feedback');
      // With the keyboard, the other answer: the last one wins.
      await right.focus();
      await page.keyboard.press('Enter');
      await feedback.getByRole('status').filter({ hasText: 'recorded that it is closed, as the model said' }).waitFor();
      expect(await right.getAttribute('aria-pressed')).toBe('true');
      const images = await sys.api.get<{ items: { id: string }[] }>('/images', { token: owner.accessToken });
      imageId = images.body.items[0]!.id;
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }

    await signUp(sys.api, feedbackAdminEmail);
    const admin = await open();
    try {
      await signIn(admin.page, feedbackAdminEmail);
      await admin.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Feedback' }).click();
      await admin.page.getByRole('heading', { level: 1, name: 'Feedback' }).waitFor();
      const row = admin.page.getByRole('row').filter({ hasText: imageId.slice(0, 8) });
      await row.waitFor();
      const cells = await row.getByRole('cell').allTextContents();
      expect(cells.slice(1, 3)).toEqual(['closed', 'closed']); // the last answer, and the model's verdict
      expect(cells[4]).toBe('yes');
      await shot(admin.page, 'desktop-feedback-admin');
      expect(admin.problems).toEqual([]);
    } finally {
      await admin.context.close();
    }
  });

  test('admins roll out a version from the Models page, with the keyboard', async () => {
    const { page, context, problems } = await open();
    try {
      expect((await signUp(sys.api, modelsAdminEmail)).role).toBe('admin');
      await signIn(page, modelsAdminEmail);
      await page.getByRole('heading', { level: 1, name: 'Is this bottle open or closed?' }).waitFor();
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Models' }).click();
      await page.getByRole('heading', { level: 1, name: 'Models' }).waitFor();
      await page.getByText(`v${version} on`).waitFor();
      // Keyboard only: the version, then the mode group (arrow keys), the share, Enter.
      await page.getByLabel('Version', { exact: true }).fill('1');
      await page.getByLabel('Version', { exact: true }).press('Tab');
      await page.keyboard.press('ArrowDown'); // shadow -> canary
      expect(await page.getByRole('radio', { name: /Canary/ }).isChecked()).toBe(true);
      await page.getByLabel('Share of images (%)').fill('25');
      await page.getByLabel('Share of images (%)').press('Enter');
      await page
        .getByRole('status')
        .filter({ hasText: `Rolled out: serving v${version}; candidate v1, canary on 25 % of images.` })
        .waitFor();
      await shot(page, 'desktop-models');
      // An unknown version: the API's words, as an alert.
      await page.getByLabel('Version', { exact: true }).fill('99');
      await page.getByRole('button', { name: 'Roll out' }).click();
      await page.getByRole('alert').filter({ hasText: 'has no version 99' }).waitFor();
      // Back to the shipped version alone, for the other tests.
      await page.getByLabel('Version', { exact: true }).fill(version);
      await page.getByRole('radio', { name: /Full/ }).check();
      await page.getByRole('button', { name: 'Roll out' }).click();
      await page
        .getByRole('status')
        .filter({ hasText: `Rolled out: serving v${version}; candidate none.` })
        .waitFor();
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test('admins start an adaptation from the Models page; too few labelled pictures is said plainly', async () => {
    const { page, context, problems } = await open();
    try {
      expect((await signUp(sys.api, adaptAdminEmail)).role).toBe('admin');
      await signIn(page, adaptAdminEmail);
      await page.getByRole('heading', { level: 1, name: 'Is this bottle open or closed?' }).waitFor();
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Models' }).click();
      const card = page.getByRole('region', { name: 'Adapt to your pictures' });
      await card.getByRole('cell', { name: 'None yet.' }).waitFor();
      await card.getByRole('button', { name: 'Adapt to the feedback' }).click();
      // This run's owners labelled one or two pictures at most: the API's 422, in its own words.
      await card.getByRole('alert').filter({ hasText: 'too few labelled pictures to adapt' }).waitFor();
      expect(await card.getByRole('alert').textContent()).toMatch(/open: \d \(\d more needed\)/);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test('phone width: nothing scrolls sideways; the main screens', async () => {
    await signUp(sys.api, 'phone@example.com');
    const { page, context, problems } = await open(phone);
    const noSidewaysScroll = () =>
      page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);
    try {
      await page.goto('/sign-in');
      await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
      await shot(page, 'phone-sign-in');
      await signIn(page, 'phone@example.com');
      await uploadAndWait(page, join(samples, 'closed-2.jpg'));
      expect(await noSidewaysScroll()).toBe(true);
      await shot(page, 'phone-verdict');
      await page.getByRole('link', { name: 'See it in My images' }).click();
      await page
        .getByRole('listitem')
        .filter({ hasText: 'closed-2.jpg' })
        .getByText(/closed · \d/)
        .waitFor();
      expect(await noSidewaysScroll()).toBe(true);
      await shot(page, 'phone-my-images');
      // 375 px, the narrowest common phone.
      await page.setViewportSize({ width: 375, height: 812 });
      expect(await noSidewaysScroll()).toBe(true);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
