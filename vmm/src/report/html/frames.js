// Guest RAM as a map of frames coloured by owner, and the host page behind each.
// Part of microvmm's HTML report script: html.rs joins data.js, overview.js,
// pages.js, frames.js, timeline.js and start.js, in that order, inside one function, so
// they share its scope; each file is one concept.
  // ---- guest-physical and host frames -------------------------------------

  const frames = Math.max(1, Math.floor(R.memory.size / 4096));
  const cell = frames <= 32768 ? 3 : frames <= 131072 ? 2 : 1;
  const cols = cell === 3 ? 256 : cell === 2 ? 512 : 1024;
  const rowsN = Math.ceil(frames / cols);
  let owner = null; // per frame: -1 other, 2*i data of process i, 2*i+1 its page tables
  let dirty = null;
  // Per frame: -1, or the process i whose exit found it mapped by another
  // live process too (processes[i].sharing.frames).
  let sharedBy = null;

  function rgb(hex) {
    const v = parseInt(hex.slice(1), 16);
    return [Math.floor(v / 65536), Math.floor(v / 256) % 256, v % 256];
  }

  function paint(canvas, colourOf) {
    canvas.width = cols;
    canvas.height = rowsN;
    canvas.style.width = `${cols * cell}px`;
    canvas.style.height = `${rowsN * cell}px`;
    const ctx = canvas.getContext('2d');
    const img = ctx.createImageData(cols, rowsN);
    const d = img.data;
    for (let f = 0; f < frames; f++) {
      const [r, g, b] = colourOf(f);
      d[4 * f] = r; d[4 * f + 1] = g; d[4 * f + 2] = b; d[4 * f + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }

  function frameMaps() {
    owner = new Int16Array(frames).fill(-1);
    const hostSize = new Float64Array(frames);
    const hostHpa = new Float64Array(frames).fill(NaN);
    for (const P of procs) {
      for (const r of P.ranges) {
        const f0 = Math.floor(r.gpa / 4096);
        const n = (r.pages * r.size) / 4096;
        for (let f = f0; f < f0 + n && f < frames; f++) owner[f] = 2 * P.i;
      }
      for (const t of (P.p.page_tables ? P.p.page_tables.tables : [])) {
        const f = Math.floor(num(t.gpa) / 4096);
        if (f < frames) {
          owner[f] = 2 * P.i + 1;
          if (t.host_page_size) hostSize[f] = t.host_page_size;
          if (t.hpa !== null) hostHpa[f] = num(t.hpa);
        }
      }
      for (const pg of P.p.pages) {
        const f = Math.floor(num(pg.gpa) / 4096);
        if (f < frames && pg.host_page_size) hostSize[f] = pg.host_page_size;
        if (f < frames && pg.hpa !== null) hostHpa[f] = num(pg.hpa);
      }
    }
    sharedBy = new Int16Array(frames).fill(-1);
    let sharedN = 0;
    for (const P of procs) {
      for (const [g, n] of (P.p.sharing ? P.p.sharing.frames : [])) {
        const f0 = Math.floor(num(g) / 4096);
        for (let f = f0; f < f0 + n && f < frames; f++) {
          if (sharedBy[f] < 0) sharedN++;
          sharedBy[f] = P.i;
        }
      }
    }
    if (R.dirty) {
      dirty = new Uint8Array(frames);
      for (const [g, n] of R.dirty.runs) {
        const f0 = Math.floor(num(g) / 4096);
        for (let f = f0; f < f0 + n && f < frames; f++) dirty[f] = 1;
      }
    }
    const pal = procs.map((P) => [rgb(P.colours[0]), rgb(P.colours[1])]);
    const other = rgb(OTHER);
    const red = rgb('#d93025');
    const shared = rgb(SHARED);
    const guestColour = (f) => {
      const o = owner[f];
      const c = sharedBy[f] >= 0 ? shared : o < 0 ? other : pal[o >> 1][o & 1];
      if (!dirty) return c;
      return dirty[f] ? red : [c[0] / 2 + 120, c[1] / 2 + 120, c[2] / 2 + 120];
    };
    paint($('gmap'), guestColour);
    $('frames-note').textContent = `Guest RAM, ${bytes(R.memory.size)}: one cell per 4 KiB frame, ${cols} per row ` +
      `(a row is ${bytes(cols * 4096)}), GPA 0 at the top left. Each frame is coloured by the process whose page ` +
      'it held at that process\'s exit (a frame freed and reused by a later process shows the later one), dark for its page tables.' +
      (sharedN ? ` The ${sharedN} frames some process shared with another live one at its exit (after fork, the pages neither had written yet) are highlighted.` : '') +
      (dirty ? ` With --dirty-log: the ${R.dirty.pages_dirty} dirty frames in red, the rest faded.` : '');
    $('frame-legend').replaceChildren(...procs.flatMap((P) => [
      el('span', {}, el('span', { class: 'swatch', style: `background:${P.colours[0]}` }), P.label),
      el('span', {}, el('span', { class: 'swatch', style: `background:${P.colours[1]}` }), 'its page tables'),
    ]), ...(sharedN ? [el('span', { class: 'shared-key' }, el('span', { class: 'swatch', style: `background:${SHARED}` }),
      'mapped by more than one process (at an exit)')] : []),
    el('span', {}, el('span', { class: 'swatch', style: `background:${OTHER}` }), 'kernel, boot structures or free (not reported per frame)'),
    ...(dirty ? [el('span', {}, el('span', { class: 'swatch', style: 'background:#d93025' }), 'dirty')] : []));
    const SIZES = [[4096, '#8ab4f8', '4 KiB host page'], [2 ** 21, '#f29900', '2 MiB host page'], [2 ** 30, '#a50e0e', '1 GiB host page']];
    const known = hostSize.reduce((k, s) => k + (s > 0 ? 1 : 0), 0);
    paint($('hmap'), (f) => {
      const s = SIZES.find(([z]) => z === hostSize[f]);
      return s ? rgb(s[1]) : other;
    });
    $('host-legend').replaceChildren(...SIZES.map(([, c, t]) =>
      el('span', {}, el('span', { class: 'swatch', style: `background:${c}` }), t)),
    el('span', {}, el('span', { class: 'swatch', style: `background:${OTHER}` }), 'not looked up'));
    $('host-note').textContent = `The same frames, coloured by the host page behind each (backing ${R.memory.backing}). ` +
      `Host-physical addresses: ${pagemapOk ? 'point at a frame to see its HPA' : R.host.pagemap}. ` +
      `Known for ${known} of ${frames} frames` + (known < frames / 2 ? ' (the listed pages and page tables; --pages lists every page)' : '') + '.';
    const at = (canvas, ev) => {
      const b = canvas.getBoundingClientRect();
      const x = Math.floor(((ev.clientX - b.left) / b.width) * cols);
      const y = Math.floor(((ev.clientY - b.top) / b.height) * rowsN);
      return y * cols + x;
    };
    const describe = (f) => {
      const gpa = f * 4096;
      const o = owner[f];
      let who = 'kernel, boot structures or free';
      let target = null;
      if (o >= 0) {
        const P = procs[o >> 1];
        if (o & 1) who = `${P.label}: page table`;
        else {
          const r = P.ranges.find((q) => q.gpa <= gpa && gpa < q.gpa + q.pages * q.size);
          const gva = r ? r.gva + (gpa - r.gpa) : null;
          const reg = gva !== null ? regionOf(P, gva) : null;
          who = `${P.label}: ${reg ? reg.kind : 'page'} at GVA ${hx(gva)}`;
          if (gva !== null) target = [P, gva];
        }
      }
      const host = Number.isNaN(hostHpa[f]) ? (pagemapOk ? 'HPA not looked up' : R.host.pagemap) : `HPA ${hx(hostHpa[f])}`;
      const size = hostSize[f] ? `, ${sizeName(hostSize[f])} host page` : '';
      let share = '';
      if (sharedBy[f] >= 0) {
        const S = procs[sharedBy[f]];
        const by = S.p.sharing.with.filter((w) => w.pages > 0).map((w) => `pid ${w.pid}`).join(', ');
        share = `; shared: at ${S.label}'s exit also mapped by ${by || 'another process'}`;
      }
      $('frame-info').textContent = `frame ${f}: GPA ${hx(gpa)}: ${who}${share}; ${host}${size}${dirty && dirty[f] ? '; dirty' : ''}`;
      return target;
    };
    let cursor = 0;
    const g = $('gmap');
    // Where the keyboard is on the map: a frame is a pixel or three, too
    // small to see without a mark.
    const mark = (f) => {
      const c = $('gcursor');
      const scale = g.getBoundingClientRect().width / cols;
      const size = Math.max(scale, 5);
      Object.assign(c.style, {
        left: `${(f % cols) * scale + 1 - (size - scale) / 2}px`,
        top: `${Math.floor(f / cols) * scale + 1 - (size - scale) / 2}px`,
        width: `${size}px`,
        height: `${size}px`,
      });
      c.hidden = false;
    };
    g.addEventListener('focus', () => { describe(cursor); mark(cursor); });
    g.addEventListener('blur', () => { $('gcursor').hidden = true; });
    g.addEventListener('mousemove', (ev) => { cursor = at(g, ev); describe(cursor); });
    g.addEventListener('click', (ev) => {
      cursor = at(g, ev);
      const t = describe(cursor);
      if (t) openPage(...t);
    });
    g.addEventListener('keydown', (ev) => {
      const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols }[ev.key];
      if (step) {
        cursor = Math.min(frames - 1, Math.max(0, cursor + step));
        describe(cursor);
        mark(cursor);
        ev.preventDefault();
      } else if (ev.key === 'Enter') {
        const t = describe(cursor);
        if (t) openPage(...t);
      }
    });
    $('hmap').addEventListener('mousemove', (ev) => describe(at($('hmap'), ev)));
  }

