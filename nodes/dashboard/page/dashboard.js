// The owner's dashboard: plain browser JavaScript, no framework. Talks to the plugin's JSON API
// beside this page (api/...) with a Node-RED admin token, and to Node-RED's own /auth for login.
(function () {
  'use strict';

  var TOKEN_KEY = 'edge-gateway-auth';
  var POLL_MS = 3000;
  var DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$/;
  var LEVELS = [
    ['none', 'Nothing'],
    ['summary:60', 'Hourly summary'],
    ['summary:1440', 'Daily summary'],
    ['raw', 'Everything (raw)'],
  ];

  var $ = function (id) { return document.getElementById(id); };
  var token = readToken();
  var pollTimer = null;
  var state = null;
  var cameraStream = null;

  function readToken() {
    try {
      var own = JSON.parse(localStorage.getItem(TOKEN_KEY) || 'null');
      if (own && own.access_token && (!own.expires || own.expires > Date.now())) return own.access_token;
      // Logged in to the editor in this browser: the editor keeps its token under "auth-tokens"
      // plus its path with / as - ("" for an editor at /, "-admin" at /admin/).
      var editorPath = location.pathname.replace(/edge-gateway\/?$/, '').slice(0, -1);
      var editor = JSON.parse(localStorage.getItem('auth-tokens' + editorPath.replace(/\//g, '-')) || 'null');
      if (editor && editor.access_token) return editor.access_token;
    } catch (e) { /* unreadable storage: log in again */ }
    return null;
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function say(text, kind) {
    var m = $('message');
    m.textContent = text;
    m.className = 'message ' + (kind || 'info');
    m.hidden = !text;
  }

  function api(method, path, body) {
    var headers = { Accept: 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (res) {
        return res.text().then(function (text) {
          var data = null;
          try { data = text ? JSON.parse(text) : null; } catch (e) { data = { error: text }; }
          if (res.status === 401) { showLogin(); throw new Error('Please log in.'); }
          if (res.status === 403) throw new Error('Not allowed: your user may look but not change anything (403).');
          if (!res.ok) throw new Error((data && data.error) || ('HTTP ' + res.status));
          return data;
        });
      });
  }

  // ---- login -------------------------------------------------------------------------------

  function showLogin() {
    stopPolling();
    $('app').hidden = true;
    $('login').hidden = false;
    $('logout').hidden = true;
    $('who').textContent = '';
    $('login-user').focus();
  }

  function login(event) {
    event.preventDefault();
    var form = new URLSearchParams();
    form.set('client_id', 'node-red-editor');
    form.set('grant_type', 'password');
    form.set('scope', ''); // the user's own permissions
    form.set('username', $('login-user').value);
    form.set('password', $('login-password').value);
    fetch('../auth/token', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form })
      .then(function (res) {
        if (!res.ok) throw new Error('Wrong user name or password.');
        return res.json();
      })
      .then(function (t) {
        token = t.access_token;
        localStorage.setItem(TOKEN_KEY, JSON.stringify({ access_token: t.access_token, expires: Date.now() + t.expires_in * 1000 }));
        $('login-password').value = '';
        $('login').hidden = true;
        say('');
        start();
      })
      .catch(function (err) { say(err.message, 'error'); });
  }

  function logout() {
    var old = token;
    token = null;
    localStorage.removeItem(TOKEN_KEY);
    if (old) {
      var form = new URLSearchParams();
      form.set('token', old);
      fetch('../auth/revoke', { method: 'POST', headers: { Authorization: 'Bearer ' + old, 'Content-Type': 'application/x-www-form-urlencoded' }, body: form });
    }
    showLogin();
  }

  // ---- state -------------------------------------------------------------------------------

  function start() {
    refresh().then(function () {
      if (state) { $('app').hidden = false; $('logout').hidden = !token; }
    });
  }

  function stopPolling() {
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = null;
  }

  function refresh() {
    stopPolling();
    return api('GET', 'api/state')
      .then(function (s) {
        state = s;
        render(s);
        $('app').hidden = false;
        pollTimer = setTimeout(refresh, POLL_MS);
      })
      .catch(function (err) {
        if (!$('login').hidden) return;
        say(err.message, 'error');
        pollTimer = setTimeout(refresh, POLL_MS * 3);
      });
  }

  function render(s) {
    document.body.classList.toggle('read-only', !s.canWrite);
    $('who').textContent = s.canWrite ? '' : 'view only';
    renderClaims(s.claims);
    renderDevices(s);
    renderNotices(s.notices);
  }

  function count(id, n) { $(id).textContent = n ? '(' + n + ')' : ''; }

  function renderClaims(claims) {
    var list = $('claims');
    list.textContent = '';
    claims.forEach(function (c) {
      var li = el('li', { 'data-claim': c.id });
      li.appendChild(el('strong', null, c.label ? c.label + ' ' : ''));
      li.appendChild(el('code', null, c.id));
      li.appendChild(el('time', { datetime: c.claimedAt }, ' claimed ' + when(c.claimedAt)));
      var remove = el('button', { type: 'button', class: 'quiet write' }, 'Cancel');
      remove.addEventListener('click', function () {
        api('DELETE', 'api/claims/' + encodeURIComponent(c.id) + '?registry=' + encodeURIComponent(c.registry))
          .then(function () { say('Claim for ' + c.id + ' cancelled.'); return refresh(); })
          .catch(function (err) { say(err.message, 'error'); });
      });
      li.appendChild(remove);
      list.appendChild(li);
    });
    count('claims-count', claims.length);
    $('claims-empty').hidden = claims.length > 0;
  }

  function when(iso) {
    if (!iso) return '';
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString();
  }

  function fact(dl, name, value, href) {
    if (value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0)) return;
    dl.appendChild(el('dt', null, name));
    var dd = el('dd');
    if (href && /^https?:\/\//.test(href)) {
      var a = el('a', { href: href, target: '_blank', rel: 'noopener noreferrer' }, value);
      dd.appendChild(a);
    } else dd.textContent = Array.isArray(value) ? value.join(', ') : String(value);
    dl.appendChild(dd);
  }

  function renderDevices(s) {
    var list = $('devices');
    var seen = {};
    s.devices.forEach(function (d) {
      var key = d.kind + ':' + d.source + ':' + d.id;
      seen[key] = true;
      var signature = JSON.stringify([d, s.thirdParties, s.canWrite]);
      var li = list.querySelector('li[data-key="' + CSS.escape(key) + '"]');
      // Keep a card the owner is editing, and one that has not changed.
      if (li && (li.dataset.signature === signature || li.dataset.dirty === 'true')) return;
      var fresh = deviceCard(d, s);
      fresh.dataset.key = key;
      fresh.dataset.signature = signature;
      if (li) {
        var open = li.querySelector('details') && li.querySelector('details').open;
        fresh.querySelector('details').open = !!open;
        list.replaceChild(fresh, li);
      } else list.appendChild(fresh);
    });
    Array.prototype.slice.call(list.children).forEach(function (li) { if (!seen[li.dataset.key]) list.removeChild(li); });
    count('devices-count', s.devices.length);
    $('devices-empty').hidden = s.devices.length > 0;
  }

  function deviceCard(d, s) {
    var li = $('device-template').content.firstElementChild.cloneNode(true);
    li.dataset.device = d.id;
    li.querySelector('.dot').classList.add(d.online ? 'online' : 'offline');
    li.querySelector('.dot').title = d.online ? 'online' : 'offline';
    li.querySelector('.device-name').textContent = d.label ? d.label + ' (' + d.id + ')' : d.id;
    li.querySelector('.kind').textContent = d.kind === 'mqtt' ? 'MQTT' : 'CoAP';
    var dl = li.querySelector('.facts');
    fact(dl, 'Status', (d.online ? 'online' : 'offline') + (d.state && d.state !== 'provisioned' ? ', ' + d.state : ''));
    fact(dl, 'Model', d.model);
    fact(dl, 'Firmware', d.firmware);
    var v = d.vendorInfo;
    fact(dl, 'Vendor', v ? v.name : d.vendor, v && v.url);
    if (v) fact(dl, 'Support', v.support);
    fact(dl, 'Behaviours', d.behaviours);
    fact(dl, 'Last seen', when(d.lastSeen));
    fact(dl, 'Address', d.address);
    if (d.loadControl && d.loadControl.length) li.insertBefore(loadControlState(d, s), dl.nextSibling);
    if (d.sharing) sharingForm(li, d, s);
    return li;
  }

  var CURTAILED = { brightness: 'Dimmed', setpoint: 'Setpoint changed', switch: 'Switched off', power: 'Power limited' };

  function timeOf(iso) {
    var t = new Date(iso);
    return isNaN(t) ? '' : t.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  /** The utility's events on this device now, and the owner's way out of them. */
  function loadControlState(d, s) {
    var box = el('div', { class: 'load-control-state' });
    var curtailed = false;
    d.loadControl.forEach(function (e) {
      var name = e.eventName || e.eventID;
      if (e.state === 'curtailed') {
        curtailed = true;
        var what = (CURTAILED[e.quantity] || 'Limited') + ' for the utility' + (e.until ? ' until ' + timeOf(e.until) : '') + ', event ' + name;
        box.appendChild(el('p', { class: 'curtailed' }, what));
      } else box.appendChild(el('p', { class: 'opted-out' }, 'Opted out of ' + name));
    });
    // Only for those who may change: a viewer gets no button at all.
    if (curtailed && s.canWrite) {
      var button = el('button', { type: 'button', class: 'secondary write opt-out' }, 'Opt out of this event');
      button.addEventListener('click', function () {
        button.disabled = true;
        api('POST', 'api/devices/' + encodeURIComponent(d.id) + '/load-control/opt-out')
          .then(function (r) { say(d.id + ' opted out of ' + (r.events.join(', ') || 'the event') + '.'); return refresh(); })
          .catch(function (err) { button.disabled = false; say(err.message, 'error'); });
      });
      box.appendChild(button);
    }
    return box;
  }

  function levelValue(level) {
    if (!level || level.mode === 'none') return 'none';
    if (level.mode === 'raw') return 'raw';
    return 'summary:' + level.windowMinutes;
  }

  function levelFrom(value) {
    if (value === 'raw') return { mode: 'raw' };
    if (value.indexOf('summary:') === 0) return { mode: 'summary', windowMinutes: Number(value.slice(8)) };
    return { mode: 'none' };
  }

  function levelSelect(name, label, current) {
    var wrap = el('label', { class: 'level' }, label + ' ');
    var select = el('select', { name: name });
    var value = levelValue(current);
    var options = LEVELS.slice();
    if (!options.some(function (o) { return o[0] === value; })) options.splice(1, 0, [value, current.windowMinutes + '-minute summary']);
    options.forEach(function (o) { select.appendChild(el('option', { value: o[0] }, o[1])); });
    select.value = value;
    wrap.appendChild(select);
    return wrap;
  }

  function limitRow(quantity, limits) {
    var row = el('div', { class: 'limit' });
    var q = el('input', { name: 'quantity', placeholder: 'quantity', 'aria-label': 'quantity', maxlength: '32' });
    q.value = quantity || '';
    var min = el('input', { name: 'min', type: 'number', step: 'any', placeholder: 'min', 'aria-label': 'minimum' });
    var max = el('input', { name: 'max', type: 'number', step: 'any', placeholder: 'max', 'aria-label': 'maximum' });
    if (limits && limits.min !== undefined) min.value = limits.min;
    if (limits && limits.max !== undefined) max.value = limits.max;
    row.appendChild(q); row.appendChild(min); row.appendChild(max);
    return row;
  }

  function sharingForm(li, d, s) {
    var details = li.querySelector('details');
    details.hidden = false;
    var form = li.querySelector('form');
    var levels = form.querySelector('.levels');
    levels.appendChild(levelSelect('vendor', 'Vendor', d.sharing.vendor));
    var parties = s.thirdParties.slice();
    Object.keys(d.sharing.thirdParties).forEach(function (p) { if (parties.indexOf(p) < 0) parties.push(p); });
    parties.forEach(function (p) {
      var lvl = levelSelect('third:' + p, p.charAt(0).toUpperCase() + p.slice(1), d.sharing.thirdParties[p] || { mode: 'none' });
      levels.appendChild(lvl);
    });
    form.elements.vendorCommands.checked = d.sharing.vendorCommands;
    form.elements.optIn.checked = d.sharing.loadControl.optIn;
    var limits = form.querySelector('.limits');
    limits.appendChild(el('p', { class: 'hint' }, 'Limits the utility must respect, e.g. brightness, min 30.'));
    var current = d.sharing.loadControl.limits;
    Object.keys(current).forEach(function (q) { limits.appendChild(limitRow(q, current[q])); });
    limits.appendChild(limitRow('', null));
    Array.prototype.forEach.call(form.elements, function (input) { if (!s.canWrite) input.disabled = true; });
    form.addEventListener('input', function () { li.dataset.dirty = 'true'; });
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var choices = { vendor: levelFrom(form.elements.vendor.value), thirdParties: {}, vendorCommands: form.elements.vendorCommands.checked, loadControl: { optIn: form.elements.optIn.checked, limits: {} } };
      parties.forEach(function (p) { choices.thirdParties[p] = levelFrom(form.elements['third:' + p].value); });
      Array.prototype.forEach.call(limits.querySelectorAll('.limit'), function (row) {
        var q = row.querySelector('[name=quantity]').value.trim();
        if (!q) return;
        var lim = {};
        var min = row.querySelector('[name=min]').value;
        var max = row.querySelector('[name=max]').value;
        if (min !== '') lim.min = Number(min);
        if (max !== '') lim.max = Number(max);
        choices.loadControl.limits[q] = lim;
      });
      api('PUT', 'api/devices/' + encodeURIComponent(d.id) + '/sharing', choices)
        .then(function () {
          li.dataset.dirty = 'false';
          say('Choices for ' + d.id + ' saved.');
          return refresh();
        })
        .catch(function (err) { say(err.message, 'error'); });
    });
  }

  function renderNotices(notices) {
    var list = $('notices');
    list.textContent = '';
    notices.forEach(function (n) {
      var li = el('li', { class: 'notice ' + n.kind });
      li.appendChild(el('time', { datetime: n.at }, when(n.at)));
      li.appendChild(el('strong', null, kindText(n.kind)));
      li.appendChild(el('code', null, n.deviceId));
      li.appendChild(el('span', { class: 'reason' }, n.reason));
      list.appendChild(li);
    });
    count('notices-count', notices.length);
    $('notices-empty').hidden = notices.length > 0;
  }

  function kindText(kind) {
    return {
      unclaimed: 'Unclaimed device tried to connect',
      'identity-mismatch': 'Identity mismatch',
      'bad-payload': 'Bad provisioning message',
      'certificate-expired': 'Certificate expired',
      'certificate-revoked': 'Certificate revoked',
      'revoked-device': 'Revoked device tried to return',
    }[kind] || kind;
  }

  // ---- claiming ----------------------------------------------------------------------------

  function claim(event) {
    event.preventDefault();
    var id = $('claim-id').value.trim();
    if (!DEVICE_ID.test(id)) return say('A device ID is 1 to 64 letters, digits and . _ : @ - (starting with a letter or digit).', 'error');
    api('POST', 'api/claims', { id: id, label: $('claim-label').value.trim() })
      .then(function () {
        $('claim-id').value = '';
        $('claim-label').value = '';
        say('Claimed ' + id + '. It may now connect.');
        return refresh();
      })
      .catch(function (err) { say(err.message, 'error'); });
  }

  /** The ID in a QR code: the text itself, or the id parameter of a URL. */
  function idFromCode(text) {
    var t = String(text).trim();
    if (DEVICE_ID.test(t)) return t;
    try {
      var u = new URL(t);
      var p = u.searchParams.get('id');
      if (p && DEVICE_ID.test(p)) return p;
    } catch (e) { /* not a URL */ }
    return null;
  }

  function scanned(text) {
    var id = idFromCode(text);
    if (!id) return say('That QR code holds no device ID: "' + String(text).slice(0, 60) + '"', 'error');
    $('claim-id').value = id;
    say('Scanned ' + id + '. Press Claim to claim it.');
    $('claim-submit').focus();
  }

  function decode(source, width, height) {
    var canvas = document.createElement('canvas');
    var scale = Math.min(1, 1024 / Math.max(width, height));
    canvas.width = Math.max(1, Math.round(width * scale));
    canvas.height = Math.max(1, Math.round(height * scale));
    var g = canvas.getContext('2d', { willReadFrequently: true });
    g.drawImage(source, 0, 0, canvas.width, canvas.height);
    var img = g.getImageData(0, 0, canvas.width, canvas.height);
    return window.jsQR(img.data, img.width, img.height, { inversionAttempts: 'attemptBoth' });
  }

  function scanFile() {
    var file = $('scan-file').files[0];
    if (!file) return;
    createImageBitmap(file)
      .then(function (bitmap) {
        var code = decode(bitmap, bitmap.width, bitmap.height);
        if (code) scanned(code.data);
        else say('No QR code found in that photo. Try again closer, with the code flat and well lit.', 'error');
      })
      .catch(function () { say('That file is not an image this browser can read.', 'error'); })
      .then(function () { $('scan-file').value = ''; });
  }

  function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return say('No camera access here (it needs https or this computer); use "Photo of the code".', 'error');
    }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } })
      .then(function (stream) {
        cameraStream = stream;
        var video = $('camera-video');
        video.srcObject = stream;
        $('camera').hidden = false;
        return video.play().then(function () { requestAnimationFrame(tick); });
      })
      .catch(function (err) { say('The camera could not be opened (' + err.name + '); use "Photo of the code".', 'error'); });
  }

  function tick() {
    if (!cameraStream) return;
    var video = $('camera-video');
    if (video.readyState >= 2 && video.videoWidth > 0) {
      var code = decode(video, video.videoWidth, video.videoHeight);
      if (code) { stopCamera(); return scanned(code.data); }
    }
    requestAnimationFrame(tick);
  }

  function stopCamera() {
    if (cameraStream) cameraStream.getTracks().forEach(function (t) { t.stop(); });
    cameraStream = null;
    $('camera').hidden = true;
  }

  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  $('claim-form').addEventListener('submit', claim);
  $('scan-file').addEventListener('change', scanFile);
  $('scan-camera').addEventListener('click', startCamera);
  $('camera-stop').addEventListener('click', stopCamera);
  start();
})();
