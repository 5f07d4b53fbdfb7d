// GridBot sandbox page: pick a persona, chat with the real bot through the
// Bot API emulator's control API (/_emu/...) and the sandbox API (/api/...).
// Plain JavaScript, no build step, no request leaves this server.
(() => {
  'use strict';

  const STRINGS = window.SANDBOX_STRINGS;
  const LANGS = ['zh-Hans', 'zh-Hant', 'en'];
  const KIND_ORDER = ['resident', 'worker', 'grid_head', 'staff', 'department', 'admin', 'building_head', 'unit_head',
    'volunteer', 'unregistered'];
  const MAX_UPLOAD_MB = 20;
  const POLL_TIMEOUT = 25;
  const CLOCK_REFRESH_MS = 20000;

  const $ = (sel) => document.querySelector(sel);
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  };

  // ------------------------------------------------------------ page language
  let lang = LANGS.includes(localStorage.getItem('sandbox.lang')) ? localStorage.getItem('sandbox.lang') : 'zh-Hans';

  function t(key, vars) {
    const table = STRINGS[lang] || STRINGS['zh-Hans'];
    let text = table[key] !== undefined ? table[key] : (STRINGS['zh-Hans'][key] !== undefined ? STRINGS['zh-Hans'][key] : key);
    if (vars) {
      for (const [name, value] of Object.entries(vars)) text = text.split('{' + name + '}').join(String(value));
    }
    return text;
  }

  function applyI18n() {
    document.documentElement.lang = lang;
    document.querySelectorAll('[data-i18n]').forEach((node) => { node.textContent = t(node.dataset.i18n); });
    document.querySelectorAll('[data-i18n-placeholder]').forEach((node) => { node.placeholder = t(node.dataset.i18nPlaceholder); });
    document.querySelectorAll('[data-i18n-aria]').forEach((node) => {
      node.setAttribute('aria-label', t(node.dataset.i18nAria));
      node.title = t(node.dataset.i18nAria);
    });
    $('#lang-select').value = lang;
  }

  function setLang(value) {
    if (!LANGS.includes(value)) return;
    lang = value;
    localStorage.setItem('sandbox.lang', value);
    applyI18n();
    renderClock();
    if (current) { renderChatHeader(); rerenderAllMessages(); } else { renderPersonas(); }
  }

  // Pick the best name from {"zh-Hans": ..., "zh-Hant": ..., "en": ...}.
  function pickName(names) {
    if (!names) return '';
    const order = [lang, lang.startsWith('zh') ? 'zh-Hans' : 'en', 'zh-Hans', 'en'];
    for (const key of order) if (names[key]) return names[key];
    const values = Object.values(names);
    return values.length ? String(values[0]) : '';
  }

  // ---------------------------------------------------------------- requests
  class HttpError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }

  async function request(method, url, body, signal) {
    const init = { method, signal, headers: {} };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
    const response = await fetch(url, init);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) throw new HttpError((data && data.error) || (response.status + ' ' + response.statusText), response.status);
    return data;
  }
  const getJSON = (url, signal) => request('GET', url, undefined, signal);
  const postJSON = (url, body) => request('POST', url, body);

  // ------------------------------------------------------------- toast/alert
  let toastTimer = null;
  function toast(text) {
    const box = $('#toast');
    box.textContent = text;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, 2800);
  }

  function alertDialog(text) {
    $('#alert-text').textContent = text;
    $('#dlg-alert').showModal();
  }

  function showError(err) {
    toast(t('err_generic', { msg: err && err.message ? err.message : String(err) }));
  }

  function banner(text) {
    const box = $('#banner');
    box.textContent = text || '';
    box.hidden = !text;
  }

  // Other tabs of the sandbox (same browser) hear about clock changes at once.
  const channel = 'BroadcastChannel' in window ? new BroadcastChannel('gridbot-sandbox') : null;

  // ------------------------------------------------------------------- clock
  let info = null;
  let clock = { nowMs: Date.now(), fetchedAt: Date.now(), offset: 0 };

  function sandboxNow() { return clock.nowMs + (Date.now() - clock.fetchedAt); }

  function setClock(data) {
    clock = { nowMs: data.now_ms, fetchedAt: Date.now(), offset: data.offset_seconds };
    renderClock();
  }

  function tz() { return (info && info.tz) || 'Asia/Shanghai'; }

  function fmt(ms, options) {
    try {
      return new Intl.DateTimeFormat(lang, Object.assign({ timeZone: tz() }, options)).format(new Date(ms));
    } catch (e) {
      return new Date(ms).toLocaleString();
    }
  }

  function duration(seconds) {
    const days = Math.floor(seconds / 86400);
    const hours = Math.floor((seconds % 86400) / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    const parts = [];
    if (days) parts.push(t('dur_days', { n: days }));
    if (hours) parts.push(t('dur_hours', { n: hours }));
    if (!days && minutes) parts.push(t('dur_minutes', { n: minutes }));
    return parts.join(' ') || t('dur_minutes', { n: 0 });
  }

  function renderClock() {
    const now = sandboxNow();
    $('#clock-date').textContent = fmt(now, { month: 'numeric', day: 'numeric' });
    $('#clock-text').textContent = fmt(now, { hour: '2-digit', minute: '2-digit', hour12: false });
    const badge = $('#clock-badge');
    if (clock.offset > 0) {
      badge.hidden = false;
      badge.textContent = '+' + duration(clock.offset);
    } else {
      badge.hidden = true;
    }
    if ($('#dlg-clock').open) {
      $('#clock-now').textContent = fmt(now, { year: 'numeric', month: 'long', day: 'numeric', weekday: 'long', hour: '2-digit', minute: '2-digit', hour12: false });
      $('#clock-offset').textContent = clock.offset > 0 ? t('clock_offset', { d: duration(clock.offset) }) : t('clock_real');
    }
  }

  async function refreshClock() {
    try { setClock(await getJSON('/api/clock')); } catch (e) { /* shown by the chat banner if it persists */ }
  }

  async function advanceClock(seconds) {
    try {
      const data = await postJSON('/api/clock', { advance_seconds: seconds });
      setClock(data);
      if (channel) channel.postMessage({ type: 'clock' });
      toast(t('clock_advanced', { t: fmt(data.now_ms, { month: 'numeric', day: 'numeric', weekday: 'short', hour: '2-digit', minute: '2-digit', hour12: false }) }));
    } catch (err) {
      showError(err);
    }
  }

  // ---------------------------------------------------------------- personas
  let personas = [];
  let personasMeta = { residents_total: 0, residents_listed: 0 };

  function personaDetail(p) {
    // Who serves whom: a resident's grid workers, a worker's number of residents.
    if (p.roles && p.roles.length) {
      const roles = p.roles.map((r) => t('role_' + r.role) + ' · ' + (pickName(r.scope_names) || r.scope_code)).join('；');
      return p.serves === null || p.serves === undefined ? roles : roles + ' · ' + t('serves', { n: p.serves });
    }
    if (p.home) {
      const home = [pickName(p.home.community), pickName(p.home.building)].filter(Boolean).join(' · ');
      return p.served_by && p.served_by.length ? home + ' · ' + t('served_by', { names: p.served_by.join('、') }) : home;
    }
    return t('not_registered');
  }

  function avatarFor(name, id) {
    const node = el('div', 'avatar');
    node.textContent = (name || '?').trim().charAt(0) || '?';
    node.dataset.hue = String(Math.abs(Number(id) || 0) % 8);
    return node;
  }

  async function loadPersonas() {
    const data = await getJSON('/api/personas');
    personas = data.personas;
    personasMeta = data;
  }

  function renderPersonas() {
    const box = $('#persona-groups');
    box.textContent = '';
    const query = $('#persona-search').value.trim().toLowerCase();
    const groups = new Map(KIND_ORDER.map((k) => [k, []]));
    for (const p of personas) {
      const detail = personaDetail(p);
      const hay = [p.first_name, p.last_name || '', detail, String(p.telegram_id)].join(' ').toLowerCase();
      if (query && !hay.includes(query)) continue;
      (groups.get(p.kind) || groups.get('resident')).push([p, detail]);
    }
    let shown = 0;
    for (const [kind, items] of groups) {
      if (!items.length) continue;
      const section = el('section', 'persona-group');
      section.dataset.kind = kind;
      section.appendChild(el('h2', null, t('group_' + kind) + ' (' + items.length + ')'));
      const list = el('ul', 'persona-list');
      for (const [p, detail] of items) {
        shown += 1;
        const li = el('li', 'persona');
        li.dataset.telegramId = String(p.telegram_id);
        const open = el('a', 'persona-open');
        open.href = '#/chat/' + p.telegram_id;
        open.appendChild(avatarFor(p.first_name, p.telegram_id));
        const text = el('span', 'persona-text');
        text.appendChild(el('span', 'persona-name', [p.first_name, p.last_name].filter(Boolean).join(' ')));
        text.appendChild(el('span', 'persona-detail', detail));
        open.appendChild(text);
        li.appendChild(open);
        const tab = el('a', 'persona-tab', '↗');
        tab.href = '#/chat/' + p.telegram_id;
        tab.target = '_blank';
        tab.rel = 'noopener';
        tab.title = t('open_new_tab');
        tab.setAttribute('aria-label', t('open_new_tab') + ': ' + p.first_name);
        li.appendChild(tab);
        list.appendChild(li);
      }
      section.appendChild(list);
      box.appendChild(section);
    }
    if (!shown) box.appendChild(el('p', 'muted center', personas.length ? t('no_match') : t('loading')));
    const foot = [];
    if (personasMeta.residents_total > personasMeta.residents_listed) {
      foot.push(t('residents_more', { total: personasMeta.residents_total, listed: personasMeta.residents_listed }));
    }
    if (info) foot.push(t('database', { db: info.database }));
    $('#personas-footer').textContent = foot.join(' ');
  }

  async function showPersonas() {
    closeChat();
    document.title = t('title');
    $('#view-chat').hidden = true;
    $('#view-personas').hidden = false;
    $('#btn-back').hidden = true;
    $('#chat-avatar').hidden = true;
    $('#top-title').textContent = t('title');
    $('#top-subtitle').textContent = t('choose_persona');
    renderPersonas();
    try {
      await loadPersonas();
      renderPersonas();
    } catch (err) {
      showError(err);
    }
  }

  function openNewResidentDialog() {
    $('#new-name').value = t('name_default');
    $('#new-lang').value = { 'zh-Hans': 'zh-hans', 'zh-Hant': 'zh-hant', en: 'en' }[lang];
    $('#dlg-new').showModal();
    $('#new-name').select();
  }

  async function createResident() {
    const name = $('#new-name').value.trim();
    if (!name) return;
    try {
      const persona = await postJSON('/api/personas', { first_name: name, language_code: $('#new-lang').value });
      location.hash = '#/chat/' + persona.telegram_id;
    } catch (err) {
      showError(err);
    }
  }

  // -------------------------------------------------------------------- chat
  let current = null; // the persona of this tab
  let messages = new Map(); // message_id -> message JSON (deleted ones kept, flagged)
  let nodes = new Map(); // message_id -> rendered element
  let version = 0;
  let pollAbort = null;
  let keyboardCollapsedFor = null; // message id of a one-time keyboard already used
  let keyboardOpen = true;
  let places = null;
  let commands = [];

  function chatId() { return current.telegram_id; }

  function resetMessages() {
    stickToBottom = true;
    messages = new Map();
    nodes = new Map();
    version = 0;
    keyboardCollapsedFor = null;
    keyboardOpen = true;
    $('#messages').textContent = '';
  }

  function closeChat() {
    if (pollAbort) pollAbort.abort();
    pollAbort = null;
    current = null;
    resetMessages();
    banner('');
  }

  function renderChatHeader() {
    if (!current) return;
    const name = [current.first_name, current.last_name].filter(Boolean).join(' ');
    $('#top-title').textContent = name;
    $('#top-subtitle').textContent = personaDetail(current);
    const avatar = $('#chat-avatar');
    avatar.hidden = false;
    avatar.textContent = (name || '?').charAt(0);
    avatar.dataset.hue = String(Math.abs(Number(current.telegram_id)) % 8);
    document.title = name + ' · ' + t('title');
  }

  async function openChat(telegramId) {
    closeChat();
    $('#view-personas').hidden = true;
    $('#view-chat').hidden = false;
    $('#btn-back').hidden = false;
    $('#top-title').textContent = t('loading');
    $('#top-subtitle').textContent = '';
    let persona;
    try {
      persona = await postJSON('/api/personas/' + telegramId + '/open', {
        language_code: { 'zh-Hans': 'zh-hans', 'zh-Hant': 'zh-hant', en: 'en' }[lang],
      });
    } catch (err) {
      toast(t('err_unknown_person'));
      location.hash = '#/';
      return;
    }
    current = persona;
    renderChatHeader();
    updateComposer();
    const controller = new AbortController();
    pollAbort = controller;
    loadCommands();
    pollLoop(controller.signal, persona.telegram_id);
  }

  async function loadCommands() {
    if (!current) return;
    try {
      const data = await getJSON('/api/personas/' + current.telegram_id + '/commands');
      commands = data.commands || [];
    } catch (e) {
      commands = [];
    }
    $('#btn-commands').hidden = !commands.length;
  }

  // After a lost connection: did the sandbox restart?  Then its chats start empty
  // and it must be told about this person again.
  async function restarted(telegramId) {
    const fresh = await getJSON('/api/info');
    if (info && fresh.instance === info.instance) return false;
    info = fresh;
    setClock(fresh.clock);
    await postJSON('/api/personas/' + telegramId + '/open', {});
    resetMessages();
    return true;
  }

  async function pollLoop(signal, telegramId) {
    let delay = 500;
    let first = true;
    let lost = false;
    while (!signal.aborted) {
      try {
        if (lost) {
          if (await restarted(telegramId)) first = true;
          lost = false;
        }
        const url = first
          ? '/_emu/chats/' + telegramId + '/messages?since_version=0'
          : '/_emu/chats/' + telegramId + '/wait?since_version=' + version + '&timeout=' + POLL_TIMEOUT;
        const data = await getJSON(url, signal);
        if (signal.aborted) return;
        first = false;
        delay = 500;
        banner('');
        applyChanges(data);
      } catch (err) {
        if (signal.aborted) return;
        lost = true;
        banner(t('err_network'));
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  // Follow the conversation while the reader is at its end (also when a photo
  // finishes loading or the keyboard panel changes the height); not when they
  // scrolled up to read something older.
  let stickToBottom = true;

  function toBottom() {
    const list = $('#messages');
    list.scrollTop = list.scrollHeight;
  }

  function applyChanges(data) {
    let scroll = false;
    let keyboardChanged = false;
    for (const msg of data.messages) {
      const before = messages.get(msg.message_id);
      messages.set(msg.message_id, msg);
      if (msg.reply_markup && (msg.reply_markup.keyboard || msg.reply_markup.remove_keyboard)) keyboardChanged = true;
      if (msg.deleted) {
        const node = nodes.get(msg.message_id);
        if (node) node.remove();
        nodes.delete(msg.message_id);
        continue;
      }
      const node = renderMessage(msg);
      const old = nodes.get(msg.message_id);
      if (old) {
        old.replaceWith(node);
      } else {
        insertInOrder(node, msg.message_id);
        if (!before) scroll = true;
        if (!msg.from_bot) scroll = true;
      }
      nodes.set(msg.message_id, node);
    }
    const firstLoad = version === 0;
    if (data.version > version) version = data.version;
    if (data.messages.some((m) => m.from_bot)) refreshPersonaSoon();
    refreshDaySeparators();
    if (keyboardChanged) keyboardOpen = true;
    updateComposer();
    if (scroll && (firstLoad || stickToBottom || data.messages.some((m) => !m.from_bot))) {
      stickToBottom = true;
      toBottom();
    }
  }

  // Registration or a new role changes who this persona is: refresh the header.
  let personaTimer = null;
  function refreshPersonaSoon() {
    clearTimeout(personaTimer);
    personaTimer = setTimeout(async () => {
      if (!current) return;
      const id = current.telegram_id;
      try {
        const fresh = await postJSON('/api/personas/' + id + '/open', {});
        if (current && current.telegram_id === id) { current = fresh; renderChatHeader(); }
      } catch (e) { /* keep the old header */ }
      loadCommands();
    }, 700);
  }

  function insertInOrder(node, messageId) {
    const list = $('#messages');
    let after = null;
    for (const [id, other] of nodes) {
      if (id < messageId && (!after || id > Number(after.dataset.messageId))) after = other;
    }
    if (after) after.after(node);
    else list.prepend(node);
  }

  function rerenderAllMessages() {
    for (const [id, msg] of messages) {
      if (msg.deleted) continue;
      const node = renderMessage(msg);
      const old = nodes.get(id);
      if (old) old.replaceWith(node);
      nodes.set(id, node);
    }
    refreshDaySeparators();
    updateComposer();
  }

  function refreshDaySeparators() {
    const list = $('#messages');
    list.querySelectorAll('.day-sep').forEach((n) => n.remove());
    let lastDay = null;
    for (const node of Array.from(list.children)) {
      const day = node.dataset.day;
      if (day && day !== lastDay) {
        const sep = el('div', 'day-sep');
        sep.appendChild(el('span', null, day));
        node.before(sep);
        lastDay = day;
      }
    }
  }

  // -- text with Telegram entities -> safe HTML
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

  function safeHref(url) {
    const value = String(url || '').trim();
    return /^(https?:|mailto:|tel:|tg:)/i.test(value) ? value : null;
  }

  function wrapEntity(entity, inner, raw) {
    switch (entity.type) {
      case 'bold': return '<b>' + inner + '</b>';
      case 'italic': return '<i>' + inner + '</i>';
      case 'underline': return '<u>' + inner + '</u>';
      case 'strikethrough': return '<s>' + inner + '</s>';
      case 'spoiler': return '<span class="spoiler" tabindex="0">' + inner + '</span>';
      case 'code': return '<code>' + inner + '</code>';
      case 'pre': return '<pre><code>' + inner + '</code></pre>';
      case 'blockquote':
      case 'expandable_blockquote': return '<blockquote>' + inner + '</blockquote>';
      case 'text_link': {
        const href = safeHref(entity.url);
        return href ? '<a href="' + esc(href) + '" target="_blank" rel="noopener noreferrer">' + inner + '</a>' : inner;
      }
      case 'url': {
        const href = safeHref(/^[a-z]+:/i.test(raw) ? raw : 'http://' + raw);
        return href ? '<a href="' + esc(href) + '" target="_blank" rel="noopener noreferrer">' + inner + '</a>' : inner;
      }
      case 'email': return '<a href="mailto:' + esc(raw) + '">' + inner + '</a>';
      case 'phone_number': return '<a href="tel:' + esc(raw.replace(/[^+\d]/g, '')) + '">' + inner + '</a>';
      case 'bot_command': return '<button type="button" class="cmd-link" data-command="' + esc(raw) + '">' + inner + '</button>';
      default: return inner;
    }
  }

  function renderRange(text, entities, start, end) {
    let out = '';
    let pos = start;
    let i = 0;
    while (i < entities.length) {
      const e = entities[i];
      if (e.offset < pos) { i += 1; continue; } // overlapping entity: keep the outer one
      const eEnd = Math.min(e.offset + e.length, end);
      out += esc(text.slice(pos, e.offset));
      const inner = [];
      let j = i + 1;
      while (j < entities.length && entities[j].offset < eEnd) {
        if (entities[j].offset + entities[j].length <= eEnd) inner.push(entities[j]);
        j += 1;
      }
      out += wrapEntity(e, renderRange(text, inner, e.offset, eEnd), text.slice(e.offset, eEnd));
      pos = eEnd;
      i = j;
    }
    out += esc(text.slice(pos, end));
    return out;
  }

  function richText(text, entities) {
    const sorted = (entities || []).slice().sort((a, b) => a.offset - b.offset || b.length - a.length);
    return renderRange(text || '', sorted, 0, (text || '').length);
  }

  function nearestPlace(lat, lon) {
    if (!places || !places.length) return null;
    let best = null;
    let bestD = Infinity;
    for (const p of places) {
      const d = (p.latitude - lat) ** 2 + ((p.longitude - lon) * Math.cos(lat * Math.PI / 180)) ** 2;
      if (d < bestD) { bestD = d; best = p; }
    }
    return Math.sqrt(bestD) * 111000 < 500 ? best : null; // within ~500 m
  }

  function fileLink(msg, label) {
    const a = el('a', 'file-card');
    a.href = msg.file_url;
    a.download = msg.file_name || '';
    a.appendChild(el('span', 'file-icon', msg.kind === 'voice' ? '🎤' : '📄'));
    const text = el('span', 'file-text');
    text.appendChild(el('span', 'file-name', msg.file_name || label));
    text.appendChild(el('span', 'file-action', t('download') + (msg.mime_type ? ' · ' + msg.mime_type : '')));
    a.appendChild(text);
    return a;
  }

  function renderMessage(msg) {
    const wrap = el('div', 'msg ' + (msg.from_bot ? 'in' : 'out'));
    wrap.dataset.messageId = String(msg.message_id);
    wrap.dataset.day = fmt(msg.date * 1000, { year: 'numeric', month: 'long', day: 'numeric', weekday: 'short' });
    const bubble = el('div', 'bubble kind-' + msg.kind);
    if (msg.kind === 'photo' && msg.file_url) {
      const img = el('img', 'photo');
      img.src = msg.file_url;
      img.alt = msg.caption || t('attach_photo');
      img.title = t('open_image');
      img.addEventListener('load', () => { if (stickToBottom) toBottom(); });
      img.addEventListener('click', () => {
        $('#image-full').src = msg.file_url;
        $('#dlg-image').showModal();
      });
      bubble.appendChild(img);
    } else if (msg.kind === 'document' && msg.file_url) {
      bubble.appendChild(fileLink(msg, t('document')));
    } else if (msg.kind === 'voice' && msg.file_url) {
      const audio = el('audio', 'voice');
      audio.controls = true;
      audio.preload = 'none';
      audio.src = msg.file_url;
      bubble.appendChild(audio);
      bubble.appendChild(fileLink(msg, t('voice')));
    } else if (msg.kind === 'location' && msg.location) {
      const card = el('div', 'place-card');
      card.appendChild(el('span', 'file-icon', '📍'));
      const text = el('span', 'file-text');
      text.appendChild(el('span', 'file-name', t('location_label')));
      const near = nearestPlace(msg.location.latitude, msg.location.longitude);
      const coords = msg.location.latitude.toFixed(5) + ', ' + msg.location.longitude.toFixed(5);
      text.appendChild(el('span', 'file-action', near ? t('near', { place: pickName(near.names) }) + ' · ' + coords : coords));
      card.appendChild(text);
      bubble.appendChild(card);
    } else if (msg.kind === 'contact' && msg.contact) {
      const card = el('div', 'place-card');
      card.appendChild(el('span', 'file-icon', '👤'));
      const text = el('span', 'file-text');
      text.appendChild(el('span', 'file-name', [msg.contact.first_name, msg.contact.last_name].filter(Boolean).join(' ') || t('contact_label')));
      text.appendChild(el('span', 'file-action', msg.contact.phone_number));
      card.appendChild(text);
      bubble.appendChild(card);
    } else if (msg.kind !== 'text') {
      bubble.appendChild(el('div', 'muted', t('unknown_message', { kind: msg.kind })));
    }
    const content = msg.kind === 'text' ? msg.text : msg.caption;
    if (content) {
      const body = el('div', 'text');
      body.innerHTML = richText(content, msg.entities);
      bubble.appendChild(body);
    }
    const meta = el('div', 'meta');
    if (msg.edits > 0) meta.appendChild(el('span', 'edited', t('edited')));
    meta.appendChild(el('time', null, fmt(msg.date * 1000, { hour: '2-digit', minute: '2-digit', hour12: false })));
    bubble.appendChild(meta);
    wrap.appendChild(bubble);
    const rows = msg.reply_markup && msg.reply_markup.inline_keyboard;
    if (msg.from_bot && rows && rows.length) wrap.appendChild(renderInlineKeyboard(msg, rows));
    return wrap;
  }

  function renderInlineKeyboard(msg, rows) {
    const box = el('div', 'ikb');
    for (const row of rows) {
      const line = el('div', 'ikb-row');
      for (const button of row) {
        if (button.url) {
          const a = el('a', 'ikb-btn', button.text);
          const href = safeHref(button.url);
          if (href) { a.href = href; a.target = '_blank'; a.rel = 'noopener noreferrer'; }
          a.appendChild(el('span', 'ikb-corner', '↗'));
          line.appendChild(a);
          continue;
        }
        const b = el('button', 'ikb-btn', button.text);
        b.type = 'button';
        if (button.callback_data !== undefined) {
          b.dataset.callback = button.callback_data;
          b.addEventListener('click', () => pressButton(msg.message_id, b.dataset.callback, b));
        } else if (button.copy_text && button.copy_text.text) {
          b.addEventListener('click', () => {
            if (navigator.clipboard) navigator.clipboard.writeText(button.copy_text.text).catch(() => {});
            toast(button.copy_text.text);
          });
        } else {
          b.classList.add('unsupported');
          b.addEventListener('click', () => toast(t('unsupported_button')));
        }
        line.appendChild(b);
      }
      box.appendChild(line);
    }
    return box;
  }

  async function pressButton(messageId, data, button) {
    if (!current || button.classList.contains('pending')) return;
    button.classList.add('pending');
    try {
      const action = await postJSON('/_emu/users/' + chatId() + '/callback', { message_id: messageId, data });
      const answer = await getJSON('/api/callbacks/' + encodeURIComponent(action.callback_query_id) + '?timeout=15');
      if (!answer.answered) toast(t('button_no_answer'));
      else if (answer.text && answer.show_alert) alertDialog(answer.text);
      else if (answer.text) toast(answer.text);
    } catch (err) {
      showError(err);
    } finally {
      button.classList.remove('pending');
    }
  }

  // -- reply keyboard and composer
  function activeKeyboard() {
    let found = null;
    const ids = Array.from(messages.keys()).sort((a, b) => a - b);
    for (const id of ids) {
      const msg = messages.get(id);
      const markup = msg.from_bot && msg.reply_markup;
      if (!markup) continue;
      if (markup.keyboard) found = { id, markup };
      else if (markup.remove_keyboard) found = null;
    }
    return found;
  }

  function updateComposer() {
    if (!current) return;
    const visible = Array.from(messages.values()).filter((m) => !m.deleted);
    const empty = visible.length === 0;
    $('#start-bar').hidden = !empty;
    $('#composer').hidden = empty;
    const kb = activeKeyboard();
    const panel = $('#reply-keyboard');
    panel.textContent = '';
    if (!kb || empty) {
      panel.hidden = true;
      $('#btn-keyboard').hidden = true;
      $('#input').placeholder = t('input_placeholder');
      return;
    }
    $('#btn-keyboard').hidden = false;
    $('#input').placeholder = kb.markup.input_field_placeholder || t('input_placeholder');
    const collapsed = kb.markup.one_time_keyboard && keyboardCollapsedFor === kb.id;
    panel.hidden = !keyboardOpen || collapsed;
    $('#btn-keyboard').setAttribute('aria-expanded', String(!panel.hidden));
    for (const row of kb.markup.keyboard) {
      const line = el('div', 'rkb-row');
      for (const raw of row) {
        const button = typeof raw === 'string' ? { text: raw } : raw;
        const b = el('button', 'rkb-btn', button.text);
        b.type = 'button';
        b.addEventListener('click', () => replyButton(kb, button));
        line.appendChild(b);
      }
      panel.appendChild(line);
    }
  }

  function collapseIfOneTime(kb) {
    if (kb.markup.one_time_keyboard) {
      keyboardCollapsedFor = kb.id;
      keyboardOpen = false;
      updateComposer();
    }
  }

  function replyButton(kb, button) {
    if (button.request_contact) {
      openContactDialog(() => collapseIfOneTime(kb));
      return;
    }
    if (button.request_location) {
      openLocationDialog(() => collapseIfOneTime(kb));
      return;
    }
    if (button.request_users || button.request_chat || button.request_poll || button.web_app) {
      toast(t('unsupported_button'));
      return;
    }
    sendText(button.text).then((ok) => { if (ok) collapseIfOneTime(kb); });
  }

  async function sendText(text) {
    if (!current || !text.trim()) return false;
    try {
      await postJSON('/_emu/users/' + chatId() + '/text', { text });
      return true;
    } catch (err) {
      showError(err);
      return false;
    }
  }

  function autoGrow() {
    const input = $('#input');
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight, 160) + 'px';
  }

  // -- contact
  function defaultPhone() {
    if (current && current.phone) return current.phone;
    const digits = String(current ? current.telegram_id : Date.now()).slice(-8).padStart(8, '0');
    return '+86139' + digits;
  }

  let afterDialog = null;

  function openContactDialog(done) {
    afterDialog = done || null;
    $('#contact-phone').value = defaultPhone();
    $('#dlg-contact').showModal();
  }

  async function shareContact() {
    const phone = $('#contact-phone').value.trim();
    if (!phone || !current) return;
    try {
      await postJSON('/_emu/users/' + chatId() + '/contact', { phone_number: phone, first_name: current.first_name });
      if (afterDialog) afterDialog();
    } catch (err) {
      showError(err);
    }
  }

  // -- location picker: buildings of the database drawn on a plain SVG plane
  const SVG_NS = 'http://www.w3.org/2000/svg';
  // An SVG element with these attributes.
  const svgEl = (tag, attrs) => {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    return node;
  };
  let mapBounds = null;
  let pickedMarker = null;

  async function ensurePlaces() {
    if (places) return places;
    try {
      places = (await getJSON('/api/places')).places;
    } catch (e) {
      places = [];
    }
    return places;
  }

  function project(lat, lon) {
    const b = mapBounds;
    return [((lon - b.minLon) / (b.maxLon - b.minLon)) * 1000, ((b.maxLat - lat) / (b.maxLat - b.minLat)) * 600];
  }

  function unproject(x, y) {
    const b = mapBounds;
    return [b.maxLat - (y / 600) * (b.maxLat - b.minLat), b.minLon + (x / 1000) * (b.maxLon - b.minLon)];
  }

  function drawMap() {
    const box = $('#map');
    box.textContent = '';
    const svg = svgEl('svg', { viewBox: '0 0 1000 600', preserveAspectRatio: 'none' });
    const pts = places.length ? places : [{ latitude: 41.74, longitude: 125.93, names: {} }];
    let minLat = Math.min(...pts.map((p) => p.latitude));
    let maxLat = Math.max(...pts.map((p) => p.latitude));
    let minLon = Math.min(...pts.map((p) => p.longitude));
    let maxLon = Math.max(...pts.map((p) => p.longitude));
    const padLat = Math.max((maxLat - minLat) * 0.12, 0.002);
    const padLon = Math.max((maxLon - minLon) * 0.12, 0.002);
    mapBounds = { minLat: minLat - padLat, maxLat: maxLat + padLat, minLon: minLon - padLon, maxLon: maxLon + padLon };
    svg.appendChild(svgEl('rect', { width: 1000, height: 600, class: 'map-bg' }));
    for (let i = 1; i < 10; i += 1) {
      svg.appendChild(svgEl('line', { x1: i * 100, x2: i * 100, y1: 0, y2: 600, class: 'map-grid' }));
    }
    for (let i = 1; i < 6; i += 1) {
      svg.appendChild(svgEl('line', { x1: 0, x2: 1000, y1: i * 100, y2: i * 100, class: 'map-grid' }));
    }
    places.forEach((p, index) => {
      const [x, y] = project(p.latitude, p.longitude);
      const dot = svgEl('circle', { cx: x, cy: y, r: 14, class: 'map-building' });
      dot.dataset.index = String(index);
      const title = svgEl('title', {});
      title.textContent = pickName(p.names);
      dot.appendChild(title);
      svg.appendChild(dot);
    });
    pickedMarker = svgEl('circle', { r: 28, class: 'map-pick', visibility: 'hidden' });
    svg.appendChild(pickedMarker);
    svg.addEventListener('click', (event) => {
      const rect = svg.getBoundingClientRect();
      const x = ((event.clientX - rect.left) / rect.width) * 1000;
      const y = ((event.clientY - rect.top) / rect.height) * 600;
      const target = event.target;
      if (target && target.dataset && target.dataset.index !== undefined) {
        choosePlace(Number(target.dataset.index));
        return;
      }
      const [lat, lon] = unproject(x, y);
      setPick(lat, lon);
      $('#place-select').value = '';
    });
    box.appendChild(svg);
  }

  function setPick(lat, lon) {
    $('#loc-lat').value = lat.toFixed(6);
    $('#loc-lon').value = lon.toFixed(6);
    if (pickedMarker && mapBounds) {
      const [x, y] = project(lat, lon);
      pickedMarker.setAttribute('cx', String(x));
      pickedMarker.setAttribute('cy', String(y));
      pickedMarker.setAttribute('visibility', 'visible');
    }
  }

  function choosePlace(index) {
    const p = places[index];
    if (!p) return;
    $('#place-select').value = String(index);
    setPick(p.latitude, p.longitude);
  }

  async function openLocationDialog(done) {
    afterDialog = done || null;
    await ensurePlaces();
    const select = $('#place-select');
    select.textContent = '';
    const none = el('option', null, t('place_none'));
    none.value = '';
    select.appendChild(none);
    places.forEach((p, index) => {
      const option = el('option', null, pickName(p.names) + (p.grid ? ' · ' + pickName(p.grid) : ''));
      option.value = String(index);
      select.appendChild(option);
    });
    drawMap();
    // Start near the persona's home if known, else at the first building.
    let start = 0;
    if (current && current.home) {
      const own = places.findIndex((p) => p.code === current.home.building_code);
      if (own >= 0) start = own;
    }
    if (places.length) choosePlace(start);
    else setPick(41.7436, 125.9168);
    $('#dlg-location').showModal();
  }

  async function shareLocation() {
    const lat = Number($('#loc-lat').value);
    const lon = Number($('#loc-lon').value);
    if (!current || !Number.isFinite(lat) || !Number.isFinite(lon)) return;
    try {
      await postJSON('/_emu/users/' + chatId() + '/location', { latitude: lat, longitude: lon });
      if (afterDialog) afterDialog();
    } catch (err) {
      showError(err);
    }
  }

  // -- photos and files
  let pendingUpload = null;

  function chooseFile(kind, file) {
    if (!file) return;
    if (file.size > MAX_UPLOAD_MB * 1024 * 1024) { toast(t('file_too_big', { n: MAX_UPLOAD_MB })); return; }
    if (kind === 'photo' && !file.type.startsWith('image/')) { toast(t('photo_only')); return; }
    pendingUpload = { kind, file };
    $('#upload-title').textContent = t(kind === 'photo' ? 'send_photo_title' : 'send_file_title');
    const preview = $('#upload-preview');
    preview.textContent = '';
    if (kind === 'photo') {
      const img = el('img');
      img.alt = file.name;
      const reader = new FileReader();
      reader.onload = () => { img.src = reader.result; };
      reader.readAsDataURL(file);
      preview.appendChild(img);
    } else {
      const card = el('div', 'place-card');
      card.appendChild(el('span', 'file-icon', '📄'));
      const text = el('span', 'file-text');
      text.appendChild(el('span', 'file-name', file.name));
      text.appendChild(el('span', 'file-action', Math.max(1, Math.round(file.size / 1024)) + ' KB'));
      card.appendChild(text);
      preview.appendChild(card);
    }
    $('#upload-caption').value = '';
    $('#dlg-upload').showModal();
  }

  async function sendUpload() {
    if (!pendingUpload || !current) return;
    const { kind, file } = pendingUpload;
    pendingUpload = null;
    const form = new FormData();
    form.append('file', file, file.name);
    const caption = $('#upload-caption').value.trim();
    if (caption) form.append('caption', caption);
    try {
      await request('POST', '/_emu/users/' + chatId() + '/' + (kind === 'photo' ? 'photo' : 'document'), form);
    } catch (err) {
      showError(err);
    }
  }

  // ------------------------------------------------------------------ router
  function route() {
    const match = /^#\/chat\/(\d+)$/.exec(location.hash);
    if (match) openChat(Number(match[1]));
    else showPersonas();
  }

  // ------------------------------------------------------------------ wiring
  // A dialog's returnValue outlives it (Escape keeps the old one): read and reset.
  function onDialogClose(sel, fn) {
    const dialog = $(sel);
    dialog.addEventListener('close', () => {
      const value = dialog.returnValue;
      dialog.returnValue = '';
      fn(value);
    });
  }

  function wire() {
    $('#lang-select').addEventListener('change', (e) => setLang(e.target.value));
    window.addEventListener('storage', (e) => { if (e.key === 'sandbox.lang' && e.newValue && e.newValue !== lang) setLang(e.newValue); });
    $('#btn-back').addEventListener('click', () => { location.hash = '#/'; });
    $('#btn-clock').addEventListener('click', () => { $('#dlg-clock').showModal(); renderClock(); refreshClock(); });
    document.querySelectorAll('[data-advance]').forEach((b) => {
      b.addEventListener('click', () => advanceClock(Number(b.dataset.advance)));
    });
    $('#btn-clock-reset').addEventListener('click', async () => {
      try {
        setClock(await postJSON('/api/clock', { reset: true }));
        if (channel) channel.postMessage({ type: 'clock' });
        toast(t('clock_reset_done'));
      } catch (err) {
        showError(err);
      }
    });
    $('#btn-advance-custom').addEventListener('click', () => {
      const amount = Number($('#advance-amount').value);
      if (!Number.isFinite(amount) || amount <= 0) return;
      advanceClock(Math.round(amount * Number($('#advance-unit').value)));
    });
    if (channel) channel.addEventListener('message', (e) => { if (e.data && e.data.type === 'clock') refreshClock(); });
    setInterval(renderClock, 15000);
    setInterval(refreshClock, CLOCK_REFRESH_MS);
    document.addEventListener('visibilitychange', () => { if (!document.hidden) refreshClock(); });

    $('#persona-search').addEventListener('input', renderPersonas);
    $('#btn-new-resident').addEventListener('click', openNewResidentDialog);
    onDialogClose('#dlg-new', (value) => { if (value === 'create') createResident(); });

    $('#btn-start').addEventListener('click', () => sendText('/start'));
    $('#composer').addEventListener('submit', (e) => {
      e.preventDefault();
      const input = $('#input');
      const text = input.value;
      if (!text.trim()) return;
      input.value = '';
      autoGrow();
      sendText(text).then((ok) => { if (!ok) input.value = text; });
    });
    $('#input').addEventListener('input', autoGrow);
    $('#input').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        $('#composer').requestSubmit();
      }
    });
    $('#btn-keyboard').addEventListener('click', () => {
      const kb = activeKeyboard();
      keyboardOpen = $('#reply-keyboard').hidden;
      if (kb && keyboardOpen) keyboardCollapsedFor = null;
      updateComposer();
    });
    $('#btn-commands').addEventListener('click', () => {
      const list = $('#commands-list');
      list.textContent = '';
      if (!commands.length) list.appendChild(el('p', 'muted', t('no_commands')));
      for (const c of commands) {
        const b = el('button', 'big-btn cmd');
        b.value = '/' + c.command;
        b.appendChild(el('span', 'cmd-name', '/' + c.command));
        b.appendChild(el('span', 'cmd-desc', c.description));
        list.appendChild(b);
      }
      $('#dlg-commands').showModal();
    });
    onDialogClose('#dlg-commands', (value) => { if (value && value.startsWith('/')) sendText(value); });
    $('#messages').addEventListener('scroll', () => {
      const list = $('#messages');
      stickToBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    }, { passive: true });
    if ('ResizeObserver' in window) {
      new ResizeObserver(() => { if (stickToBottom) toBottom(); }).observe($('#messages'));
    }
    $('#messages').addEventListener('click', (e) => {
      const cmd = e.target.closest && e.target.closest('.cmd-link');
      if (cmd) { sendText(cmd.dataset.command); return; }
      const spoiler = e.target.closest && e.target.closest('.spoiler');
      if (spoiler) spoiler.classList.add('revealed');
    });

    $('#btn-attach').addEventListener('click', () => $('#dlg-attach').showModal());
    onDialogClose('#dlg-attach', (value) => {
      if (value === 'photo') $('#file-photo').click();
      else if (value === 'file') $('#file-doc').click();
      else if (value === 'location') openLocationDialog(null);
      else if (value === 'contact') openContactDialog(null);
    });
    $('#file-photo').addEventListener('change', (e) => { chooseFile('photo', e.target.files[0]); e.target.value = ''; });
    $('#file-doc').addEventListener('change', (e) => { chooseFile('document', e.target.files[0]); e.target.value = ''; });
    onDialogClose('#dlg-upload', (value) => { if (value === 'send') sendUpload(); else pendingUpload = null; });
    onDialogClose('#dlg-contact', (value) => { if (value === 'share') shareContact(); });
    $('#place-select').addEventListener('change', (e) => { if (e.target.value !== '') choosePlace(Number(e.target.value)); });
    ['#loc-lat', '#loc-lon'].forEach((sel) => $(sel).addEventListener('change', () => {
      const lat = Number($('#loc-lat').value);
      const lon = Number($('#loc-lon').value);
      if (Number.isFinite(lat) && Number.isFinite(lon)) setPick(lat, lon);
    }));
    onDialogClose('#dlg-location', (value) => { if (value === 'share') shareLocation(); });
    $('#dlg-image').addEventListener('close', () => { $('#image-full').removeAttribute('src'); });
    // A click on the backdrop closes sheets, as on a phone.
    document.querySelectorAll('dialog.sheet').forEach((d) => d.addEventListener('click', (e) => { if (e.target === d) d.close('cancel'); }));
    window.addEventListener('hashchange', route);
  }

  async function boot() {
    applyI18n();
    wire();
    // The sandbox may still be starting (503) or restarting: wait for it.
    for (let delay = 500; !info; delay = Math.min(delay * 2, 5000)) {
      try {
        info = await getJSON('/api/info');
      } catch (err) {
        banner(t('err_network'));
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    banner('');
    setClock(info.clock);
    ensurePlaces().then(() => { if (current) rerenderAllMessages(); });
    route();
  }

  document.addEventListener('DOMContentLoaded', boot);
})();
