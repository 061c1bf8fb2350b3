// The run, the address spaces side by side, and what each process printed.
// Part of microvmm's HTML report script: html.rs joins data.js, overview.js,
// pages.js, frames.js, timeline.js and start.js, in that order, inside one function, so
// they share its scope; each file is one concept.
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

  /** Names of a pid's images in order: "sh → wc". */
  const namesOf = (pid) => (imagesOf.get(pid) || []).map((i) => R.processes[i].name).join(' → ');

  /** " · 12 of 40 pages shared at exit" for an image, or ''. */
  function sharedText(p) {
    if (!p.sharing) return '';
    if (!p.sharing.complete) return ` · pages shared: not counted (${p.sharing.why})`;
    if (!p.shared_pages) return '';
    return ` · ${p.shared_pages} of ${p.pages_total} pages shared at exit (` +
      p.sharing.with.filter((w) => w.pages > 0).map((w) => `pid ${w.pid} ${w.name} ${w.pages}`).join(', ') + ')';
  }

  /**
   * The process tree: each pid under its first image's parent, siblings in
   * pid order; a ppid naming no recorded pid makes a root, and a loop of
   * ppids is broken where it is found (as report/tree.rs does).
   */
  function processTree() {
    const show = R.processes.some((p) => p.ppid !== 0 || p.image !== 0);
    $('tree').hidden = !show;
    if (!show) return;
    const parent = (pid) => {
      const pp = R.processes[imagesOf.get(pid)[0]].ppid;
      return pp !== pid && imagesOf.has(pp) ? pp : null;
    };
    const kids = new Map();
    const pids = [...imagesOf.keys()].sort((a, b) => a - b);
    for (const pid of pids) {
      const pp = parent(pid);
      if (pp !== null) {
        if (!kids.has(pp)) kids.set(pp, []);
        kids.get(pp).push(pid);
      }
    }
    const done = new Set();
    const item = (pid) => {
      done.add(pid);
      const imgs = imagesOf.get(pid);
      const last = R.processes[imgs[imgs.length - 1]];
      const sub = (kids.get(pid) || []).filter((k) => !done.has(k));
      return el('li', { 'data-pid': pid },
        el('button', { type: 'button', class: 'who', onclick: () => showColumn(imgs[0]) }, `pid ${pid} ${namesOf(pid)}`),
        ` ${exitText(last)}`,
        imgs.map((i) => el('span', { class: 'note' }, sharedText(R.processes[i]))),
        // Built one level at a time: a loop cannot recurse for ever, since
        // each pid is drawn once.
        sub.length ? el('ul', {}, sub.filter((k) => !done.has(k)).map(item)) : null);
    };
    const roots = pids.filter((pid) => parent(pid) === null);
    const items = [];
    for (const pid of roots.concat(pids)) if (!done.has(pid)) items.push(item(pid));
    $('ptree').replaceChildren(...items);
  }

  /** Scroll the address spaces to process image i's column and mark it. */
  function showColumn(i) {
    const th = document.getElementById(`col-${i}`);
    if (!th) return;
    document.querySelectorAll('#columns th.proc.picked').forEach((t) => t.classList.remove('picked'));
    th.classList.add('picked');
    th.scrollIntoView({ block: 'nearest', inline: 'center' });
  }

  function exitText(p) {
    const e = p.exit;
    if (e.kind === 'fault') {
      return `killed: ${e.reason || 'fault'} at ${e.address} (error code ${hx(e.error_code)}, rip ${e.rip})`;
    }
    if (e.kind === 'signal') return `killed by signal ${e.signal} (${e.signal_name || '?'})`;
    if (e.kind === 'exec') {
      const next = R.processes.find((q) => q.pid === p.pid && q.image === p.image + 1);
      return `replaced by execve${next ? ` (→ ${next.name})` : ''}`;
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
      const killed = P.p.exit.kind === 'fault' || P.p.exit.kind === 'signal';
      const imgs = imagesOf.get(P.p.pid) || [];
      const lineage = [P.p.ppid ? `parent ${P.p.ppid}` : null,
        imgs.length > 1 ? `image ${P.p.image} of ${namesOf(P.p.pid)}` : null].filter(Boolean).join(', ');
      return el('th', { scope: 'col', class: 'proc', id: `col-${P.i}` }, P.label,
        lineage ? el('span', { class: 'exit' }, lineage) : null,
        P.p.argv ? el('span', { class: 'exit' }, P.p.argv.join(' ')) : null,
        el('span', { class: 'exit' + (killed ? ' killed' : '') }, exitText(P.p)),
        el('span', { class: 'exit' }, `${P.p.pages_total} pages mapped, faults: ${faultsText(P.p.faults_by_kind)}`),
        P.p.tlb_shootdowns > 0 ? el('span', { class: 'exit' },
          `TLB shootdowns: ${P.p.tlb_shootdowns} (${P.p.tlb_shootdown_pages} pages one by one, ${P.p.tlb_shootdown_us.toFixed(1)} us)`) : null);
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
    el('span', { class: 'k' }, `${r.kind} ${r.prot}`), r.file ? ` ${r.file}` : '', el('br'),
    `${r.start}–${r.end} (${bytes(end - start)})`, el('br'),
    `${r.pages_mapped} of ${pages} pages mapped, ${r.faults} faults`,
    r.cow_faults ? `, ${r.cow_faults} copy-on-write` : '',
    r.shared_pages ? `, ${r.shared_pages} shared` : '',
    el('span', { class: 'bar' }, el('i', { style: `width:${Math.min(100, 100 * r.pages_mapped / pages)}%` })),
    fault ? el('span', { class: 'fault-mark' }, `fault at ${e.address} (err ${hx(e.error_code)})`) : null);
  }

  // ---- what each process printed ------------------------------------------

  function outputs() {
    $('output-list').replaceChildren(...procs.map((P) => {
      const p = P.p;
      // The same answer as the text report's "you printed" lines.
      const path = (a) => `GPA ${a.gpa} → HPA ${a.hpa === null ? R.host.pagemap : a.hpa}`;
      const answer = (a) => {
        if (a.mapped) return `${a.gva}: ${a.region}, ${path(a)}`;
        const then = a.gpa === null ? '' : `; when printed: ${path(a)}`;
        return `${a.gva}: not mapped, ${a.why}${then}`;
      };
      const printed = p.printed_addresses.map((a) => el('li', { class: a.mapped ? '' : 'unmapped' }, el('button', {
        type: 'button', 'data-gva': a.gva, onclick: () => find(num(a.gva)),
      }, answer(a))));
      return el('div', { class: 'proc-out', 'data-pid': p.pid },
        el('h3', {}, P.label, p.path ? ` (${p.path})` : ''),
        el('p', { class: 'note' }, exitText(p),
          typeof p.first_output_us === 'number' ? `; first output ${Math.round(p.first_output_us)} µs after its creation` : ''),
        p.output ? el('pre', { class: 'out' }, p.output + (p.output_truncated ? '\n… (truncated)' : '')) : el('p', { class: 'note' }, 'no output'),
        printed.length ? el('div', { class: 'printed' }, el('p', {}, 'Addresses it printed (choose one to find it):'), el('ul', {}, printed)) : null,
        p.unknown_syscalls.length ? el('p', { class: 'note' }, `unknown system calls: ${p.unknown_syscalls.map((u) => (u.name ? `${u.nr} (${u.name})` : `${u.nr}`)).join(', ')}`) : null);
    }));
  }

