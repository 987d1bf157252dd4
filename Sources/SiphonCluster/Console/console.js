// Siphon operator console. No framework, no build step: the DOM is built with createElement and
// textContent only — whatever a caller or a model said is data, never markup.
'use strict';

const state = { token: null, follow: null, timers: [], talk: null };

// ---- DOM helpers ---------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'on') for (const [ev, f] of Object.entries(v)) e.addEventListener(ev, f);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = String(text);
  return e;
}

const main = () => document.getElementById('main');
function show(...nodes) { main().replaceChildren(...nodes); }
function time(ms) { return ms ? new Date(Number(ms)).toLocaleTimeString() : ''; }
function statusBadge(s) { return el('span', { class: `status status-${s}`, 'data-status': s }, s); }
function callLink(id) { return el('a', { href: `#/calls/${encodeURIComponent(id)}`, class: 'mono' }, id); }
const TERMINAL = new Set(['ended', 'failed', 'no_answer', 'busy', 'canceled', 'rejected']);

// ---- API -------------------------------------------------------------------------------------

// Paths are relative ("v1/…"), so the console works behind a reverse proxy's path prefix.
async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: `Bearer ${state.token}` }, options.headers || {});
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method: options.method || 'GET', headers, cache: 'no-store',
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!response.ok) {
    const message = data && data.error ? data.error.message : `${response.status} ${response.statusText}`;
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return data;
}

// Server-sent events over fetch (EventSource cannot send the Authorization header). Reconnects
// after a second; `onOpen` runs at each (re)connection so a page can reload what it missed.
function follow(query, onItem, onOpen) {
  const controller = new AbortController();
  let stopped = false;
  const indicator = document.getElementById('live');
  (async () => {
    while (!stopped) {
      try {
        const response = await fetch(`v1/activity${query}`, {
          headers: { Authorization: `Bearer ${state.token}` }, signal: controller.signal, cache: 'no-store',
        });
        if (!response.ok) throw new Error(`activity: ${response.status}`);
        indicator.hidden = false; indicator.className = 'live'; indicator.textContent = 'live';
        if (onOpen) onOpen();
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let cut;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            for (const line of block.split('\n')) {
              if (line.startsWith('data: ')) {
                try { onItem(JSON.parse(line.slice(6))); } catch (_) { /* a malformed line is skipped */ }
              }
            }
          }
        }
      } catch (_) { /* reconnect below */ }
      if (stopped) break;
      indicator.className = 'live off'; indicator.textContent = 'reconnecting';
      await new Promise(r => setTimeout(r, 1000));
    }
  })();
  return () => { stopped = true; controller.abort(); };
}

// Runs `body` with the ids gathered over `ms`, at most once per `ms`.
function batcher(ms, body) {
  let pending = new Set(), timer = null;
  return id => {
    pending.add(id);
    if (timer) return;
    timer = setTimeout(async () => {
      const ids = [...pending];
      pending = new Set(); timer = null;
      try { await body(ids); } catch (_) { /* the next change retries */ }
    }, ms);
  };
}

function every(ms, f) { f(); state.timers.push(setInterval(f, ms)); }

function errorBox(e) { return el('p', { class: 'error', role: 'alert' }, e.message || String(e)); }

// ---- pages -----------------------------------------------------------------------------------

async function callsPage() {
  const statusSelect = el('select', { id: 'filter-status' }, el('option', { value: '' }, 'any status'),
    ...['queued', 'claimed', 'dialing', 'ringing', 'active', 'ended', 'failed', 'no_answer', 'busy', 'canceled', 'rejected']
      .map(s => el('option', { value: s }, s)));
  const agentInput = el('input', { id: 'filter-agent', placeholder: 'agent', size: 16 });
  const body = el('tbody', { id: 'calls-body' });
  const count = el('span', { class: 'muted', id: 'calls-count' });
  const rows = new Map();
  const matches = c => (!statusSelect.value || c.status === statusSelect.value)
    && (!agentInput.value || c.agent.toLowerCase().includes(agentInput.value.toLowerCase()));
  const render = c => el('tr', { 'data-call': c.id },
    el('td', {}, callLink(c.id)), el('td', {}, statusBadge(c.status)), el('td', {}, c.agent),
    el('td', {}, c.transport === 'webrtc' ? 'browser' : (c.to || '')), el('td', {}, c.transport),
    el('td', { class: 'mono' }, c.worker || '—'), el('td', {}, c.last_seq), el('td', {}, time(c.created_at)),
    el('td', { class: 'muted' }, c.reason || ''));
  const upsert = (c, atTop) => {
    const row = render(c);
    row.hidden = !matches(c);
    const old = rows.get(c.id);
    if (old) old.replaceWith(row); else if (atTop) body.prepend(row); else body.append(row);
    rows.set(c.id, row);
    row.call = c;
    count.textContent = `${rows.size} calls`;
  };
  const refilter = () => { for (const row of rows.values()) row.hidden = !matches(row.call); };
  statusSelect.addEventListener('change', refilter);
  agentInput.addEventListener('input', refilter);
  show(el('h1', {}, 'Calls'),
    el('div', { class: 'filters' }, el('label', {}, 'Status ', statusSelect), el('label', {}, 'Agent ', agentInput), count),
    el('table', { id: 'calls' }, el('thead', {}, el('tr', {}, ...['Call', 'Status', 'Agent', 'To', 'Transport', 'Worker', 'Turns', 'Created', 'Reason']
      .map(h => el('th', {}, h)))), body));
  const load = async () => {
    const data = await api('v1/calls?limit=200');
    for (const c of data.calls.slice().reverse()) upsert(c, true);
  };
  const refresh = batcher(300, async ids => {
    const data = await api(`v1/calls?ids=${ids.map(encodeURIComponent).join(',')}`);
    for (const c of data.calls) upsert(c, !rows.has(c.id));
  });
  try { await load(); } catch (e) { main().append(errorBox(e)); }
  state.follow = follow('', item => { if (item.call) refresh(item.call); }, null);
}

// The per-turn latency waterfall: one row per agent turn, its stages laid end to end.
const STAGES = ['endpointing', 'stt', 'llm', 'tts', 'framework'];
function waterfall(turns) {
  const rows = turns.filter(t => t.role === 'agent' && t.extra && STAGES.some(s => t.extra[`latency.${s}_ms`] !== undefined));
  if (!rows.length) return el('p', { class: 'muted', id: 'waterfall-empty' }, 'No latency marks yet.');
  const total = t => STAGES.reduce((a, s) => a + Number(t.extra[`latency.${s}_ms`] || 0), 0);
  const widest = Math.max(1, ...rows.map(total));
  const left = 70, width = 560, rowHeight = 22;
  const chart = svg('svg', { class: 'waterfall', id: 'waterfall', viewBox: `0 0 ${left + width + 90} ${rows.length * rowHeight + 8}`, role: 'img' });
  chart.append(svg('title', {}, 'Per-turn latency: endpointing, STT, LLM first token, TTS first audio, framework'));
  rows.forEach((t, i) => {
    const y = 4 + i * rowHeight;
    chart.append(svg('text', { x: 0, y: y + 14 }, `turn ${t.seq}`));
    let x = left;
    for (const s of STAGES) {
      const ms = Number(t.extra[`latency.${s}_ms`] || 0);
      if (!ms) continue;
      const w = Math.max(1, ms / widest * width);
      const rect = svg('rect', { x, y, width: w, height: rowHeight - 6, class: `seg-${s}` });
      rect.append(svg('title', {}, `${s} ${ms} ms`));
      chart.append(rect);
      x += w;
    }
    const v2v = t.extra['latency.voice_to_voice_ms'];
    chart.append(svg('text', { x: x + 6, y: y + 14 }, `${v2v || total(t)} ms`));
    if (t.interrupted) chart.append(svg('text', { x: left + width + 50, y: y + 14, class: 'bargein-mark' }, 'barge-in'));
  });
  const legend = el('div', { class: 'legend' }, ...STAGES.map(s => el('span', {}, el('i', { class: `seg-${s}` }), s)));
  return el('div', {}, chart, legend);
}

function transcriptList(turns, id) {
  return el('ol', { class: 'transcript', id },
    ...turns.map(t => el('li', { 'data-seq': t.seq, 'data-role': t.role },
      el('span', { class: `role role-${t.role}` }, t.role), ' ', el('span', { class: 'text' }, t.text),
      t.interrupted ? el('span', { class: 'bargein' }, '(barge-in: cut off)') : null)));
}

async function callPage(id) {
  const head = el('div', { class: 'card', id: 'call-head' });
  const transcript = el('div', { class: 'card' }, el('h2', {}, 'Transcript'), el('ol', { class: 'transcript', id: 'transcript' }));
  const events = el('div', { class: 'card' }, el('h2', {}, 'Events'), el('ol', { class: 'timeline', id: 'events' }));
  const latency = el('div', { class: 'card' }, el('h2', {}, 'Latency per turn'), el('div', { id: 'latency' }));
  const recording = el('div', { class: 'card', id: 'recording', hidden: true }, el('h2', {}, 'Recording'));
  show(el('h1', {}, 'Call ', el('span', { class: 'mono' }, id)), head, el('div', { class: 'grid' }, transcript, events), latency, recording);
  const path = `v1/calls/${encodeURIComponent(id)}`;
  let player = null;
  // The recording, once the call has ended and the dispatcher can serve it (an <audio> element cannot
  // send the token: the file is fetched, then played from memory).
  const loadRecording = async call => {
    if (player || !call.recording || !TERMINAL.has(call.status)) return;
    player = 'loading';
    const response = await fetch(`${path}/recording`, { headers: { Authorization: `Bearer ${state.token}` }, cache: 'no-store' });
    if (!response.ok) { player = null; return; }
    player = el('audio', { controls: true, id: 'recording-player', src: URL.createObjectURL(await response.blob()) });
    recording.append(player);
    recording.hidden = false;
  };
  const load = async () => {
    const [call, turns, evs] = await Promise.all([api(path), api(`${path}/turns`), api(`${path}/events`)]);
    const hangup = el('button', { class: 'danger', id: 'hangup', disabled: TERMINAL.has(call.status) || null, on: { click: async () => {
      try { await api(path, { method: 'DELETE' }); } catch (e) { head.append(errorBox(e)); }
    } } }, call.status === 'queued' ? 'Cancel' : 'Hang up');
    head.replaceChildren(...[
      el('p', {}, statusBadge(call.status), ' · agent ', el('strong', {}, call.agent), ' · ', call.transport === 'webrtc' ? 'browser call' : (call.to || ''),
        ' · worker ', el('span', { class: 'mono' }, call.worker || '—'), ` · attempt ${call.attempts}/${call.max_attempts}`),
      call.reason ? el('p', { class: 'muted' }, call.reason) : null, hangup].filter(Boolean));
    transcript.querySelector('ol').replaceWith(transcriptList(turns.turns, 'transcript'));
    events.querySelector('ol').replaceWith(el('ol', { class: 'timeline', id: 'events' },
      ...evs.events.map(e => el('li', {}, el('time', {}, time(e.at)), el('strong', {}, e.type),
        e.worker ? el('span', { class: 'muted' }, ` ${e.worker}`) : null, e.detail ? ` — ${e.detail}` : null))));
    latency.querySelector('#latency').replaceChildren(waterfall(turns.turns));
    await loadRecording(call);
  };
  try { await load(); } catch (e) { show(el('h1', {}, 'Call'), errorBox(e)); return; }
  const refresh = batcher(150, () => load());
  state.follow = follow(`?call=${encodeURIComponent(id)}`, () => refresh(id), () => refresh(id));
}

async function workersPage() {
  const body = el('tbody', { id: 'workers-body' });
  show(el('h1', {}, 'Workers'), el('table', { id: 'workers' }, el('thead', {}, el('tr', {},
    ...['Worker', 'State', 'Active / capacity', 'Load', 'Heartbeat age', 'Agents', 'Transports', 'Host', 'Version'].map(h => el('th', {}, h)))), body));
  every(1000, async () => {
    try {
      const data = await api('v1/workers');
      const now = Date.now();
      body.replaceChildren(...data.workers.map(w => {
        const load = w.capacity ? Math.min(1, w.active / w.capacity) : 0;
        const bar = el('div'); bar.style.width = `${Math.round(load * 100)}%`;
        return el('tr', { 'data-worker': w.id },
          el('td', { class: 'mono' }, w.id),
          el('td', {}, statusBadge(!w.alive ? 'dead' : w.draining ? 'draining' : 'live')),
          el('td', {}, `${w.active} / ${w.capacity}`), el('td', {}, el('span', { class: 'meter' }, bar)),
          el('td', {}, w.last_heartbeat ? `${Math.max(0, now - w.last_heartbeat)} ms` : '—'),
          el('td', {}, w.agents.join(', ')), el('td', {}, w.transports.join(', ')), el('td', {}, w.host), el('td', {}, w.version));
      }));
    } catch (e) { body.replaceChildren(el('tr', {}, el('td', { colspan: 9 }, errorBox(e)))); }
  });
}

async function deadPage() {
  show(el('h1', {}, 'Dead letters'));
  try {
    const data = await api('v1/dead-letters?limit=200');
    if (!data.dead_letters.length) { main().append(el('p', { class: 'muted', id: 'dead-empty' }, 'No dead letters.')); return; }
    const keys = ['id', 'call', 'reason', 'attempts', 'at'].filter(k => data.dead_letters.some(d => d[k] !== undefined));
    main().append(el('table', { id: 'dead' }, el('thead', {}, el('tr', {}, ...keys.map(k => el('th', {}, k)), el('th', {}, 'job'))),
      el('tbody', {}, ...data.dead_letters.map(d => el('tr', {}, ...keys.map(k => el('td', { class: k === 'id' ? 'mono' : '' }, k === 'at' ? time(d[k]) : (d[k] || ''))),
        el('td', { class: 'mono' }, (d.job || d.raw || '').slice(0, 300)))))));
  } catch (e) { main().append(errorBox(e)); }
}

async function agentsServed(transport) {
  const data = await api('v1/workers');
  return [...new Set(data.workers.filter(w => w.alive && (!transport || w.transports.includes(transport))).flatMap(w => w.agents))].sort();
}

async function placePage() {
  const agent = el('select', { id: 'place-agent', required: true });
  const to = el('input', { id: 'place-to', placeholder: '+15551234567', required: true });
  const from = el('input', { id: 'place-from', placeholder: 'optional' });
  const transport = el('select', { id: 'place-transport' }, el('option', { value: 'sip' }, 'sip'), el('option', { value: 'livekit' }, 'livekit'));
  const result = el('div', { id: 'place-result' });
  const form = el('form', { class: 'card', id: 'place' }, el('h1', {}, 'Place a call'),
    el('label', {}, 'Agent ', agent), el('label', {}, 'To ', to), el('label', {}, 'From ', from), el('label', {}, 'Transport ', transport),
    el('button', { type: 'submit' }, 'Call'), result);
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const body = { agent: agent.value, to: to.value, transport: transport.value };
    if (from.value) body.from = from.value;
    try {
      const r = await api('v1/calls', { method: 'POST', body });
      result.replaceChildren(el('p', {}, 'Queued: ', callLink(r.id)));
    } catch (e) { result.replaceChildren(errorBox(e)); }
  });
  show(form);
  try { for (const a of await agentsServed()) agent.append(el('option', { value: a }, a)); } catch (e) { result.replaceChildren(errorBox(e)); }
}

// ---- talk to an agent: a browser call ------------------------------------------------------

async function offerOf(pc) {
  await pc.setLocalDescription(await pc.createOffer());
  // Candidates in the offer (no trickle through the API): wait for gathering, at most 2 s.
  await new Promise(resolve => {
    if (pc.iceGatheringState === 'complete') return resolve();
    const t = setTimeout(resolve, 2000);
    pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); } });
  });
  return pc.localDescription.sdp;
}

async function talkPage() {
  const agent = el('select', { id: 'talk-agent' });
  const button = el('button', { id: 'talk-start' }, 'Talk');
  const stop = el('button', { id: 'talk-stop', class: 'danger', disabled: true }, 'Hang up');
  const status = el('p', { id: 'talk-status', class: 'muted' }, 'Not connected.');
  const figures = el('p', { id: 'talk-figures', class: 'muted' });
  const transcript = el('div', { class: 'card' }, el('h2', {}, 'Live transcript'), el('ol', { class: 'transcript', id: 'talk-transcript' }));
  const audio = el('audio', { id: 'talk-audio', autoplay: true });
  const save = el('p', { id: 'talk-save' });
  show(el('div', { class: 'card' }, el('h1', {}, 'Talk to an agent'),
    el('p', { class: 'muted' }, 'A browser call: your microphone to the agent over WebRTC, through the cluster like any call.'),
    el('label', {}, 'Agent ', agent), button, ' ', stop, status, figures, audio, save), transcript);
  try { for (const a of await agentsServed('webrtc')) agent.append(el('option', { value: a }, a)); } catch (e) { status.replaceChildren(errorBox(e)); }

  const t = state.talk = { id: null, pc: null, mic: null, recorder: null, chunks: [], clicked: 0, firstAudioMs: null, ended: false, reconnects: 0 };
  window.siphonTalk = t;  // read by the browser tests
  const setStatus = s => { status.textContent = s; status.dataset.state = s; };

  const connect = async () => {
    const pc = new RTCPeerConnection();
    t.pc = pc;
    for (const track of t.mic.getAudioTracks()) pc.addTrack(track, t.mic);
    pc.addEventListener('track', ev => {
      const stream = ev.streams[0] || new MediaStream([ev.track]);
      audio.srcObject = stream;
      if (!t.recorder) startRecording(stream);
      watchFirstAudio(stream);
    });
    pc.addEventListener('connectionstatechange', () => {
      if (t.pc !== pc || t.ended) return;
      if (pc.connectionState === 'connected') setStatus(t.reconnects ? 'reconnected' : 'connected');
      if (pc.connectionState === 'failed' || pc.connectionState === 'disconnected') {
        // Give a brief network blip two seconds to heal, then offer again.
        setTimeout(() => { if (t.pc === pc && !t.ended && pc.connectionState !== 'connected') reconnect(); }, pc.connectionState === 'failed' ? 0 : 2000);
      }
    });
    return pc;
  };

  const reconnect = async () => {
    if (t.reconnecting) return;
    t.reconnecting = true;
    try {
      const call = await api(`v1/calls/${encodeURIComponent(t.id)}`);
      if (TERMINAL.has(call.status)) return finish(call);
      setStatus('reconnecting');
      t.reconnects += 1;
      if (t.pc) t.pc.close();
      const pc = await connect();
      const answer = await api(`v1/webrtc/calls/${encodeURIComponent(t.id)}/offer`, { method: 'POST', body: { sdp: await offerOf(pc) } });
      await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    } catch (e) {
      setStatus('connection lost'); status.append(errorBox(e));
    } finally { t.reconnecting = false; }
  };

  const finish = call => {
    t.ended = true;
    setStatus(`call ${call ? call.status : 'ended'}`);
    const pc = t.pc;
    setTimeout(() => { if (pc) pc.close(); }, 1000);
    if (t.mic) for (const track of t.mic.getTracks()) track.stop();
    // The last words are still in the browser's playout buffer when the call ends.
    const recorder = t.recorder;
    if (recorder && recorder.state !== 'inactive') setTimeout(() => recorder.stop(), 1000);
    if (t.follow) t.follow();
    button.disabled = false; stop.disabled = true;
  };

  const startRecording = stream => {
    t.recorder = new MediaRecorder(stream, { mimeType: 'audio/webm;codecs=opus' });
    t.recorder.ondataavailable = ev => { if (ev.data.size) t.chunks.push(ev.data); };
    t.recorder.onstop = () => {
      t.recording = new Blob(t.chunks, { type: 'audio/webm' });
      save.replaceChildren(el('a', { href: URL.createObjectURL(t.recording), download: `${t.id}-agent.webm`, id: 'talk-recording' }, 'Save what the agent said (WebM)'));
    };
    t.recorder.start(250);
  };

  // Time from "Talk" to the agent's first audible audio, measured on what this page plays.
  const watchFirstAudio = stream => {
    if (t.firstAudioMs !== null) return;
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    ctx.createMediaStreamSource(stream).connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    const poll = setInterval(() => {
      analyser.getFloatTimeDomainData(buf);
      let sum = 0;
      for (const v of buf) sum += v * v;
      if (Math.sqrt(sum / buf.length) > 0.01) {
        t.firstAudioMs = Math.round(performance.now() - t.clicked);
        figures.textContent = `Answer in ${t.answerMs} ms; the agent's first audio ${t.firstAudioMs} ms after "Talk".`;
        figures.dataset.firstAudioMs = t.firstAudioMs;
        clearInterval(poll); ctx.close();
      }
    }, 10);
  };

  const refreshTranscript = batcher(150, async () => {
    const data = await api(`v1/calls/${encodeURIComponent(t.id)}/turns`);
    transcript.querySelector('ol').replaceWith(transcriptList(data.turns, 'talk-transcript'));
    const call = await api(`v1/calls/${encodeURIComponent(t.id)}`);
    if (TERMINAL.has(call.status) && !t.ended) finish(call);
  });

  button.addEventListener('click', async () => {
    button.disabled = true;
    t.clicked = performance.now();
    t.ended = false; t.firstAudioMs = null; t.recorder = null; t.chunks = []; t.reconnects = 0;
    try {
      setStatus('connecting');
      t.mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: false, autoGainControl: false } });
      const pc = await connect();
      const answer = await api('v1/webrtc/calls', { method: 'POST', body: { agent: agent.value, sdp: await offerOf(pc) } });
      t.id = answer.id; t.answerMs = answer.answer_ms;
      status.dataset.call = answer.id;
      await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
      stop.disabled = false;
      t.follow = follow(`?call=${encodeURIComponent(t.id)}`, item => {
        // Our worker is gone: offer to the call's next owner now rather than wait for the
        // browser to notice the silence (seconds).
        if (item.type === 'reassigned') reconnect();
        refreshTranscript(t.id);
      }, () => refreshTranscript(t.id));
      state.follow = t.follow;
    } catch (e) {
      setStatus('failed'); status.append(errorBox(e)); button.disabled = false;
    }
  });
  stop.addEventListener('click', async () => {
    t.ended = true;
    try { await api(`v1/calls/${encodeURIComponent(t.id)}`, { method: 'DELETE' }); } catch (_) { /* already ended */ }
    finish(null);
  });
}

// ---- routing and sign-in ---------------------------------------------------------------------

function route() {
  if (state.follow) { state.follow(); state.follow = null; }
  for (const id of state.timers) clearInterval(id);
  state.timers = [];
  // Leaving the talk page hangs its call up.
  const talk = state.talk;
  if (talk && !talk.ended && talk.pc) {
    talk.ended = true;
    talk.pc.close();
    if (talk.id) api(`v1/calls/${encodeURIComponent(talk.id)}`, { method: 'DELETE' }).catch(() => {});
  }
  const hash = location.hash || '#/calls';
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('current', hash.startsWith(a.getAttribute('href')));
  const m = hash.match(/^#\/calls\/(.+)$/);
  if (m) return callPage(decodeURIComponent(m[1]));
  switch (hash) {
    case '#/workers': return workersPage();
    case '#/dead': return deadPage();
    case '#/place': return placePage();
    case '#/talk': return talkPage();
    default: return callsPage();
  }
}

document.addEventListener('DOMContentLoaded', () => {
  const form = document.getElementById('signin');
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const input = document.getElementById('token');
    state.token = input.value;
    input.value = '';
    try {
      await api('v1/workers');
    } catch (e) {
      state.token = null;
      document.getElementById('signin-error').textContent = e.status === 401 ? 'That token was refused.' : e.message;
      return;
    }
    document.getElementById('nav').hidden = false;
    window.addEventListener('hashchange', route);
    route();
  });
});
