// microvmm's HTML report: draws the report model embedded in the page.
// Every guest-controlled string reaches the page through textContent (el()
// below), never as markup. Addresses are "0x..." strings in the data; user
// addresses, GPAs and HPAs are below 2^53, so they are exact as Numbers,
// while page-table entries (bit 63 is NX) are BigInts. JavaScript's bitwise
// operators are 32-bit, so addresses are split with division, not shifts.
'use strict';
(function () {
  const t0 = performance.now();
  const R = JSON.parse(document.getElementById('report-data').textContent);
  const tParsed = performance.now();
  const $ = (id) => document.getElementById(id);

  // ---- small helpers ----------------------------------------------------

  /** An element with attributes and children (strings become text nodes). */
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const kid of kids.flat()) {
      if (kid !== null && kid !== undefined && kid !== false) e.append(kid);
    }
    return e;
  }
  const num = (s) => (s === null || s === undefined ? null : parseInt(s, 16));
  const hx = (n) => (n === null || n === undefined ? '—' : '0x' + n.toString(16));
  const pageOf = (a, size) => a - (a % size);
  function bytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (Number.isInteger(n) ? n : n.toFixed(1)) + ' ' + units[i];
  }
  const sizeName = (s) => (s === null || s === undefined ? 'unknown' : bytes(s));

  const KIND_COLOUR = {
    code: '#4e79a7', rodata: '#76b7b2', data: '#f28e2b', bss: '#edc948', heap: '#59a14f',
    mmap: '#ff9da7', stack: '#e15759', guard: '#9e9e9e', outside: '#b07aa1',
  };
  // One hue per process in the frame map; its page tables a darker shade.
  const PROC_COLOURS = [
    ['#4e79a7', '#1f3b5c'], ['#f28e2b', '#7a4410'], ['#59a14f', '#23501d'], ['#e15759', '#6e1f20'],
    ['#b07aa1', '#573a4f'], ['#76b7b2', '#2f5f5b'], ['#edc948', '#786211'], ['#ff9da7', '#8a3a44'],
    ['#9c755f', '#4a372c'], ['#8cd17d', '#3b6b31'], ['#499894', '#1f4a48'], ['#d37295', '#6a2e46'],
  ];
  const OTHER = '#e8eaed';
  const hostFlavour = R.host.kvm_flavour;
  const nestedTdp = hostFlavour === 'vmx-ept' || hostFlavour === 'svm-npt';
  const hostLevels = R.host.paging_levels || 4;
  const guestLevels = R.guest.paging_levels || 4;
  const LEVELS = ['PML5', 'PML4', 'PDPT', 'PD', 'PT'].slice(5 - guestLevels);
  const SHIFT = { PML5: 48, PML4: 39, PDPT: 30, PD: 21, PT: 12 };
  const pagemapOk = R.host.pagemap === 'available';

  // ---- per-process views ------------------------------------------------

  const procs = R.processes.map((p, i) => ({
    p,
    i,
    label: `pid ${p.pid} ${p.name}`,
    colours: PROC_COLOURS[i % PROC_COLOURS.length],
    ranges: p.ranges.map((r) => ({
      gva: num(r.gva), gpa: num(r.gpa), pages: r.pages, size: r.page_size, flags: r.flags,
    })),
    root: pageOf(num(p.cr3), 4096),
    tables: undefined,
  }));

  /** The process's page tables as a Map GPA -> table (built on first use). */
  function tablesOf(P) {
    if (P.tables !== undefined) return P.tables;
    P.tables = null;
    const pt = P.p.page_tables;
    if (pt) {
      P.tables = new Map();
      for (const t of pt.tables) {
        P.tables.set(num(t.gpa), {
          level: t.level, hpa: num(t.hpa), hostPage: t.host_page_size, entries: new Map(t.entries),
        });
      }
    }
    return P.tables;
  }

  const ADDR = 0x000ffffffffff000n;
  const FLAG_BITS = [['P', 0n], ['RW', 1n], ['US', 2n], ['PWT', 3n], ['PCD', 4n], ['A', 5n],
    ['D', 6n], ['PS', 7n], ['G', 8n], ['NX', 63n]];
  const flagsOf = (e) => FLAG_BITS.filter(([, b]) => (e >> b) & 1n).map(([n]) => n).join(' ') || '-';

  /**
   * Walk `gva` through the process's recorded tables as the MMU does: the
   * levels read (root first), and the GPA, page size and effective flags,
   * or where it stopped. null without recorded tables.
   */
  function walk(P, gva) {
    const T = tablesOf(P);
    if (!T) return null;
    let table = P.root;
    let rw = true;
    let us = true;
    let nx = false;
    const levels = [];
    for (const name of LEVELS) {
      const index = Math.floor(gva / 2 ** SHIFT[name]) % 512;
      const t = T.get(table);
      if (!t) return { levels, stop: `the ${name} table at GPA ${hx(table)} was not recorded` };
      const raw = t.entries.get(index);
      if (raw === undefined) return { levels, stop: `${name}[${index}] is not present` };
      const e = BigInt(raw);
      levels.push({
        level: name, tableGpa: table, index, entryGpa: table + 8 * index, raw, e,
        entryHpa: t.hpa === null ? null : t.hpa + 8 * index, hostPage: t.hostPage,
      });
      rw = rw && Boolean(e & 2n);
      us = us && Boolean(e & 4n);
      nx = nx || Boolean((e >> 63n) & 1n);
      const leaf = name === 'PT' || ((name === 'PD' || name === 'PDPT') && (e & 0x80n));
      if (leaf) {
        const size = name === 'PT' ? 4096 : name === 'PD' ? 2 ** 21 : 2 ** 30;
        const frame = pageOf(Number(e & ADDR), size);
        const fl = ['P'];
        if (rw) fl.push('RW');
        if (us) fl.push('US');
        for (const [n, b] of [['PWT', 3n], ['PCD', 4n], ['A', 5n], ['D', 6n], ['G', 8n]]) {
          if ((e >> b) & 1n) fl.push(n);
        }
        if (nx) fl.push('NX');
        return { levels, gpa: frame + (gva % size), size, flags: fl.join(' ') };
      }
      table = Number(e & ADDR);
    }
    return { levels, stop: 'no leaf' };
  }

  /** The run (coalesced pages) holding `gva`, from ranges[] (sorted by GVA). */
  function rangeOf(P, gva) {
    const rs = P.ranges;
    let lo = 0;
    let hi = rs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = rs[mid];
      if (gva < r.gva) hi = mid - 1;
      else if (gva >= r.gva + r.pages * r.size) lo = mid + 1;
      else return r;
    }
    return null;
  }

  /** The listed page (pages[], in GVA order) holding `gva`, if listed. */
  function listedPage(P, gva) {
    const ps = P.p.pages;
    let lo = 0;
    let hi = ps.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const g = num(ps[mid].gva);
      if (gva < g) hi = mid - 1;
      else if (gva >= g + ps[mid].guest_page_size) lo = mid + 1;
      else return ps[mid];
    }
    return null;
  }

  const regionOf = (P, gva) => P.p.regions.find((r) => num(r.start) <= gva && gva < num(r.end)) || null;

  function hvaOf(gpa) {
    for (const s of R.memory.slots) {
      if (num(s.gpa_start) <= gpa && gpa < num(s.gpa_end)) return num(s.hva) + (gpa - num(s.gpa_start));
    }
    return null;
  }

  /** Everything known about `gva` in process P: walk, GPA, host side, checks. */
  function chainOf(P, gva) {
    const w = walk(P, gva);
    const r = rangeOf(P, gva);
    let gpa = w && w.gpa !== undefined ? w.gpa : null;
    let size = w && w.size;
    if (gpa === null && r) {
      gpa = r.gpa + (gva - r.gva);
      size = r.size;
    }
    if (gpa === null) return { w, mapped: false };
    const listed = listedPage(P, gva);
    const off = gva - (listed ? num(listed.gva) : 0);
    // The data frame's host side: a listed page, a whereis, or a printed address.
    let hpa = null;
    let hostPage = null;
    let kvm;
    if (listed) {
      hpa = listed.hpa === null ? null : num(listed.hpa) + off;
      hostPage = listed.host_page_size;
      kvm = listed.kvm_translate_gpa === null ? null : num(listed.kvm_translate_gpa) + off;
    }
    const wi = R.whereis.find((x) => x.pid === P.p.pid && pageOf(num(x.gva), 4096) === pageOf(gva, 4096));
    if (wi) {
      const d = gva - num(wi.gva);
      if (hpa === null && wi.hpa !== null) hpa = num(wi.hpa) + d;
      if (hostPage === null) hostPage = wi.host_page_size;
      if (kvm === undefined && wi.kvm_translate_gpa !== null) kvm = num(wi.kvm_translate_gpa) + d;
    }
    const pr = P.p.printed_addresses.find((x) => pageOf(num(x.gva), 4096) === pageOf(gva, 4096));
    if (pr && hpa === null && pr.hpa !== null) hpa = num(pr.hpa) + (gva - num(pr.gva));
    return {
      w, mapped: true, gpa, size, hva: hvaOf(gpa), hpa, hostPage, kvm, listed, whereis: wi,
      flags: (w && w.flags) || (listed && listed.flags) || (r && r.flags) || '',
      region: regionOf(P, gva),
    };
  }

  // ---- the run ----------------------------------------------------------

  function runFacts() {
    const h = R.host;
    const g = R.guest;
    const m = R.memory;
    $('summary').textContent = (R.complete === false ? 'INCOMPLETE (the run was cut short) · ' : '') +
      `${R.processes.length} processes · KVM ${h.kvm_flavour}` +
      ` · guest ${g.mode || 'never reported'} · outcome ${g.outcome}` +
      (R.errors.length ? ` · ${R.errors.length} error(s)` : ' · no errors');
    const banner = g.mode === null ? 'the kernel never reported its boot'
      : `microvmm guest kernel: mode ${g.mode}, ${g.paging_levels}-level paging, scheduling ` +
        `${g.scheduling}${g.timer_hz ? ` (${g.timer_hz} Hz)` : ''}, RAM ${bytes(m.size)}` +
        (g.boot_us !== null ? `, booted in ${Math.round(g.boot_us)} us` : '');
    const nestedWhat = {
      'vmx-ept': 'Intel EPT: the CPU walks the guest\'s tables, and each guest-physical address they hold through KVM\'s extended page tables (a two-dimensional walk).',
      'svm-npt': 'AMD NPT: the CPU walks the guest\'s tables, and each guest-physical address they hold through KVM\'s nested page tables (a two-dimensional walk).',
      shadow: 'Shadow paging (TDP off): KVM keeps a shadow table mapping guest-virtual straight to host-physical, built from the guest\'s tables, which it write-protects; the CPU walks only the shadow table.',
      pvm: 'PVM: shadow paging with the guest kernel in ring 3; the CPU walks KVM\'s shadow table (GVA to HPA directly), which KVM keeps in sync with the guest\'s write-protected tables.',
    }[h.kvm_flavour] || h.nested_paging;
    const facts = [
      ['host', `KVM flavour ${h.kvm_flavour}; cpu ${h.cpu}; kernel ${h.kernel}; ${h.paging_levels}-level host page tables`],
      ['nested paging here', nestedWhat],
      ['as the VMM put it', h.nested_paging],
      ['host-physical', `${h.hpa_meaning}; pagemap ${h.pagemap}`],
      ['guest RAM', `${bytes(m.size)}, backing ${m.backing}; ` + m.slots.map((s) =>
        `slot ${s.slot}: GPA ${s.gpa_start}..${s.gpa_end} at HVA ${s.hva}${s.flags.length ? ' [' + s.flags.join(', ') + ']' : ''}`).join('; ')],
      ['guest banner', banner],
      ['outcome', `${g.outcome}; exit status ${g.exit_status === null ? 'none' : g.exit_status}; ` +
        `ran ${g.run_ms.toFixed(1)} ms; VM exits ${g.exits.total} (hypercall ${g.exits.hypercall}, serial ${g.exits.serial}, other ${g.exits.other})`],
    ];
    if (R.dirty) {
      facts.push(['dirty pages', `${R.dirty.pages_dirty}: ` +
        R.dirty.by_owner.map((o) => `${o.owner} ${o.pages}`).join(', ')]);
    }
    $('run-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    if (R.errors.length) {
      $('errors').replaceChildren(el('h3', { class: 'bad' }, `Errors (${R.errors.length})`),
        el('ul', { class: 'errors' }, R.errors.slice(0, 200).map((e) => el('li', {}, e))));
    } else {
      $('errors').replaceChildren(el('p', { class: 'ok' }, 'No errors: every checked page agrees with KVM_TRANSLATE.'));
    }
  }

  // ---- address spaces ---------------------------------------------------

  function legend() {
    $('legend').replaceChildren(...Object.entries(KIND_COLOUR).map(([k, c]) =>
      el('span', {}, el('span', { class: 'swatch', style: `background:${c}` }), k)));
  }

  function exitText(p) {
    const e = p.exit;
    if (e.kind === 'fault') {
      return `killed: ${e.reason || 'fault'} at ${e.address} (error code ${hx(e.error_code)}, rip ${e.rip})`;
    }
    return e.kind === 'exit' ? `exit ${e.status}` : 'never reported its end';
  }

  /** One column per process, one row per region start (shared across
   * processes), high addresses first, with the gaps between rows. */
  function columns() {
    const starts = new Map();
    for (const P of procs) {
      for (const r of P.p.regions) {
        const s = num(r.start);
        const row = starts.get(s) || { start: s, end: s, cells: new Map() };
        row.end = Math.max(row.end, num(r.end));
        row.cells.set(P.i, r);
        starts.set(s, row);
      }
    }
    const rows = [...starts.values()].sort((a, b) => b.start - a.start);
    const head = el('tr', {}, el('th', { scope: 'col' }, 'GVA'), procs.map((P) => {
      const killed = P.p.exit.kind === 'fault';
      return el('th', { scope: 'col', class: 'proc' }, P.label,
        P.p.argv ? el('span', { class: 'exit' }, P.p.argv.join(' ')) : null,
        el('span', { class: 'exit' + (killed ? ' killed' : '') }, exitText(P.p)),
        el('span', { class: 'exit' }, `${P.p.pages_total} pages mapped, ${P.p.heap_faults} heap + ${P.p.stack_faults} stack faults`));
    }));
    const body = [head];
    rows.forEach((row, k) => {
      body.push(el('tr', {}, el('th', { scope: 'row', class: 'mono' }, hx(row.start)),
        procs.map((P) => {
          const r = row.cells.get(P.i);
          return el('td', {}, r ? regionButton(P, r) : null);
        })));
      const below = rows[k + 1];
      if (below && below.end < row.start) {
        body.push(el('tr', {}, el('th', {}, ''),
          el('td', { class: 'gap', colspan: procs.length }, `gap of ${bytes(row.start - below.end)}`)));
      }
    });
    $('columns').replaceChildren(el('tbody', {}, body));
  }

  function regionButton(P, r) {
    const start = num(r.start);
    const end = num(r.end);
    const pages = Math.max(1, Math.ceil((end - start) / 4096));
    const c = KIND_COLOUR[r.kind] || KIND_COLOUR.outside;
    const e = P.p.exit;
    const fault = e.kind === 'fault' && e.address !== null && num(e.address) >= start && num(e.address) < end;
    return el('button', {
      class: 'region', type: 'button', 'data-pid': P.p.pid, 'data-kind': r.kind, 'data-start': r.start,
      'aria-pressed': 'false', style: `background:${c}33;border-left:6px solid ${c}`,
      onclick: (ev) => showRegion(P, r, ev.currentTarget),
    },
    el('span', { class: 'k' }, `${r.kind} ${r.prot}`), el('br'),
    `${r.start}–${r.end} (${bytes(end - start)})`, el('br'),
    `${r.pages_mapped} of ${pages} pages mapped, ${r.faults} faults`,
    el('span', { class: 'bar' }, el('i', { style: `width:${Math.min(100, 100 * r.pages_mapped / pages)}%` })),
    fault ? el('span', { class: 'fault-mark' }, `fault at ${e.address} (err ${hx(e.error_code)})`) : null);
  }

  // ---- the page list (virtualised: only the visible rows exist) ---------

  const ROW = 20;
  const list = { n: 0, row: null, pick: null, sel: -1 };

  function setList(title, n, row, pick) {
    Object.assign(list, { n, row, pick, sel: -1 });
    $('list-title').textContent = title;
    const box = $('pagelist');
    box.scrollTop = 0;
    box.querySelector('.spacer').style.height = `${n * ROW}px`;
    drawList();
  }

  function drawList() {
    const box = $('pagelist');
    const first = Math.max(0, Math.floor(box.scrollTop / ROW) - 4);
    const last = Math.min(list.n, first + Math.ceil(box.clientHeight / ROW) + 8);
    const rows = [box.querySelector('.spacer')];
    for (let i = first; i < last; i++) {
      const it = list.row(i);
      rows.push(el('button', {
        type: 'button', tabindex: -1, role: 'option', 'data-gva': hx(it.gva), 'data-index': i,
        'aria-selected': i === list.sel ? 'true' : 'false', style: `top:${i * ROW}px`,
        onclick: () => choose(i),
      }, it.text));
    }
    box.replaceChildren(...rows);
  }

  function choose(i) {
    if (i < 0 || i >= list.n) return;
    list.sel = i;
    const box = $('pagelist');
    if (i * ROW < box.scrollTop) box.scrollTop = i * ROW;
    if ((i + 1) * ROW > box.scrollTop + box.clientHeight) box.scrollTop = (i + 1) * ROW - box.clientHeight;
    drawList();
    list.pick(i);
  }

  function listKeys(ev) {
    const step = { ArrowDown: 1, ArrowUp: -1, PageDown: 10, PageUp: -10 }[ev.key];
    if (step) choose(Math.min(list.n - 1, Math.max(0, list.sel + step)));
    else if (ev.key === 'Home') choose(0);
    else if (ev.key === 'End') choose(list.n - 1);
    else return;
    ev.preventDefault();
  }

  /** List every page of region r in P (from ranges[], which cover them all). */
  function showRegion(P, r, button) {
    document.querySelectorAll('.region[aria-pressed="true"]').forEach((b) => b.setAttribute('aria-pressed', 'false'));
    if (button) button.setAttribute('aria-pressed', 'true');
    const start = num(r.start);
    const end = num(r.end);
    const segs = [];
    let total = 0;
    for (const g of P.ranges) {
      const a = Math.max(start, g.gva);
      const b = Math.min(end, g.gva + g.pages * g.size);
      if (a >= b) continue;
      const first = pageOf(a, g.size);
      const n = Math.ceil((b - first) / g.size);
      segs.push({ at: total, gva: first, gpa: g.gpa + (first - g.gva), n, size: g.size, flags: g.flags });
      total += n;
    }
    const row = (i) => {
      let lo = 0;
      let hi = segs.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (segs[mid].at <= i) lo = mid; else hi = mid - 1;
      }
      const s = segs[lo];
      const k = i - s.at;
      const gva = s.gva + k * s.size;
      return { gva, text: `${hx(gva)} → GPA ${hx(s.gpa + k * s.size)}  ${sizeName(s.size)}  ${s.flags}` };
    };
    const why = P.p.ranges.length ? '' : ' (no pages: it never reported its exit)';
    setList(`${P.label}: ${r.kind} ${r.start}–${r.end}, ${total} pages mapped${why}`, total, row,
      (i) => openPage(P, row(i).gva));
    if (total) choose(0);
  }

  // ---- one page: its chain and its two-dimensional walk ------------------

  function openPage(P, gva) {
    const c = chainOf(P, gva);
    const reg = c.region ? `${c.region.kind} (${c.region.prot})` : 'outside every region';
    const chain = $('chain');
    if (!c.mapped) {
      chain.replaceChildren(el('h3', {}, `${P.label}: ${hx(gva)}`),
        el('p', {}, `Not mapped${c.w && c.w.stop ? ': ' + c.w.stop : ''}.`));
      $('walk').replaceChildren();
      return;
    }
    const hpaText = c.hpa !== null ? hx(c.hpa)
      : !pagemapOk ? R.host.pagemap
        : 'not listed (run with --pages for every page)';
    const kvmText = c.kvm === undefined ? 'not checked for this page'
      : c.kvm === null ? 'KVM_TRANSLATE found no mapping'
        : c.kvm === c.gpa ? `agrees (${hx(c.kvm)})` : `DISAGREES: KVM says ${hx(c.kvm)}`;
    chain.replaceChildren(
      el('h3', {}, `${P.label}: ${hx(gva)} in ${reg}`),
      el('div', { class: 'chain' }, el('table', {}, el('tbody', {},
        el('tr', {}, el('th', {}, 'GVA'), el('td', { 'data-gva': hx(gva) }, hx(gva)), el('td', {}, 'the process\'s address')),
        el('tr', {}, el('th', {}, 'GPA'), el('td', { id: 'chain-gpa', 'data-gpa': hx(c.gpa) }, hx(c.gpa)),
          el('td', {}, `${sizeName(c.size)} guest page, flags ${c.flags}; the guest's page tables`)),
        el('tr', {}, el('th', {}, 'HVA'), el('td', {}, hx(c.hva)), el('td', {}, 'KVM memslot: the VMM\'s mapping of guest RAM')),
        el('tr', {}, el('th', {}, 'HPA'), el('td', { id: 'chain-hpa' }, hpaText),
          el('td', {}, `${sizeName(c.hostPage)} host page; ${R.host.hpa_meaning}`)),
        el('tr', {}, el('th', {}, 'KVM_TRANSLATE'),
          el('td', { colspan: 2, class: c.kvm !== undefined && c.kvm !== c.gpa ? 'bad' : '' }, kvmText))))));
    $('walk').replaceChildren(...walkGrid(P, c));
  }

  /** Depth of the host's nested walk for a frame in a host page of `size`
   * (as paging::nested_depth: 2 MiB ends it a level early, 1 GiB two). */
  function nestedDepth(size) {
    if (size >= 2 ** 30) return Math.max(0, hostLevels - 2);
    if (size >= 2 ** 21) return Math.max(0, hostLevels - 1);
    return hostLevels;
  }

  /** The walk as the papers draw it: guest levels down, nested levels
   * across, each cell one memory reference of the hardware's walk. */
  function walkGrid(P, c) {
    const w = c.w;
    if (!w) {
      return [el('h3', {}, 'Two-dimensional walk'),
        el('p', { class: 'note' }, 'This report has no page tables for this process (they are recorded when --html is given and the process reported its exit), so only the whereis walks are shown in the text report.')];
    }
    const out = [el('h3', {}, 'Two-dimensional walk')];
    const g = w.levels.length;
    let n = 0;
    const rows = [];
    if (nestedTdp) {
      const hs = w.levels.map((l) => nestedDepth(l.hostPage || 4096));
      const hd = nestedDepth(c.hostPage || 4096);
      const head = el('tr', {}, el('th', {}, 'guest level'),
        Array.from({ length: hostLevels }, (_, j) => el('th', { scope: 'col' }, `nL${hostLevels - j}`)),
        el('th', { scope: 'col' }, 'guest entry (read)'));
      const nestedCells = (depth, what) => Array.from({ length: hostLevels }, (_, j) => {
        if (j >= depth) return el('td', { class: 'nested' }, '–');
        n += 1;
        return el('td', { class: 'nested', title: `nested level ${hostLevels - j} for ${what}` }, el('span', { class: 'n' }, String(n)),
          `nL${hostLevels - j}`);
      });
      w.levels.forEach((l, i) => {
        const nested = nestedCells(hs[i], `the ${l.level} table's GPA`);
        n += 1;
        rows.push(el('tr', { 'data-level': l.level }, el('th', { scope: 'row' }, `g${g - i} ${l.level}[${l.index}]`), nested,
          entryCell(l, n)));
      });
      const nested = nestedCells(hd, 'the data frame\'s GPA');
      rows.push(el('tr', {}, el('th', { scope: 'row' }, 'data'), nested, dataCell(c)));
      const same = hs.every((h) => h === hd);
      const formula = same ? `${g}*(${hd}+1)+${hd}` : hs.map((h) => `(${h}+1)`).join('+') + `+${hd}`;
      out.push(el('p', { id: 'walk-refs', 'data-refs': n }, el('strong', {}, `${n} memory references`),
        ` on this ${hostFlavour} host = ${formula}: each of the ${g} guest entries is read at a guest-physical address, which the CPU first translates through KVM's ${hostLevels}-level nested table (grey cells: those tables are KVM's, invisible to the VMM; a 2 MiB host page ends a nested walk a level early), then reads; the final GPA needs one more nested walk. Paging-structure caches and the TLB skip most of them in practice.`));
      out.push(el('table', { class: 'grid' }, el('thead', {}, head), el('tbody', {}, rows)));
    } else {
      const head = el('tr', {}, el('th', {}, 'guest level'), el('th', {}, 'guest entry (KVM mirrors it in its shadow table)'));
      w.levels.forEach((l, i) => {
        n += 1;
        rows.push(el('tr', { 'data-level': l.level }, el('th', { scope: 'row' }, `g${g - i} ${l.level}[${l.index}]`), entryCell(l, n)));
      });
      rows.push(el('tr', {}, el('th', { scope: 'row' }, 'data'), dataCell(c)));
      out.push(el('p', { id: 'walk-refs', 'data-refs': n }, el('strong', {}, `${n} memory references`),
        ` on this ${hostFlavour} host: the CPU walks KVM's shadow table, which maps GVA straight to HPA, one reference per level. KVM builds each shadow entry from the guest entry below (it write-protects the guest's tables to notice changes), so there is no second dimension: the guest's entries are never read by the hardware during the walk.`));
      out.push(el('table', { class: 'grid' }, el('thead', {}, head), el('tbody', {}, rows)));
    }
    if (w.stop) out.push(el('p', { class: 'bad' }, `The walk stopped: ${w.stop}.`));
    out.push(el('p', { class: 'note' }, 'The guest\'s page tables as they were when the process exited (its accessed and dirty bits may have changed since a whereis).'));
    if (c.whereis) {
      out.push(el('p', { class: 'note' }, `whereis asked for this page while the process ran: the VMM counted ${c.whereis.hw_refs} references (${c.whereis.hw_refs_explained}).`));
    }
    return out;
  }

  function entryCell(l, n) {
    return el('td', { class: 'entry', 'data-entry-gpa': hx(l.entryGpa), 'data-entry-hpa': l.entryHpa === null ? '' : hx(l.entryHpa) },
      el('span', { class: 'n' }, String(n)),
      `GPA ${hx(l.entryGpa)}`, el('br'), `HPA ${l.entryHpa === null ? (pagemapOk ? '—' : 'unavailable') : hx(l.entryHpa)}`,
      el('br'), `= ${l.raw}`, el('br'), flagsOf(l.e));
  }

  function dataCell(c) {
    return el('td', { class: 'data', 'data-gpa': hx(c.gpa) }, 'the data (not counted)', el('br'), `GPA ${hx(c.gpa)}`, el('br'),
      `HPA ${c.hpa === null ? (pagemapOk ? 'not listed' : 'unavailable') : hx(c.hpa)}`);
  }

  // ---- search ------------------------------------------------------------

  /** A GVA from what the user typed or pasted: the first 0x... number in
   * it, else bare hex with a letter, else decimal. */
  function parseGva(text) {
    const t = text.replace(/_/g, '').trim();
    const m = t.match(/0x([0-9a-f]{1,16})/i);
    if (m) return parseInt(m[1], 16);
    if (/^[0-9a-f]+$/i.test(t) && /[a-f]/i.test(t)) return parseInt(t, 16);
    if (/^[0-9]+$/.test(t)) return Number(t);
    return null;
  }

  function search(ev) {
    ev.preventDefault();
    const gva = parseGva($('q').value);
    const status = $('search-status');
    if (gva === null || !Number.isSafeInteger(gva)) {
      status.textContent = 'not an address: type hex like 0x4c52a0';
      return;
    }
    find(gva);
  }

  /** Jump to `gva` in every process that maps it. */
  function find(gva) {
    const hits = procs.filter((P) => chainOf(P, gva).mapped);
    $('search-status').textContent = hits.length
      ? `${hx(gva)} is mapped in ${hits.length} process${hits.length > 1 ? 'es' : ''}`
      : `${hx(gva)} is mapped in no process`;
    $('results').replaceChildren(...hits.map((P) => {
      const c = chainOf(P, gva);
      return el('button', { type: 'button', 'data-pid': P.p.pid, onclick: () => openPage(P, gva) },
        `${P.label}: ${c.region ? c.region.kind : 'outside'} → GPA ${hx(c.gpa)}`);
    }));
    if (hits.length) openPage(hits[0], gva);
  }

  // ---- what each process printed ------------------------------------------

  function outputs() {
    $('output-list').replaceChildren(...procs.map((P) => {
      const p = P.p;
      const printed = p.printed_addresses.map((a) => el('li', {}, el('button', {
        type: 'button', 'data-gva': a.gva, onclick: () => find(num(a.gva)),
      }, `${a.gva}: ${a.region}, GPA ${a.gpa} → HPA ${a.hpa === null ? R.host.pagemap : a.hpa}`)));
      return el('div', { class: 'proc-out', 'data-pid': p.pid },
        el('h3', {}, P.label, p.path ? ` (${p.path})` : ''),
        el('p', { class: 'note' }, exitText(p),
          typeof p.first_output_us === 'number' ? `; first output ${Math.round(p.first_output_us)} µs after its creation` : ''),
        p.output ? el('pre', { class: 'out' }, p.output + (p.output_truncated ? '\n… (truncated)' : '')) : el('p', { class: 'note' }, 'no output'),
        printed.length ? el('div', { class: 'printed' }, el('p', {}, 'Addresses it printed (choose one to find it):'), el('ul', {}, printed)) : null,
        p.unknown_syscalls.length ? el('p', { class: 'note' }, `unknown system calls: ${p.unknown_syscalls.join(', ')}`) : null);
    }));
  }

  // ---- guest-physical and host frames -------------------------------------

  const frames = Math.max(1, Math.floor(R.memory.size / 4096));
  const cell = frames <= 32768 ? 3 : frames <= 131072 ? 2 : 1;
  const cols = cell === 3 ? 256 : cell === 2 ? 512 : 1024;
  const rowsN = Math.ceil(frames / cols);
  let owner = null; // per frame: -1 other, 2*i data of process i, 2*i+1 its page tables
  let dirty = null;

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
    const guestColour = (f) => {
      const o = owner[f];
      const c = o < 0 ? other : pal[o >> 1][o & 1];
      if (!dirty) return c;
      return dirty[f] ? red : [c[0] / 2 + 120, c[1] / 2 + 120, c[2] / 2 + 120];
    };
    paint($('gmap'), guestColour);
    $('frames-note').textContent = `Guest RAM, ${bytes(R.memory.size)}: one cell per 4 KiB frame, ${cols} per row ` +
      `(a row is ${bytes(cols * 4096)}), GPA 0 at the top left. Each frame is coloured by the process whose page ` +
      'it held at that process\'s exit (a frame freed and reused by a later process shows the later one), dark for its page tables.' +
      (dirty ? ` With --dirty-log: the ${R.dirty.pages_dirty} dirty frames in red, the rest faded.` : '');
    $('frame-legend').replaceChildren(...procs.flatMap((P) => [
      el('span', {}, el('span', { class: 'swatch', style: `background:${P.colours[0]}` }), P.label),
      el('span', {}, el('span', { class: 'swatch', style: `background:${P.colours[1]}` }), 'its page tables'),
    ]), el('span', {}, el('span', { class: 'swatch', style: `background:${OTHER}` }), 'kernel, boot structures or free (not reported per frame)'),
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
      $('frame-info').textContent = `frame ${f}: GPA ${hx(gpa)}: ${who}; ${host}${size}${dirty && dirty[f] ? '; dirty' : ''}`;
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

  // ---- start ---------------------------------------------------------------

  runFacts();
  legend();
  columns();
  outputs();
  $('search').addEventListener('submit', search);
  $('pagelist').addEventListener('scroll', () => drawList());
  $('pagelist').addEventListener('keydown', listKeys);
  const timing = { script_start_ms: t0, parse_ms: tParsed - t0, first_paint_ms: null, maps_ms: null };
  window.microvmm = { timing, find, openPage: (pid, gva) => openPage(procs.find((P) => P.p.pid === pid), gva) };
  // First paint: the overview is on screen; the frame maps (a pass over every
  // page) follow in the next task, so they never delay it.
  // The second frame callback starts the frame after the one that drew the
  // overview, so by then it has been painted.
  requestAnimationFrame(() => requestAnimationFrame(() => {
    timing.first_paint_ms = performance.now();
    setTimeout(() => {
      frameMaps();
      timing.maps_ms = performance.now();
      document.body.setAttribute('data-ready', 'true');
    }, 0);
  }));
}());
