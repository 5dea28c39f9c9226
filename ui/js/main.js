// Start-up: the first view at once, from what Rust handed over before the page loaded
// (language, catalog, settings); then the service status and updates.

import * as startup from './startup.js';
import { setLanguage, startWith, language, t, onLanguageChange } from './i18n.js';
import * as router from './router.js';
import * as backend from './backend.js';
import * as forms from './forms.js';
import * as account from './account.js';
import * as session from './session.js';
import * as outbox from './outbox.js';
import * as bankid from './bankid.js';
import * as settings from './settings.js';
import * as minsida from './minsida.js';
import * as siths from './siths.js';
import * as about from './about.js';
import * as diagnostics from './diagnostics.js';
import * as update from './update.js';

startup.mark('modules');

// Handed over by Rust before this page loaded (src-tauri/src/lib.rs, `boot_script`): the
// start-up info, the settings and the catalog of the language to start in.
const boot = window.__LEGITIMERA_BOOT__;

/** The first view, translated and answering input, with nothing awaited before it. */
function showFirstView() {
  const { info } = boot;
  startWith(info.language, boot.catalog);
  startup.mark('translated');
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
    settings.rememberLanguage(next);
  });
  router.init();
  router.onLeave('chooser', () => {
    document.getElementById('chooser-message').hidden = true;
  });
  forms.init();
  account.init({
    loggedIn: session.enter,
    phoneChanged: session.refresh,
    isLoggedIn: session.isLoggedIn,
  });
  session.init();
  bankid.init({ loggedIn: session.enter });
  siths.init({ loggedIn: session.enter });
  outbox.init();
  about.init();
  diagnostics.init();
  settings.init(boot.settings);
  minsida.whenDeviceRemoved(() => settings.refresh());
  startup.ready();
}

/** What the first view does not need: the service's status and updates, then "ready". */
async function afterFirstView() {
  await backend.init();
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
