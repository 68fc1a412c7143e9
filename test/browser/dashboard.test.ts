/**
 * The owner's dashboard in real Chromium (Debian `chromium`, driven by playwright-core) against
 * a real Node-RED with adminAuth: log in, claim by ID and by QR code (photo upload and the
 * camera), view-only users refused with 403. Screenshots go to test/artifacts/.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { requirePeer } from '../support/peers';
import { startGateway, OWNER, VIEWER, type Gateway } from './gateway-fixture';
import { qrPng, qrY4m } from './qr-images';

const ARTIFACTS = resolve(__dirname, '..', 'artifacts');
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };

const FLOW = [
  { id: 'tab1', type: 'tab', label: 'gateway' },
  { id: 'share1', type: 'data-sharing', z: 'tab1', name: '', provisioning: '', thirdParties: 'utility', wires: [[], [], [], []] },
];

describe('dashboard in Chromium', { timeout: 170_000 }, () => {
  let gw: Gateway;
  let browser: Browser;
  let work: string;

  before(async () => {
    const executablePath = requirePeer('chromium', 'chromium');
    mkdirSync(ARTIFACTS, { recursive: true });
    work = mkdtempSync(join(tmpdir(), 'edge-gateway-camera-'));
    const camera = join(work, 'qr.y4m');
    writeFileSync(camera, qrY4m('lamp-cam'));
    gw = await startGateway(FLOW);
    browser = await chromium.launch({
      executablePath,
      args: ['--no-sandbox', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${camera}`],
    });
  });

  after(async () => {
    await browser?.close();
    await gw?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function loggedIn(user: { username: string; password: string }, viewport = PHONE): Promise<Page> {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    await page.goto(`${gw.red.url}/edge-gateway/`);
    await page.locator('#login').waitFor({ state: 'visible' });
    await page.fill('#login-user', user.username);
    await page.fill('#login-password', user.password);
    await page.click('#login-form button[type=submit]');
    await page.locator('#app').waitFor({ state: 'visible' });
    return page;
  }

  test('the page asks for a login, refuses a wrong password and shows the dashboard after a right one', async () => {
    const context = await browser.newContext({ viewport: PHONE });
    const page = await context.newPage();
    await page.goto(`${gw.red.url}/edge-gateway`);
    assert.equal(new URL(page.url()).pathname, '/edge-gateway/', 'redirected to the trailing slash');
    await page.locator('#login').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#app').isVisible(), false, 'nothing shown before login');
    await page.fill('#login-user', OWNER.username);
    await page.fill('#login-password', 'wrong');
    await page.click('#login-form button[type=submit]');
    await page.locator('#message.error').waitFor();
    assert.match(await page.locator('#message').innerText(), /Wrong user name or password/);
    await page.fill('#login-password', OWNER.password);
    await page.click('#login-form button[type=submit]');
    await page.locator('#app').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#claim').isVisible(), true);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-empty-phone.png'), fullPage: true });
    await page.setViewportSize(DESKTOP);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-empty-desktop.png'), fullPage: true });
    await context.close();
  });

  test('a QR code photo fills in the device ID', async () => {
    const page = await loggedIn(OWNER);
    await page.setInputFiles('#scan-file', { name: 'code.png', mimeType: 'image/png', buffer: await qrPng('lamp-qr') });
    await page.waitForFunction(() => (document.getElementById('claim-id') as HTMLInputElement).value === 'lamp-qr');
    assert.match(await page.locator('#message').innerText(), /Scanned lamp-qr/);
    await page.setInputFiles('#scan-file', { name: 'blank.png', mimeType: 'image/png', buffer: await qrPng('not a device id!') });
    await page.locator('#message.error').waitFor();
    assert.match(await page.locator('#message').innerText(), /holds no device ID/);
    await page.context().close();
  });

  test('the camera reads a QR code', async () => {
    const page = await loggedIn(OWNER);
    await page.click('#scan-camera');
    await page.waitForFunction(() => (document.getElementById('claim-id') as HTMLInputElement).value === 'lamp-cam', undefined, { timeout: 20_000 });
    assert.equal(await page.locator('#camera').isVisible(), false, 'the camera stops once a code is read');
    await page.context().close();
  });

  test('a view-only user sees the page without controls, and the API refuses changes with 403', async () => {
    const page = await loggedIn(VIEWER);
    assert.equal(await page.locator('#claim').isVisible(), false, 'no claim form for a viewer');
    assert.equal(await page.locator('#who').innerText(), 'view only');
    const status = await page.evaluate(async () => {
      const auth = JSON.parse(localStorage.getItem('edge-gateway-auth') ?? '{}') as { access_token: string };
      const res = await fetch('api/claims', { method: 'POST', headers: { Authorization: `Bearer ${auth.access_token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ id: 'lamp-x' }) });
      return res.status;
    });
    assert.equal(status, 403);
    const token = await gw.token(VIEWER);
    const put = await fetch(`${gw.red.url}/edge-gateway/api/devices/lamp-1/sharing`, { method: 'PUT', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{}' });
    assert.equal(put.status, 403);
    const del = await fetch(`${gw.red.url}/edge-gateway/api/claims/lamp-1`, { method: 'DELETE', headers: { Authorization: `Bearer ${token}` } });
    assert.equal(del.status, 403);
    assert.equal((await fetch(`${gw.red.url}/edge-gateway/api/state`, { headers: { Authorization: `Bearer ${token}` } })).status, 200, 'but may look');
    assert.equal((await fetch(`${gw.red.url}/edge-gateway/api/state`)).status, 401, 'nobody without a token');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-viewer-phone.png'), fullPage: true });
    await page.context().close();
  });
});
