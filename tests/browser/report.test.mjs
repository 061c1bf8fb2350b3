// The HTML report in a real browser (Debian's Chromium, driven by
// playwright-core): opened from disk, clicked, searched, photographed.
// Usage: node report.test.mjs OUT_DIR  (OUT_DIR holds demo.html, demo.json,
// hostile.html and, optionally, big.html; screenshots are written there).
// Prints one line per check and the first-paint times; exits 1 on failure.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const out = process.argv[2];
const failures = [];
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
}
const pageOf = (a) => '0x' + (BigInt(a) & ~0xfffn).toString(16);

const profile = fs.mkdtempSync(path.join(out, 'chromium-profile-'));
// A fresh profile every run (playwright passes it as --user-data-dir).
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  viewport: { width: 1600, height: 1000 },
  // Without the background-networking flags Chromium keeps trying to reach
  // Google on this closed network.
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

/** Open an HTML report from disk; return the page and its timings. */
async function open(file, width = 1600) {
  const page = await browser.newPage();
  await page.setViewportSize({ width, height: 1000 });
  const requests = [];
  page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('dialog', (d) => { errors.push(`dialog: ${d.message()}`); d.dismiss(); });
  await page.goto('file://' + path.resolve(out, file));
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60000 });
  const t = await page.evaluate(() => ({
    ...window.microvmm.timing,
    fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,
  }));
  // The overview is on screen by the later of the page's own mark (the
  // frame after the one that drew it) and the browser's first contentful
  // paint (which, on a small page, is that same drawing).
  t.painted = Math.max(t.first_paint_ms, t.fcp || 0);
  return { page, t, requests, errors };
}

// ---- the demo --------------------------------------------------------------
const json = JSON.parse(fs.readFileSync(path.join(out, 'demo.json'), 'utf8'));
const demo = await open('demo.html');
const { page } = demo;
console.log(`demo: first paint ${demo.t.painted.toFixed(0)} ms after navigation ` +
  `(script started at ${demo.t.script_start_ms.toFixed(0)} ms, page mark ${demo.t.first_paint_ms.toFixed(0)} ms, first contentful paint ${demo.t.fcp?.toFixed(0)} ms, data parsed in ${demo.t.parse_ms.toFixed(0)} ms, ` +
  `frame maps done at ${demo.t.maps_ms.toFixed(0)} ms); ${fs.statSync(path.join(out, 'demo.html')).size} bytes`);
check(demo.t.painted < 1000, `demo first paint under 1 s (${demo.t.painted.toFixed(0)} ms)`);
const columns = await page.locator('#columns th[scope="col"]').count();
check(columns === json.processes.length + 1, `one column per process (${columns - 1})`);
await page.screenshot({ path: path.join(out, 'overview.png'), fullPage: false });

// Click the addrspace process's heap, then its page that whereis asked about.
const addr = json.processes.find((p) => p.name === 'addrspace');
const heap = addr.regions.find((r) => r.kind === 'heap');
const wi = json.whereis.find((w) => w.pid === addr.pid &&
  BigInt(w.gva) >= BigInt(heap.start) && BigInt(w.gva) < BigInt(heap.end));
check(Boolean(wi), `the JSON has addrspace's heap whereis (${wi && wi.gva})`);
await page.click(`button.region[data-pid="${addr.pid}"][data-kind="heap"]`);
const row = page.locator(`#pagelist button[data-gva="${pageOf(wi.gva)}"]`);
await row.scrollIntoViewIfNeeded();
await row.click();
const grid = await page.evaluate(() => ({
  gpa: document.querySelector('#chain-gpa')?.dataset.gpa,
  entries: [...document.querySelectorAll('#walk td.entry')].map((td) => ({
    gpa: td.dataset.entryGpa, hpa: td.dataset.entryHpa,
  })),
  refs: Number(document.querySelector('#walk-refs')?.dataset.refs),
}));
check(grid.gpa === pageOf(wi.gpa), `heap page's GPA in the chain is the JSON's (${grid.gpa} vs ${pageOf(wi.gpa)})`);
check(grid.entries.length === wi.walk.length, `walk grid has ${wi.walk.length} guest levels (${grid.entries.length})`);
wi.walk.forEach((l, i) => {
  const g = grid.entries[i] || {};
  check(g.gpa === l.entry_gpa, `${l.level} entry GPA ${g.gpa} = JSON ${l.entry_gpa}`);
  if (l.entry_hpa !== null) check(g.hpa === l.entry_hpa, `${l.level} entry HPA ${g.hpa} = JSON ${l.entry_hpa}`);
});
check(grid.refs === wi.hw_refs, `reference count ${grid.refs} = JSON hw_refs ${wi.hw_refs}`);
await page.locator('#panel').screenshot({ path: path.join(out, 'walk.png') });

// Keyboard: the page list moves with the arrow keys.
await page.focus('#pagelist');
await page.keyboard.press('Home');
const firstSel = await page.locator('#pagelist button[aria-selected="true"]').getAttribute('data-gva');
check(firstSel === pageOf(heap.start), `Home selects the region's first page (${firstSel})`);

// Search: the exact GVA whereis asked about, typed as a program prints it.
await page.fill('#q', `location of heap: ${wi.gva}`);
await page.press('#q', 'Enter');
const found = await page.evaluate(() => ({
  status: document.querySelector('#search-status').textContent,
  gpa: document.querySelector('#chain-gpa')?.dataset.gpa,
  hits: [...document.querySelectorAll('#results button')].map((b) => Number(b.dataset.pid)),
}));
const mappers = json.processes.filter((p) => p.ranges.some((r) => {
  const a = BigInt(r.gva);
  const g = BigInt(wi.gva);
  return g >= a && g < a + BigInt(r.pages) * BigInt(r.page_size);
})).map((p) => p.pid);
check(found.hits.join() === mappers.join(), `search finds it in every process that maps it (${found.hits} vs ${mappers})`);
check(found.hits[0] !== addr.pid || found.gpa === wi.gpa, `search opens the exact GPA (${found.gpa} vs ${wi.gpa})`);

// The timeline: a lane per process, every heap fault on it; the wheel
// zooms, dragging pans, and clicking a heap fault opens that page's chain.
const tl = json.timeline;
check(Boolean(tl) && tl.lanes.length >= json.processes.length, `the timeline has a lane per process (${tl && tl.lanes.length})`);
await page.locator('#tl-canvas').scrollIntoViewIfNeeded();
await page.locator('#timeline').screenshot({ path: path.join(out, 'timeline.png') });
const heapProc = json.processes.find((p) => p.name === 'heap');
const heapFaults = tl.faults.filter((f) => f.pid === heapProc.pid && f.region === 'heap');
check(heapFaults.length >= heapProc.heap_faults, `a fault on the timeline per heap fault (${heapFaults.length} for ${heapProc.heap_faults})`);
const box = await page.locator('#tl-canvas').boundingBox();
const before = await page.evaluate(() => window.microvmm.timeline.view());
await page.mouse.move(box.x + box.width * 0.6, box.y + 40);
await page.mouse.wheel(0, -300);
const zoomed = await page.evaluate(() => window.microvmm.timeline.view());
check(zoomed.t1 - zoomed.t0 < before.t1 - before.t0, `the wheel zooms in (${(before.t1 - before.t0).toFixed(0)} -> ${(zoomed.t1 - zoomed.t0).toFixed(0)} µs)`);
await page.mouse.down();
await page.mouse.move(box.x + box.width * 0.4, box.y + 40, { steps: 4 });
await page.mouse.up();
const panned = await page.evaluate(() => window.microvmm.timeline.view());
check(panned.t0 > zoomed.t0 && Math.abs((panned.t1 - panned.t0) - (zoomed.t1 - zoomed.t0)) < 1e-6 * (zoomed.t1 - zoomed.t0) + 1e-6, `dragging pans (${zoomed.t0.toFixed(0)} -> ${panned.t0.toFixed(0)} µs)`);
const target = heapFaults[Math.floor(heapFaults.length / 2)];
const k = tl.faults.indexOf(target);
const xy = await page.evaluate(([k, ts]) => {
  const t = window.microvmm.timeline;
  const v = t.view();
  t.zoomAt(ts, 200 / (v.t1 - v.t0));
  return t.faultXY(k);
}, [k, target.ts]);
await page.locator('#tl-canvas').click({ position: xy });
const opened = await page.evaluate(() => ({
  gva: document.querySelector('#chain td[data-gva]')?.dataset.gva,
  info: document.querySelector('#tl-info').textContent,
  walk: document.querySelectorAll('#walk td.entry').length,
}));
check(opened.gva === pageOf(target.gva), `clicking a heap fault opens its page (${opened.gva} vs ${pageOf(target.gva)})`);
check(opened.info.includes('demand fault') && opened.walk > 0, `the fault is described and its walk drawn (${opened.info})`);
await page.locator('#timeline').screenshot({ path: path.join(out, 'timeline-zoomed.png') });

// Printed addresses are listed and clickable.
const printed = await page.locator('.printed button').count();
check(printed === json.processes.reduce((n, p) => n + p.printed_addresses.length, 0), `printed addresses listed (${printed})`);
check(demo.requests.length === 0, `no network requests (${demo.requests})`);
check(demo.errors.length === 0, `no script errors (${demo.errors})`);
await page.emulateMedia({ media: 'print' });
await page.screenshot({ path: path.join(out, 'print.png') });
await page.emulateMedia({ media: 'screen' });

// The frame map by keyboard: a visible cursor, the frame described.
await page.focus('#gmap');
await page.keyboard.press('ArrowRight');
const info = await page.locator('#frame-info').textContent();
check(info.startsWith('frame 1: GPA 0x1000'), `arrow keys move over the frame map (${info})`);
check(await page.locator('#gcursor').isVisible(), 'the frame cursor is visible');
await page.locator('#gmap').scrollIntoViewIfNeeded();
await page.screenshot({ path: path.join(out, 'frames.png') });

// --dirty-log: the dirty frames highlighted.
if (fs.existsSync(path.join(out, 'dirty.html'))) {
  const d = await open('dirty.html');
  const legend = await d.page.locator('#frame-legend').textContent();
  check(legend.includes('dirty'), 'a --dirty-log report highlights the dirty frames');
  await d.page.locator('#gmap').scrollIntoViewIfNeeded();
  await d.page.screenshot({ path: path.join(out, 'dirty.png') });
  check(d.errors.length === 0, `no script errors on the dirty-log report (${d.errors})`);
}

// ---- the same run drawn as if on AMD NPT -----------------------------------
// This host's flavour may have no second dimension (PVM, shadow): relabel the
// embedded report's flavour to see the grid the papers draw, and check its
// count against paging::nested_walk_refs' rule for 4 KiB host pages.
const relabelled = fs.readFileSync(path.join(out, 'demo.html'), 'utf8')
  .replace(/"kvm_flavour":"[a-z-]+"/, '"kvm_flavour":"svm-npt"');
fs.writeFileSync(path.join(out, 'demo-as-npt.html'), relabelled);
const npt = await open('demo-as-npt.html');
await npt.page.click(`button.region[data-pid="${addr.pid}"][data-kind="heap"]`);
await npt.page.locator(`#pagelist button[data-gva="${pageOf(wi.gva)}"]`).click();
const g = wi.walk.length;
const h = json.host.paging_levels;
const nptGrid = await npt.page.evaluate(() => ({
  refs: Number(document.querySelector('#walk-refs')?.dataset.refs),
  nested: document.querySelectorAll('#walk td.nested .n').length,
  rows: document.querySelectorAll('#walk tbody tr').length,
}));
if (json.memory.backing === '4k') {
  check(nptGrid.refs === g * (h + 1) + h, `NPT grid counts ${g}*(${h}+1)+${h} = ${g * (h + 1) + h} references (${nptGrid.refs})`);
  check(nptGrid.nested === (g + 1) * h, `NPT grid has ${(g + 1) * h} nested cells (${nptGrid.nested})`);
}
check(nptGrid.rows === g + 1, `NPT grid has a row per guest level and one for the data (${nptGrid.rows})`);
await npt.page.locator('#walk').screenshot({ path: path.join(out, 'walk-npt.png') });
check(npt.errors.length === 0, `no script errors on the NPT view (${npt.errors})`);

// ---- the same run as a host without CAP_SYS_ADMIN shows it ----------------
// pagemap then hides every frame: the report has no HPA, and says why.
const hidden = fs.readFileSync(path.join(out, 'demo.html'), 'utf8')
  .replace(/"pagemap":"[^"]*"/, '"pagemap":"unavailable (needs CAP_SYS_ADMIN)"')
  .replace(/"(hpa|entry_hpa)":"0x[0-9a-f]+"/g, '"$1":null');
fs.writeFileSync(path.join(out, 'demo-no-hpa.html'), hidden);
const noHpa = await open('demo-no-hpa.html');
await noHpa.page.click(`button.region[data-pid="${addr.pid}"][data-kind="heap"]`);
await noHpa.page.locator(`#pagelist button[data-gva="${pageOf(wi.gva)}"]`).click();
const hpaCell = await noHpa.page.locator('#chain-hpa').textContent();
check(hpaCell === 'unavailable (needs CAP_SYS_ADMIN)', `without pagemap the HPA says why (${hpaCell})`);
const zeros = await noHpa.page.evaluate(() => /HPA 0x0\b/.test(document.body.innerText));
check(!zeros, 'no HPA shown as 0');
check(noHpa.errors.length === 0, `no script errors without HPAs (${noHpa.errors})`);

// ---- the same run as if its first process forked and exec'd -----------------
// Until the guest forks, the demo's data rewritten: process 0 ran a second
// image ("next"), process 1 is its child and shared two frames with it.
check(await page.locator('#tree').isHidden(), 'no process tree when no process has a parent');
const dataOpen = '<script type="application/json" id="report-data">';
const demoHtml = fs.readFileSync(path.join(out, 'demo.html'), 'utf8');
const at = demoHtml.indexOf(dataOpen) + dataOpen.length;
const end = demoHtml.indexOf('</script>', at);
const forked = JSON.parse(demoHtml.slice(at, end));
const [p0, p1] = forked.processes;
const next = { ...structuredClone(p0), image: 1, name: 'next' };
p0.exit = { kind: 'exec', status: null, vector: null, error_code: null, address: null, rip: null,
  reason: null, signal: null, signal_name: null, shell_status: null };
p1.ppid = p0.pid;
const sharedGpa = p1.ranges[0].gpa;
p1.shared_pages = 2;
p1.sharing = { with: [{ pid: p0.pid, name: 'next', pages: 2 }], frames: [[sharedGpa, 2]], frames_total: 1,
  complete: true, why: null };
forked.processes.splice(1, 0, next);
const escaped = JSON.stringify(forked).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
fs.writeFileSync(path.join(out, 'fork.html'), demoHtml.slice(0, at) + escaped + demoHtml.slice(end));
const fork = await open('fork.html');
const tree = await fork.page.evaluate(([a, b]) => ({
  shown: !document.getElementById('tree').hidden,
  nested: document.querySelectorAll(`#ptree li[data-pid="${a}"] li[data-pid="${b}"]`).length,
  first: document.querySelector(`#ptree li[data-pid="${a}"] > button`)?.textContent,
  child: document.querySelector(`#ptree li[data-pid="${b}"]`)?.textContent,
  legend: document.getElementById('frame-legend').textContent,
}), [p0.pid, p1.pid]);
check(tree.shown, 'the process tree is drawn');
check(tree.nested === 1, `the child sits under its parent (${tree.nested})`);
check(tree.first === `pid ${p0.pid} ${p0.name} → next`, `a pid's images in order (${tree.first})`);
check(tree.child.includes('2 of') && tree.child.includes(`pid ${p0.pid} next 2`), `the child's shared pages (${tree.child})`);
check(tree.legend.includes('mapped by more than one process'), 'the frame map has a key for shared frames');
const cellColour = await fork.page.evaluate((gpa) => {
  const c = document.getElementById('gmap');
  const f = Math.floor(parseInt(gpa, 16) / 4096);
  return [...c.getContext('2d').getImageData(f % c.width, Math.floor(f / c.width), 1, 1).data.slice(0, 3)];
}, sharedGpa);
check(cellColour.join() === '224,64,251', `a shared frame is highlighted (${cellColour})`);
await fork.page.click(`#ptree li[data-pid="${p1.pid}"] > button`);
check(await fork.page.locator('#columns th.proc.picked').count() === 1, 'choosing a process marks its column');
check(fork.errors.length === 0, `no script errors on the fork view (${fork.errors})`);
await fork.page.locator('#tree').screenshot({ path: path.join(out, 'tree.png') });

// ---- a hostile guest: its process name is markup --------------------------
const hostile = await open('hostile.html');
const names = await hostile.page.evaluate(() => [...document.querySelectorAll('#columns th[scope="col"]')].map((th) => th.textContent));
check(names.some((n) => n.includes('</script><b>pwn')), 'the hostile name shows as text');
check(await hostile.page.locator('#columns b').count() === 0, 'the hostile name made no element');
check(hostile.errors.length === 0, `no script errors or dialogs on the hostile report (${hostile.errors})`);
await hostile.page.locator('#spaces').scrollIntoViewIfNeeded();
await hostile.page.screenshot({ path: path.join(out, 'hostile.png') });

// ---- the 1 GiB --pages report -----------------------------------------------
if (fs.existsSync(path.join(out, 'big.html'))) {
  const big = await open('big.html');
  const size = fs.statSync(path.join(out, 'big.html')).size;
  console.log(`1 GiB: first paint ${big.t.painted.toFixed(0)} ms after navigation ` +
    `(script started at ${big.t.script_start_ms.toFixed(0)} ms, page mark ${big.t.first_paint_ms.toFixed(0)} ms, first contentful paint ${big.t.fcp?.toFixed(0)} ms, data parsed in ${big.t.parse_ms.toFixed(0)} ms, ` +
    `frame maps done at ${big.t.maps_ms.toFixed(0)} ms); ${size} bytes`);
  check(big.t.painted < 3000, `1 GiB first paint under 3 s (${big.t.painted.toFixed(0)} ms)`);
  const nodes = await big.page.evaluate(() => document.getElementsByTagName('*').length);
  check(nodes < 5000, `no DOM node per page (${nodes} elements)`);
  await big.page.click('button.region[data-kind="heap"]');
  const listed = await big.page.locator('#pagelist button').count();
  check(listed > 0 && listed < 100, `the heap's page list is virtualised (${listed} rows in the DOM)`);
  await big.page.screenshot({ path: path.join(out, 'big.png') });
  check(big.errors.length === 0, `no script errors on the 1 GiB report (${big.errors})`);
}

await browser.close();
fs.rmSync(profile, { recursive: true, force: true });
if (failures.length) {
  console.log(`browser test: ${failures.length} check(s) failed`);
  process.exit(1);
}
console.log('browser test: all checks passed');
