// The start-up timeline's webview half: when the page's own steps happened, reported to Rust
// once the first view can be operated (`ui_ready`), where they join Rust's steps (the log, and
// `cargo xtask bench app`). Times only: nothing about the user.

import { invoke } from './tauri.js';

const marks = [];

/** Records that the step `name` has just happened. */
export function mark(name) {
  marks.push({ name, at: performance.timeOrigin + performance.now() });
}

/**
 * The first view is translated and answers input: once it is on screen (after the frame this
 * task's layout goes into), tells Rust, with the page's timeline. The bare app of
 * `cargo xtask bench app` reports from the same point, so both include their first layout
 * and paint.
 */
export function ready() {
  mark('wired');
  requestAnimationFrame(() => setTimeout(() => {
    report();
    painted();
  }, 0));
}

let painted;
/** Settles once the first view is on screen: what the first view does not need waits for it. */
export const firstPaint = new Promise((resolve) => {
  painted = resolve;
});

function report() {
  mark('interactive');
  const origin = performance.timeOrigin;
  const navigation = performance.getEntriesByType('navigation')[0];
  const steps = [];
  if (navigation) {
    for (const name of ['responseEnd', 'domInteractive', 'domContentLoadedEventStart']) {
      if (navigation[name] > 0) steps.push({ name: name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), at: origin + navigation[name] });
    }
  }
  for (const paint of performance.getEntriesByType('paint')) {
    steps.push({ name: paint.name.replace(/-/g, '_'), at: origin + paint.startTime });
  }
  steps.push({ name: 'navigation_start', at: origin });
  invoke('ui_ready', { timeline: { marks: [...steps, ...marks] } }).catch(() => {});
}
