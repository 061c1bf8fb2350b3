// The timeline (with --html, or --trace): one lane per guest process, its
// running slices and page faults over time, coloured by kind; the wheel
// zooms around the pointer, dragging pans, the buttons zoom and reset.
// Clicking a fault opens that page's chain and 2D walk in the panel.
// Part of microvmm's HTML report script: html.rs joins data.js, overview.js,
// pages.js, frames.js, timeline.js and start.js, in that order, inside one
// function, so they share its scope; each file is one concept.
  // ---- timeline ------------------------------------------------------------

  const FAULT_COLOUR = {
    demand: '#2e7d32', 'copy-on-write': '#ef6c00', protection: '#c62828', invalid: '#6a1b9a', unknown: '#757575',
  };
  const TL = { t0: 0, t1: 1, lanes: [], laneH: 26, left: 150, canvas: null };

  function timeline() {
    const T = R.timeline;
    if (!T || !T.faults) return;
    $('timeline').hidden = false;
    TL.lanes = T.lanes.map(([pid, name]) => ({ pid, name }));
    TL.t0 = 0;
    TL.t1 = Math.max(T.end, 1);
    const c = $('tl-canvas');
    TL.canvas = c;
    const legend = $('tl-legend');
    legend.replaceChildren(...Object.entries(FAULT_COLOUR).filter(([k]) => k !== 'unknown').map(([k, col]) =>
      el('span', {}, el('span', { class: 'swatch', style: `background:${col}` }), `${k} fault`)),
    el('span', {}, el('span', { class: 'swatch', style: 'background:#c5d5ea' }), 'running'),
    el('span', {}, el('span', { class: 'swatch', style: 'background:#555' }), 'VM exit (to the VMM)'));
    $('tl-note').textContent = `${T.faults.length} page faults, ${T.switches.length} switches, ` +
      `${T.exits.length} VM exits the VMM served, over ${(T.end / 1000).toFixed(1)} ms of guest time` +
      (T.faults_left_out ? `; ${T.faults_left_out} more faults are in the --trace file only` : '') +
      (R.trace && R.trace.guest_dropped ? `; the guest's ring dropped ${R.trace.guest_dropped} events` : '') + '.';
    let drag = null;
    c.addEventListener('wheel', (e) => {
      e.preventDefault();
      zoomAt(tAt(e.offsetX), e.deltaY < 0 ? 0.8 : 1.25);
    }, { passive: false });
    c.addEventListener('mousedown', (e) => { drag = { x: e.offsetX, t0: TL.t0, t1: TL.t1, moved: false }; });
    c.addEventListener('mousemove', (e) => {
      if (!drag) return;
      const dx = e.offsetX - drag.x;
      if (Math.abs(dx) > 2) drag.moved = true;
      const dt = (dx / (c.clientWidth - TL.left)) * (drag.t1 - drag.t0);
      TL.t0 = drag.t0 - dt;
      TL.t1 = drag.t1 - dt;
      drawTimeline();
    });
    window.addEventListener('mouseup', () => { setTimeout(() => { drag = null; }, 0); });
    c.addEventListener('click', (e) => {
      if (drag && drag.moved) return;
      const i = faultAt(e.offsetX, e.offsetY);
      if (i !== null) openFault(i);
    });
    $('tl-in').addEventListener('click', () => zoomAt((TL.t0 + TL.t1) / 2, 0.5));
    $('tl-out').addEventListener('click', () => zoomAt((TL.t0 + TL.t1) / 2, 2));
    $('tl-reset').addEventListener('click', () => { TL.t0 = 0; TL.t1 = Math.max(T.end, 1); drawTimeline(); });
    drawTimeline();
  }

  const tAt = (x) => TL.t0 + ((x - TL.left) / (TL.canvas.clientWidth - TL.left)) * (TL.t1 - TL.t0);
  const xAt = (t) => TL.left + ((t - TL.t0) / (TL.t1 - TL.t0)) * (TL.canvas.clientWidth - TL.left);
  const laneOf = (pid) => TL.lanes.findIndex((l) => l.pid === pid);

  function zoomAt(t, k) {
    const span = Math.max((TL.t1 - TL.t0) * k, 1);
    const f = (t - TL.t0) / (TL.t1 - TL.t0);
    TL.t0 = t - f * span;
    TL.t1 = TL.t0 + span;
    drawTimeline();
  }

  function drawTimeline() {
    const T = R.timeline;
    const c = TL.canvas;
    const w = c.clientWidth;
    const h = 24 + TL.lanes.length * TL.laneH;
    const dpr = window.devicePixelRatio || 1;
    c.width = w * dpr;
    c.height = h * dpr;
    c.style.height = h + 'px';
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    g.font = '12px system-ui, sans-serif';
    g.textBaseline = 'middle';
    // The time axis: about 8 ticks, in µs or ms.
    const span = TL.t1 - TL.t0;
    const step = 10 ** Math.floor(Math.log10(span / 8));
    const tick = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= 10) || step * 10;
    g.fillStyle = '#5f6368';
    for (let t = Math.ceil(TL.t0 / tick) * tick; t <= TL.t1; t += tick) {
      const x = xAt(t);
      g.fillRect(x, 14, 1, h - 14);
      g.fillText(t >= 1000 ? `${(t / 1000).toFixed(tick >= 1000 ? 0 : 2)} ms` : `${t.toFixed(0)} µs`, x + 2, 7);
    }
    g.save();
    g.beginPath();
    g.rect(TL.left, 0, w - TL.left, h);
    g.clip();
    const y = (i) => 24 + i * TL.laneH;
    for (const [pid, from, to] of T.running) {
      const i = laneOf(pid);
      if (i < 0 || to < TL.t0 || from > TL.t1) continue;
      g.fillStyle = '#c5d5ea';
      g.fillRect(xAt(from), y(i) + 3, Math.max(1, xAt(to) - xAt(from)), TL.laneH - 6);
    }
    for (const f of T.faults) {
      if (f.ts + f.dur < TL.t0 || f.ts > TL.t1) continue;
      const i = laneOf(f.pid);
      if (i < 0) continue;
      g.fillStyle = FAULT_COLOUR[f.kind] || FAULT_COLOUR.unknown;
      g.fillRect(xAt(f.ts), y(i) + 6, Math.max(2, xAt(f.ts + f.dur) - xAt(f.ts)), TL.laneH - 12);
    }
    g.fillStyle = '#555';
    for (const [t, pid] of T.exits) {
      const i = laneOf(pid);
      if (i < 0 || t < TL.t0 || t > TL.t1) continue;
      const x = xAt(t);
      g.beginPath();
      g.moveTo(x - 4, y(i) + 1);
      g.lineTo(x + 4, y(i) + 1);
      g.lineTo(x, y(i) + 7);
      g.fill();
    }
    g.restore();
    g.fillStyle = '#1d1d1f';
    TL.lanes.forEach((l, i) => {
      g.fillText(l.pid === 0 ? 'kernel' : `pid ${l.pid} ${l.name}`.slice(0, 22), 4, y(i) + TL.laneH / 2);
      g.fillStyle = '#d0d4d9';
      g.fillRect(0, y(i) + TL.laneH - 1, w, 1);
      g.fillStyle = '#1d1d1f';
    });
  }

  /** The fault drawn under (x, y), if any (nearest within 4 px). */
  function faultAt(x, y) {
    const i = Math.floor((y - 24) / TL.laneH);
    const lane = TL.lanes[i];
    if (!lane || x < TL.left) return null;
    let best = null;
    let bestD = 5;
    R.timeline.faults.forEach((f, k) => {
      if (f.pid !== lane.pid) return;
      const a = xAt(f.ts);
      const b = Math.max(a + 2, xAt(f.ts + f.dur));
      const d = x < a ? a - x : x > b ? x - b : 0;
      if (d < bestD) { bestD = d; best = k; }
    });
    return best;
  }

  /** Show fault `k` and open its page (in the last image of its pid that
   * maps it, else its last image). */
  function openFault(k) {
    const f = R.timeline.faults[k];
    $('tl-info').textContent = `pid ${f.pid}: ${f.kind} fault at ${f.gva} in ${f.region}` +
      `${f.frame ? `, frame ${f.frame}` : ''}, handler ${f.dur.toFixed(1)} µs, at ${(f.ts / 1000).toFixed(3)} ms`;
    const mine = procs.filter((P) => P.p.pid === f.pid);
    const gva = pageOf(num(f.gva), 4096);
    const P = mine.reverse().find((Q) => chainOf(Q, gva).mapped) || mine[0];
    if (P) openPage(P, gva);
  }

  /** For tests: where fault `k` is drawn now. */
  function faultXY(k) {
    const f = R.timeline.faults[k];
    return { x: xAt(f.ts) + 1, y: 24 + laneOf(f.pid) * TL.laneH + TL.laneH / 2 };
  }
