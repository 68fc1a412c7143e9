/**
 * The flow the browser tests deploy: a CoAP resource directory, the embedded broker (TLS for
 * devices, a loopback listener for the flow), device-provisioning, and the data path mqtt in → data-sharing, whose four
 * outputs are recorded and served on GET /sharing-outputs for the test to read. Given a VTN, a
 * load-control node for the provisioned devices too, its commands recorded the same way.
 */
import type { TestPki } from '../support/certs';

export interface RecordedOutput {
  port: 'vendor' | 'thirdParty' | 'device' | 'notice' | 'command';
  topic?: string;
  payload?: unknown;
  recipient?: string;
  deviceId?: string;
}

export const VTN_CLIENT = { clientId: 'ven-client', clientSecret: 'ven-secret' };

export function gatewayFlow(pki: TestPki, ports: { tls: number; loopback: number; coap: number }, vtnBaseUrl?: string): unknown[] {
  const recorder = (id: string, port: RecordedOutput['port'], y: number) => ({
    id,
    type: 'change',
    z: 'tab1',
    rules: [{ t: 'set', p: 'port', pt: 'msg', to: port, tot: 'str' }],
    x: 520,
    y,
    wires: [['record']],
  });
  const loadControl = vtnBaseUrl
    ? [
        { id: 'vtn1', type: 'openadr-vtn', name: 'utility', baseUrl: vtnBaseUrl, tokenUrl: '', scope: '', credentials: VTN_CLIENT },
        { id: 'lc1', type: 'load-control', z: 'tab1', name: 'utility events', vtn: 'vtn1', venName: 'home-gw', programs: 'peak-saver', poll: 2, provisioning: 'prov1', devices: '', x: 150, y: 420, wires: [['recCommand'], []] },
        recorder('recCommand', 'command', 420),
      ]
    : [];
  return [
    { id: 'tab1', type: 'tab', label: 'gateway' },
    ...loadControl,
    { id: 'coap1', type: 'coap-endpoint', name: 'gateway CoAP', address: '127.0.0.1', port: ports.coap, family: 'udp4' },
    { id: 'rd1', type: 'coap-rd', z: 'tab1', name: 'resource directory', endpoint: 'coap1', persist: false, x: 150, y: 360, wires: [[]] },
    { id: 'tls1', type: 'tls-config', name: 'devices', cert: '', key: '', ca: '', certname: '', keyname: '', caname: '', servername: '', verifyservercert: true, credentials: { certdata: pki.server.cert, keydata: pki.server.key, cadata: pki.ca.cert } },
    { id: 'broker1', type: 'gateway-broker', tls: 'tls1', host: '127.0.0.1', port: ports.tls, identityFrom: 'cn', loopback: true, loopbackPort: ports.loopback, persist: false },
    { id: 'prov1', type: 'device-provisioning', z: 'tab1', name: 'home', broker: 'broker1', heartbeat: 30, settings: '', noticeQuiet: 0, persist: false, x: 150, y: 60, wires: [[], []] },
    { id: 'mqtt1', type: 'mqtt-broker', name: 'gateway loopback', broker: '127.0.0.1', port: String(ports.loopback), clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true },
    { id: 'telemetry', type: 'mqtt in', z: 'tab1', name: 'device data', topic: 'devices/+/telemetry', qos: '1', datatype: 'json', broker: 'mqtt1', nl: false, rap: true, rh: 0, inputs: 0, x: 150, y: 140, wires: [['share1']] },
    { id: 'vendorIn', type: 'http in', z: 'tab1', name: 'from the vendor', url: '/vendor-command', method: 'post', upload: false, x: 150, y: 200, wires: [['asCommand', 'vendorAck']] },
    {
      id: 'asCommand',
      type: 'change',
      z: 'tab1',
      name: 'a command from the vendor',
      rules: [
        { t: 'set', p: 'deviceId', pt: 'msg', to: 'payload.deviceId', tot: 'msg' },
        { t: 'set', p: 'direction', pt: 'msg', to: 'command', tot: 'str' },
        { t: 'set', p: 'payload', pt: 'msg', to: 'payload.command', tot: 'msg' },
      ],
      x: 350,
      y: 200,
      wires: [['share1']],
    },
    { id: 'vendorAck', type: 'http response', z: 'tab1', statusCode: '204', headers: {}, x: 350, y: 240, wires: [] },
    { id: 'share1', type: 'data-sharing', z: 'tab1', name: '', provisioning: 'prov1', thirdParties: 'utility', maxWindows: '', x: 350, y: 160, wires: [['recVendor'], ['recThird'], ['recDevice'], ['recNotice']] },
    recorder('recVendor', 'vendor', 100),
    recorder('recThird', 'thirdParty', 140),
    recorder('recDevice', 'device', 180),
    recorder('recNotice', 'notice', 220),
    {
      id: 'record',
      type: 'function',
      z: 'tab1',
      name: 'record',
      func: "const all = global.get('sharingOut') || [];\nall.push({ port: msg.port, topic: msg.topic, payload: msg.payload, recipient: msg.recipient, deviceId: msg.deviceId });\nglobal.set('sharingOut', all.slice(-500));\nreturn null;",
      outputs: 0,
      x: 700,
      y: 160,
      wires: [],
    },
    { id: 'outputsIn', type: 'http in', z: 'tab1', url: '/sharing-outputs', method: 'get', upload: false, x: 150, y: 300, wires: [['outputsRead']] },
    { id: 'outputsRead', type: 'change', z: 'tab1', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'sharingOut', tot: 'global' }], x: 350, y: 300, wires: [['outputsOut']] },
    { id: 'outputsOut', type: 'http response', z: 'tab1', statusCode: '', headers: {}, x: 550, y: 300, wires: [] },
  ];
}
