// microvmm's HTML report, the data: the report model embedded in the page,
// helpers, and each process's pages and recorded page tables (walked here).
// Every guest-controlled string reaches the page through textContent (el()
// below), never as markup. Addresses are "0x..." strings in the data; user
// addresses, GPAs and HPAs are below 2^53, so they are exact as Numbers,
// while page-table entries (bit 63 is NX) are BigInts. JavaScript's bitwise
// operators are 32-bit, so addresses are split with division, not shifts.
// Part of microvmm's HTML report script: html.rs joins data.js, overview.js,
// pages.js, frames.js, timeline.js and start.js, in that order, inside one function, so
// they share its scope; each file is one concept.
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
  // "heap 2, mmap 16384, stack 1, bss 3", as the text report says it.
  function faultsText(byKind) {
    const always = ['heap', 'mmap', 'stack'];
    const n = (k) => (byKind && byKind[k]) || 0;
    const rest = Object.keys(byKind || {}).filter((k) => !always.includes(k) && n(k) > 0);
    return always.concat(rest).map((k) => `${k} ${n(k)}`).join(', ');
  }

  const KIND_COLOUR = {
    code: '#4e79a7', rodata: '#76b7b2', data: '#f28e2b', 'data+bss': '#f0ac3a', bss: '#edc948', heap: '#59a14f',
    mmap: '#ff9da7', stack: '#e15759', guard: '#9e9e9e', file: '#86bcb6', outside: '#b07aa1',
  };
  // Frames mapped by more than one process (at an exit), in the frame map.
  const SHARED = '#e040fb';
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

  // A pid's images: processes[] entries of the same pid, in order.
  const imagesOf = new Map();
  R.processes.forEach((p, i) => {
    if (!imagesOf.has(p.pid)) imagesOf.set(p.pid, []);
    imagesOf.get(p.pid).push(i);
  });
  const procs = R.processes.map((p, i) => ({
    p,
    i,
    label: `pid ${p.pid} ${p.name}` + ((imagesOf.get(p.pid) || []).length > 1 ? ` (image ${p.image})` : ''),
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
    const pr = P.p.printed_addresses.find((x) => x.mapped && pageOf(num(x.gva), 4096) === pageOf(gva, 4096));
    if (pr && hpa === null && pr.hpa !== null) hpa = num(pr.hpa) + (gva - num(pr.gva));
    return {
      w, mapped: true, gpa, size, hva: hvaOf(gpa), hpa, hostPage, kvm, listed, whereis: wi,
      flags: (w && w.flags) || (listed && listed.flags) || (r && r.flags) || '',
      region: regionOf(P, gva),
    };
  }

