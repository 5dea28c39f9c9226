// Start-up: the first view at once, from what Rust handed over before the page loaded
// (language, catalog, settings), with only its own markup and modules; then, after its first
// paint, the other views (ui/views.html) and their modules, the service status and updates.
// The first view's own code (the chooser's methods, the start-up timeline) lives here: each
// module more before the first paint is one more request and module record in the webview
// (~3 ms each, `cargo xtask bench app`).

import { invoke } from './tauri.js';
import { setLanguage, startWith, language, t, onLanguageChange, apply, show } from './i18n.js';
import * as router from './router.js';

// ---- the start-up timeline ----------------------------------------------------------------
// The webview's half: when the page's own steps happened, reported to Rust once the first view
// can be operated (`ui_ready`), where they join Rust's steps (the log, and `cargo xtask bench
// app`). Times only: nothing about the user.

const marks = [];

/** Records that the step `name` has just happened. */
function mark(name) {
  marks.push({ name, at: performance.timeOrigin + performance.now() });
}

let painted;
/** Settles once the first view is on screen: what the first view does not need waits for it. */
const firstPaint = new Promise((resolve) => {
  painted = resolve;
});

/**
 * The first view is translated and answers input: once it is on screen (after the frame this
 * task's layout goes into), tells Rust, with the page's timeline. The bare app of
 * `cargo xtask bench app` reports from the same point, so both include their first layout
 * and paint.
 */
function ready() {
  mark('wired');
  requestAnimationFrame(() => setTimeout(() => {
    report();
    painted();
  }, 0));
}

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

// ---- the chooser ------------------------------------------------------------------------------

const ALL_METHODS = ['bankid_this', 'bankid_other', 'password', 'siths'];

const methodButton = (method) => document.getElementById(`method-${method.replace('_', '-')}`);

/**
 * Offers the login methods `settings` allow (`managed.login_methods`), the preferred one
 * (`preferred_method`) first and marked. Again whenever the settings change (settings.js).
 */
function offer(settings) {
  for (const method of ALL_METHODS) {
    const found = methodButton(method);
    if (found) found.closest('li').hidden = !settings.managed.login_methods.includes(method);
  }
  for (const badge of document.querySelectorAll('.method__badge')) badge.remove();
  const preferred = settings.preferred_method && methodButton(settings.preferred_method);
  if (!preferred) return;
  const item = preferred.closest('li');
  item.parentElement.prepend(item);
  const badge = document.createElement('span');
  badge.className = 'method__badge';
  show(badge, 'chooser.preferred');
  preferred.querySelector('.method__title').after(badge);
}

// ---- start --------------------------------------------------------------------------------

mark('modules');

// Handed over by Rust before this page loaded (src-tauri/src/lib.rs, `boot_script`): the
// start-up info, the settings and the catalog of the language to start in.
const boot = window.__LEGITIMERA_BOOT__;

/** The first view, translated and answering input, with nothing awaited before it. */
function showFirstView() {
  const { info } = boot;
  document.documentElement.dataset.os = info.os;
  startWith(info.language, boot.catalog);
  mark('translated');
  // The chooser offers only what policy allows before anything is laid out.
  offer(boot.settings);
  // A language policy locks: the header's switch would only be refused.
  document.getElementById('language-switch').hidden = boot.settings.managed.language_locked;
  // Translated: the page may be seen (css/app.css, [data-boot]). Before the router moves focus
  // to the first view's heading, which an element still hidden could not take. All of this
  // runs in one task: nothing is painted before the first view is complete.
  delete document.documentElement.dataset.boot;
  const renderFooter = () => {
    document.getElementById('footer-version').textContent = t('footer.version', { version: info.version });
  };
  renderFooter();
  onLanguageChange(renderFooter);
  document.getElementById('language-switch').addEventListener('click', async () => {
    const next = language() === 'sv' ? 'en' : 'sv';
    await setLanguage(next);
    const settings = await import('./settings.js');
    settings.rememberLanguage(next);
  });
  router.init();
  router.onLeave('chooser', () => {
    document.getElementById('chooser-message').hidden = true;
  });
  ready();
}

/**
 * The other views' markup (ui/views.html), translated, put into the page: the views into
 * <main>, the rest (the demo outbox, the session warning) before the footer.
 */
async function insertTheOtherViews() {
  const response = await fetch(new URL('../views.html', import.meta.url));
  if (!response.ok) throw new Error(`views.html: ${response.status}`);
  const views = new DOMParser().parseFromString(await response.text(), 'text/html').body;
  apply(views);
  document.getElementById('main').append(...views.querySelectorAll(':scope > section.view'));
  document.querySelector('body > footer').before(...views.children);
}

/**
 * The other views and their modules, put in and wired once the first view is up (index.html
 * holds and preloads only the first view's). Until they are, a form sends nothing anywhere
 * (forms.js holds every submit) and a view asked for opens when it is here (router.js).
 */
async function wireTheOtherViews() {
  const [forms, settings, account, session, outbox, bankid, minsida, siths, about, diagnostics] = await Promise.all([
    import('./forms.js'),
    import('./settings.js'),
    import('./account.js'),
    import('./session.js'),
    import('./outbox.js'),
    import('./bankid.js'),
    import('./minsida.js'),
    import('./siths.js'),
    import('./about.js'),
    import('./diagnostics.js'),
    insertTheOtherViews(),
  ]);
  forms.init();
  settings.wire(boot.settings, { offer });
  account.init({
    loggedIn: session.enter,
    phoneChanged: session.refresh,
    isLoggedIn: session.isLoggedIn,
  });
  session.init();
  bankid.init({ loggedIn: session.enter });
  siths.init({ loggedIn: session.enter });
  outbox.init({ enabled: boot.info.demo_tools });
  about.init();
  diagnostics.init();
  minsida.whenDeviceRemoved(() => settings.refresh());
}

/** What the first view does not need: the other views, the service's status and updates,
 * then "ready". */
async function afterFirstView() {
  await firstPaint;
  const views = wireTheOtherViews();
  router.viewsArriving(views);
  const backend = await import('./backend.js');
  await Promise.all([views, backend.init()]);
  const update = await import('./update.js');
  await update.init();
  document.body.dataset.ready = 'true';
}

try {
  showFirstView();
  afterFirstView().catch(failed);
} catch (error) {
  failed(error);
}

function failed(error) {
  console.error('start-up failed', error);
  delete document.documentElement.dataset.boot;
  document.body.dataset.ready = 'error';
}
