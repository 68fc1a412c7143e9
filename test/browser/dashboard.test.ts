/**
 * The owner's dashboard in real Chromium (Debian `chromium`, driven by playwright-core) against
 * a real Node-RED with adminAuth, the embedded broker, device-provisioning and data-sharing:
 * log in, claim by ID and by QR code (photo upload and camera), a simulated device provisions
 * and appears, its sharing choices change what data-sharing sends, notices appear, view-only
 * users get 403, the editor's sidebar tab lists the device, and a device dimmed by a utility
 * event (load-control with the test VTN) is opted out by the owner. Screenshots go to test/artifacts/.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { MqttClient } from 'mqtt';
import { requirePeer, runPeer } from '../support/peers';
import { freePort } from '../support/free-port';
import { makeTestPki, type TestPki } from '../support/certs';
import { provision } from '../../examples/device-simulator/simulator';
import { startGateway, OWNER, VIEWER, type Gateway } from './gateway-fixture';
import { gatewayFlow, type RecordedOutput } from './gateway-flow';
import { TestVtn } from '../support/openadr-vtn';
import { qrPng, qrY4m } from './qr-images';

const ARTIFACTS = resolve(__dirname, '..', 'artifacts');
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };

const VENDORS = [{ vendor: 'Acme', name: 'Acme Lighting', url: 'https://acme.example/support', support: 'support@acme.example' }];

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('dashboard in Chromium', { timeout: 200_000 }, () => {
  let gw: Gateway;
  let vtn: TestVtn;
  let programID = '';
  let browser: Browser;
  let pki: TestPki;
  let work: string;
  let tlsUrl: string;
  let coapPort: number;
  const devices: MqttClient[] = [];

  before(async () => {
    const executablePath = requirePeer('chromium', 'chromium');
    mkdirSync(ARTIFACTS, { recursive: true });
    work = mkdtempSync(join(tmpdir(), 'edge-gateway-camera-'));
    const camera = join(work, 'qr.y4m');
    writeFileSync(camera, qrY4m('lamp-cam'));
    pki = makeTestPki();
    const ports = { tls: await freePort(), loopback: await freePort(), coap: await freePort() };
    coapPort = ports.coap;
    tlsUrl = `mqtts://127.0.0.1:${ports.tls}`;
    vtn = new TestVtn();
    await vtn.start();
    programID = vtn.publishProgram({ programName: 'peak-saver', retailerName: 'ACME' }).id as string;
    gw = await startGateway([], { edgeGateway: { vendorCatalogue: VENDORS } });
    await gw.deploy(gatewayFlow(pki, ports, vtn.baseUrl));
    // The flow's MQTT client may try before the broker listens; it retries on its own.
    await until('the flow subscribes to device data', async () => (/\[mqtt-broker:gateway loopback\] Connected to broker/.test(gw.red.output()) ? true : undefined), 30_000);
    browser = await chromium.launch({
      executablePath,
      args: ['--no-sandbox', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${camera}`],
    });
  });

  after(async () => {
    for (const d of devices) d.end(true);
    await browser?.close();
    await gw?.stop();
    await vtn?.stop();
    pki?.remove();
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

  async function outputs(): Promise<RecordedOutput[]> {
    const res = await fetch(`${gw.red.url}/sharing-outputs`);
    const text = await res.text();
    return text ? (JSON.parse(text) as RecordedOutput[]) : [];
  }

  /** A device provisions with the reference simulator; its MQTT client stays connected. */
  async function connectDevice(id: string): Promise<MqttClient> {
    const cert = pki.device(id);
    const r = await provision({ id, cert: cert.cert, key: cert.key, ca: pki.ca.cert, local: tlsUrl, firmware: '2.4.1', model: 'L1', vendor: 'Acme', behaviours: ['switch', 'dimmer'] });
    if (r.mode !== 'provisioned') assert.fail(`device ${id} did not provision: ${JSON.stringify(r.local)}`);
    devices.push(r.client);
    return r.client;
  }

  function publish(client: MqttClient, topic: string, payload: unknown): Promise<void> {
    return new Promise((resolve, reject) => client.publish(topic, JSON.stringify(payload), { qos: 1 }, (err) => (err ? reject(err) : resolve())));
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
    await context.close();
  });

  test('claim by ID; the device provisions and appears with its details and vendor information', async () => {
    const page = await loggedIn(OWNER);
    await page.fill('#claim-id', 'lamp-1');
    await page.fill('#claim-label', 'hall light');
    await page.click('#claim-submit');
    await page.locator('#claims li[data-claim="lamp-1"]').waitFor();
    assert.match(await page.locator('#claims li[data-claim="lamp-1"]').innerText(), /hall light/);

    await connectDevice('lamp-1');
    const card = page.locator('#devices li[data-device="lamp-1"]');
    await card.waitFor({ timeout: 15_000 });
    await page.locator('#claims li[data-claim="lamp-1"]').waitFor({ state: 'detached' });
    const text = await card.innerText();
    for (const expected of ['hall light (lamp-1)', 'MQTT', 'online', 'L1', '2.4.1', 'Acme Lighting', 'support@acme.example', 'switch, dimmer', 'Last seen']) {
      assert.ok(text.includes(expected), `the card shows "${expected}":\n${text}`);
    }
    assert.equal(await card.locator('.dot.online').count(), 1);
    assert.equal(await card.locator('a[href="https://acme.example/support"]').count(), 1, 'the vendor link from the catalogue');
    await page.context().close();
  });

  test('a QR code photo fills in the device ID and the claim goes to device-provisioning', async () => {
    const page = await loggedIn(OWNER);
    await page.setInputFiles('#scan-file', { name: 'code.png', mimeType: 'image/png', buffer: await qrPng('lamp-qr') });
    await page.waitForFunction(() => (document.getElementById('claim-id') as HTMLInputElement).value === 'lamp-qr');
    assert.match(await page.locator('#message').innerText(), /Scanned lamp-qr/);
    await page.click('#claim-submit');
    await page.locator('#claims li[data-claim="lamp-qr"]').waitFor();
    const state = (await (await fetch(`${gw.red.url}/edge-gateway/api/state`, { headers: { Authorization: `Bearer ${await gw.token(OWNER)}` } })).json()) as { claims: Array<{ id: string; source: string }> };
    assert.deepEqual(state.claims.find((c) => c.id === 'lamp-qr')?.source, 'dashboard');

    await page.setInputFiles('#scan-file', { name: 'url.png', mimeType: 'image/png', buffer: await qrPng('https://acme.example/claim?id=lamp-url&x=1') });
    await page.waitForFunction(() => (document.getElementById('claim-id') as HTMLInputElement).value === 'lamp-url');

    await page.setInputFiles('#scan-file', { name: 'other.png', mimeType: 'image/png', buffer: await qrPng('not a device id!') });
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

  test("changing a device's sharing choices changes what data-sharing sends", async () => {
    const page = await loggedIn(OWNER, DESKTOP);
    await page.fill('#claim-id', 'lamp-2');
    await page.click('#claim-submit');
    await page.locator('#claims li[data-claim="lamp-2"]').waitFor();
    const client = await connectDevice('lamp-2');
    const card = page.locator('#devices li[data-device="lamp-2"]');
    await card.waitFor({ timeout: 15_000 });

    // Default: nothing leaves. The next reading is sent after the choice changes, so once it
    // arrives the first one has certainly been through data-sharing.
    await publish(client, 'devices/lamp-2/telemetry', { power: 11 });
    await card.locator('summary').click();
    await card.locator('select[name=vendor]').selectOption('raw');
    await card.locator('button[type=submit]').click();
    await page.locator('#message', { hasText: 'Choices for lamp-2 saved' }).waitFor();
    await publish(client, 'devices/lamp-2/telemetry', { power: 12 });
    const vendor = await until('the vendor output carries the second reading', async () => {
      const got = (await outputs()).filter((o) => o.deviceId === 'lamp-2' && o.port === 'vendor');
      return got.length > 0 ? got : undefined;
    });
    assert.deepEqual(vendor.map((o) => [o.payload, o.recipient]), [[{ power: 12 }, 'vendor']], 'only what was sent after the owner allowed it');
    assert.deepEqual((await outputs()).filter((o) => o.deviceId === 'lamp-2' && o.port === 'thirdParty'), []);

    // Now the utility gets raw data and the vendor nothing.
    await card.locator('select[name=vendor]').selectOption('none');
    await card.locator('select[name="third:utility"]').selectOption('raw');
    await card.locator('button[type=submit]').click();
    await page.locator('#message', { hasText: 'Choices for lamp-2 saved' }).waitFor();
    await publish(client, 'devices/lamp-2/telemetry', { power: 13 });
    const third = await until('the third-party output carries the third reading', async () => {
      const got = (await outputs()).filter((o) => o.deviceId === 'lamp-2' && o.port === 'thirdParty');
      return got.length > 0 ? got : undefined;
    });
    assert.deepEqual(third.map((o) => [o.payload, o.recipient]), [[{ power: 13 }, 'utility']]);
    assert.equal((await outputs()).filter((o) => o.deviceId === 'lamp-2' && o.port === 'vendor').length, 1, 'the vendor got nothing more');

    // A vendor command is refused (with a notice) until the owner allows commands.
    const command = () => fetch(`${gw.red.url}/vendor-command`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ deviceId: 'lamp-2', command: { brightness: 40 } }) });
    assert.equal((await command()).status, 204);
    await until('a notice for the refused command', async () => ((await outputs()).some((o) => o.port === 'notice' && o.deviceId === 'lamp-2') ? true : undefined));
    await card.locator('input[name=vendorCommands]').check();
    await card.locator('button[type=submit]').click();
    await page.locator('#message', { hasText: 'Choices for lamp-2 saved' }).waitFor();
    await command();
    const delivered = await until('the command reaches the device output', async () => (await outputs()).find((o) => o.port === 'device' && o.deviceId === 'lamp-2'));
    assert.deepEqual(delivered.payload, { brightness: 40 });

    await card.locator('summary').click();
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-desktop.png'), fullPage: true });
    await page.context().close();
  });

  test('the choices persist in the registry, load-control limits included', async () => {
    const page = await loggedIn(OWNER);
    const card = page.locator('#devices li[data-device="lamp-1"]');
    await card.waitFor();
    await card.locator('summary').click();
    await card.locator('select[name=vendor]').selectOption('summary:60');
    await card.locator('input[name=optIn]').check();
    await card.locator('input[name=quantity]').first().fill('brightness');
    await card.locator('input[name=min]').first().fill('30');
    await card.locator('button[type=submit]').click();
    await page.locator('#message', { hasText: 'Choices for lamp-1 saved' }).waitFor();
    const state = (await (await fetch(`${gw.red.url}/edge-gateway/api/state`, { headers: { Authorization: `Bearer ${await gw.token(OWNER)}` } })).json()) as {
      devices: Array<{ id: string; sharing?: unknown }>;
    };
    assert.deepEqual(state.devices.find((d) => d.id === 'lamp-1')?.sharing, {
      vendor: { mode: 'summary', windowMinutes: 60 },
      thirdParties: { utility: { mode: 'none' } },
      vendorCommands: false,
      loadControl: { optIn: true, limits: { brightness: { min: 30 } } },
    });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true });
    await page.context().close();
  });

  test('an unclaimed device and a mismatched identity show up as notices with time and reason', async () => {
    const page = await loggedIn(OWNER);
    const cert = pki.device('stranger-9');
    const r = await provision({ id: 'stranger-9', cert: cert.cert, key: cert.key, ca: pki.ca.cert, local: tlsUrl });
    assert.equal(r.mode, 'local', 'an unclaimed device is not provisioned');
    const notice = page.locator('#notices li.unclaimed', { hasText: 'stranger-9' });
    await notice.waitFor({ timeout: 15_000 });
    assert.match(await notice.innerText(), /Unclaimed device tried to connect/);
    assert.equal(await notice.locator('time[datetime]').count(), 1);

    // A certificate for one device announcing another ID.
    const other = pki.device('meter-4');
    const m = await provision({ id: 'meter-5', cert: other.cert, key: other.key, ca: pki.ca.cert, local: tlsUrl });
    assert.equal(m.mode, 'local');
    const mismatch = page.locator('#notices li.identity-mismatch');
    await mismatch.waitFor({ timeout: 15_000 });
    assert.match(await mismatch.innerText(), /Identity mismatch[\s\S]*meter-4/);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-notices-phone.png'), fullPage: true });
    await page.context().close();
  });

  test('an endpoint registered over CoAP (libcoap) appears beside the MQTT devices', async () => {
    const coapClient = requirePeer('coap-client-notls', 'libcoap3-bin');
    const page = await loggedIn(OWNER);
    const r = await runPeer(coapClient, ['-m', 'post', '-t', '40', '-e', '</light>;rt="light dimmer"', `coap://127.0.0.1:${coapPort}/rd?ep=bulb-7&lt=120&et=acme.bulb`]);
    assert.equal(r.code, 0, r.stderr);
    const card = page.locator('#devices li[data-device="bulb-7"]');
    await card.waitFor({ timeout: 15_000 });
    const text = await card.innerText();
    for (const expected of ['CoAP', 'online', 'acme.bulb', 'light, dimmer', 'coap://127.0.0.1']) assert.ok(text.includes(expected), `the card shows "${expected}":\n${text}`);
    assert.equal(await card.locator('details.sharing').isHidden(), true, 'no sharing choices: CoAP endpoints are not in the provisioning registry');
    await page.context().close();
  });

  test('a view-only user sees the devices without controls, and every change is refused with 403', async () => {
    const page = await loggedIn(VIEWER);
    await page.locator('#devices li[data-device="lamp-1"]').waitFor();
    assert.equal(await page.locator('#claim').isVisible(), false, 'no claim form for a viewer');
    assert.equal(await page.locator('#who').innerText(), 'view only');
    assert.equal(await page.locator('#devices li[data-device="lamp-1"] select[name=vendor]').isDisabled(), true);
    const status = await page.evaluate(async () => {
      const auth = JSON.parse(localStorage.getItem('edge-gateway-auth') ?? '{}') as { access_token: string };
      const res = await fetch('api/claims', { method: 'POST', headers: { Authorization: `Bearer ${auth.access_token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ id: 'lamp-x' }) });
      return res.status;
    });
    assert.equal(status, 403);
    const token = await gw.token(VIEWER);
    const choices = { vendor: { mode: 'raw' }, vendorCommands: true };
    const put = await fetch(`${gw.red.url}/edge-gateway/api/devices/lamp-1/sharing`, { method: 'PUT', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(choices) });
    assert.equal(put.status, 403);
    const del = await fetch(`${gw.red.url}/edge-gateway/api/claims/lamp-qr`, { method: 'DELETE', headers: { Authorization: `Bearer ${token}` } });
    assert.equal(del.status, 403);
    const state = (await (await fetch(`${gw.red.url}/edge-gateway/api/state`, { headers: { Authorization: `Bearer ${token}` } })).json()) as {
      claims: Array<{ id: string }>;
      devices: Array<{ id: string; sharing?: { vendorCommands: boolean } }>;
      canWrite: boolean;
    };
    assert.equal(state.canWrite, false);
    assert.ok(state.claims.some((c) => c.id === 'lamp-qr'), 'the claim is still there');
    assert.equal(state.devices.find((d) => d.id === 'lamp-1')?.sharing?.vendorCommands, false, 'the choice is unchanged');
    assert.equal((await fetch(`${gw.red.url}/edge-gateway/api/state`)).status, 401, 'nobody without a token');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-viewer-phone.png'), fullPage: true });
    await page.context().close();
  });

  test('a pending claim can be cancelled', async () => {
    const page = await loggedIn(OWNER);
    await page.fill('#claim-id', 'plug-tmp');
    await page.click('#claim-submit');
    const claim = page.locator('#claims li[data-claim="plug-tmp"]');
    await claim.waitFor();
    await claim.locator('button', { hasText: 'Cancel' }).click();
    await claim.waitFor({ state: 'detached' });
    const state = (await (await fetch(`${gw.red.url}/edge-gateway/api/state`, { headers: { Authorization: `Bearer ${await gw.token(OWNER)}` } })).json()) as { claims: Array<{ id: string }> };
    assert.equal(state.claims.some((c) => c.id === 'plug-tmp'), false);
    await page.context().close();
  });

  test("the editor's gateway sidebar tab lists the devices and links to the dashboard", async () => {
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    await page.goto(`${gw.red.url}/`);
    await page.locator('#node-dialog-login-username').waitFor({ timeout: 20_000 });
    await page.fill('#node-dialog-login-username', OWNER.username);
    await page.fill('#node-dialog-login-password', OWNER.password);
    await page.click('#node-dialog-login-submit');
    // The tab is registered by the plugin's editor script; show it as the editor's menu would.
    await page.locator('#red-ui-tab-edge-gateway').waitFor({ state: 'attached', timeout: 30_000 });
    // The editor may still switch to its own tab while it finishes loading: show ours until it stays.
    await page.waitForFunction(
      () => {
        const sidebar = document.querySelector<HTMLElement>('.edge-gateway-sidebar');
        if (sidebar && sidebar.offsetParent !== null) return true;
        (window as unknown as { RED: { sidebar: { show(id: string): void } } }).RED.sidebar.show('edge-gateway');
        return false;
      },
      undefined,
      { polling: 500, timeout: 30_000 },
    );
    const sidebar = page.locator('.edge-gateway-sidebar');
    await sidebar.locator('.edge-gateway-device', { hasText: 'hall light' }).waitFor();
    assert.match(await sidebar.innerText(), /lamp-2/);
    assert.equal(await sidebar.locator('a[href="edge-gateway/"]').count(), 1);
    await page.screenshot({ path: join(ARTIFACTS, 'editor-sidebar.png') });

    // The dashboard opened from there uses the editor's login.
    const dashboard = await context.newPage();
    await dashboard.goto(`${gw.red.url}/edge-gateway/`);
    await dashboard.locator('#devices li[data-device="lamp-1"]').waitFor();
    assert.equal(await dashboard.locator('#login').isVisible(), false, 'no second login');
    await context.close();
  });

  test('a device dimmed by a utility event: the owner sees it and opts it out, the device is restored; a viewer may not', async () => {
    const owner = { Authorization: `Bearer ${await gw.token(OWNER)}`, 'Content-Type': 'application/json' };
    assert.equal((await fetch(`${gw.red.url}/edge-gateway/api/claims`, { method: 'POST', headers: owner, body: JSON.stringify({ id: 'lamp-dr', label: 'porch' }) })).status, 200);
    await connectDevice('lamp-dr');
    const choices = { vendor: { mode: 'none' }, thirdParties: {}, vendorCommands: false, loadControl: { optIn: true, limits: { brightness: { min: 20 } } } };
    await until('lamp-dr provisioned and its choices saved', async () => {
      const res = await fetch(`${gw.red.url}/edge-gateway/api/devices/lamp-dr/sharing`, { method: 'PUT', headers: owner, body: JSON.stringify(choices) });
      return res.status === 200 ? true : undefined;
    });
    const event = vtn.publishEvent({
      programID,
      eventName: 'evening peak',
      intervalPeriod: { start: new Date(Date.now() - 1000).toISOString(), duration: 'PT1H' },
      intervals: [{ id: 0, payloads: [{ type: 'SIMPLE', values: [1] }] }],
    });
    const commandsFor = async () => (await outputs()).filter((o) => o.port === 'command' && o.topic === 'devices/lamp-dr/commands');
    const dimmed = await until('load-control dims lamp-dr', async () => (await commandsFor()).find((o) => (o.payload as { reason?: string }).reason === 'event'), 30_000);
    const value = (dimmed.payload as { brightness: number }).brightness;
    assert.ok(value < 100 && value >= 20, `dimmed within the owner's limit: ${value}`);

    // The viewer sees the state but gets no button, and the route refuses.
    const viewer = await loggedIn(VIEWER);
    const viewerCard = viewer.locator('#devices li[data-device="lamp-dr"]');
    await viewerCard.locator('.load-control-state .curtailed').waitFor();
    assert.match(await viewerCard.locator('.load-control-state').innerText(), /Dimmed for the utility until \d{1,2}:\d{2}.*, event evening peak/);
    assert.equal(await viewerCard.locator('button.opt-out').count(), 0, 'no opt-out button for a viewer');
    const refused = await fetch(`${gw.red.url}/edge-gateway/api/devices/lamp-dr/load-control/opt-out`, { method: 'POST', headers: { Authorization: `Bearer ${await gw.token(VIEWER)}` } });
    assert.equal(refused.status, 403);
    assert.equal((await commandsFor()).length, 1, 'nothing restored by the refused request');
    await viewer.context().close();

    const page = await loggedIn(OWNER);
    const card = page.locator('#devices li[data-device="lamp-dr"]');
    await card.locator('.load-control-state .curtailed').waitFor();
    assert.match(await card.locator('.load-control-state').innerText(), /Dimmed for the utility until .*, event evening peak/);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-load-control-phone.png'), fullPage: true });
    await card.locator('button.opt-out', { hasText: 'Opt out of this event' }).click();
    await card.locator('.load-control-state .opted-out', { hasText: 'Opted out of evening peak' }).waitFor();
    assert.equal(await card.locator('button.opt-out').count(), 0, 'no button once out');
    const restored = await until('load-control restores lamp-dr', async () => (await commandsFor()).find((o) => (o.payload as { reason?: string }).reason === 'restore'));
    assert.deepEqual(restored.payload, { brightness: 100, reason: 'restore', eventID: event.id }, 'back to its value before the event');
    const saved = JSON.parse(readFileSync(join(gw.userDir, 'edge-gateway', 'loadcontrol-lc1.json'), 'utf8')) as { optOuts: Array<{ device: string; eventID: string }> };
    assert.deepEqual(saved.optOuts.filter((o) => o.device.startsWith('mqtt:lamp-dr:')).map((o) => [o.device, o.eventID]), [['mqtt:lamp-dr:brightness', event.id]], 'persisted like a flow override');
    const again = await fetch(`${gw.red.url}/edge-gateway/api/devices/lamp-dr/load-control/opt-out`, { method: 'POST', headers: owner });
    assert.equal(again.status, 409, 'in no running event any more');
    const unknown = await fetch(`${gw.red.url}/edge-gateway/api/devices/nobody-here/load-control/opt-out`, { method: 'POST', headers: owner });
    assert.equal(unknown.status, 404);
    await page.context().close();
  });
});
