// One page: the virtualised page list, the chain GVA -> GPA -> HVA -> HPA,
// the two-dimensional walk as a grid, and search.
// Part of microvmm's HTML report script: html.rs joins data.js, overview.js,
// pages.js, frames.js, timeline.js and start.js, in that order, inside one function, so
// they share its scope; each file is one concept.
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

