// Draw the page, and time its first paint.
// Part of microvmm's HTML report script: html.rs joins data.js, overview.js,
// pages.js, frames.js, timeline.js and start.js, in that order, inside one function, so
// they share its scope; each file is one concept.
  // ---- start ---------------------------------------------------------------

  runFacts();
  processTree();
  legend();
  columns();
  outputs();
  timeline();
  $('search').addEventListener('submit', search);
  $('pagelist').addEventListener('scroll', () => drawList());
  $('pagelist').addEventListener('keydown', listKeys);
  const timing = { script_start_ms: t0, parse_ms: tParsed - t0, first_paint_ms: null, maps_ms: null };
  window.microvmm = {
    timing, find, openPage: (pid, gva) => openPage(procs.find((P) => P.p.pid === pid), gva),
    timeline: { faultXY, zoomAt, view: () => ({ t0: TL.t0, t1: TL.t1 }) },
  };
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
