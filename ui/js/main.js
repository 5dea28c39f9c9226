// Start-up: language from the OS (through Rust), then the views, then the service status.

import { invoke } from './tauri.js';
import { setLanguage, language, t, onLanguageChange } from './i18n.js';
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

async function start() {
  const info = await invoke('app_info');
  await setLanguage(info.language);
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
  await settings.init();
  minsida.whenDeviceRemoved(() => settings.refresh());
  await backend.init();
  await update.init();
  document.body.dataset.ready = 'true';
}

start().catch((error) => {
  console.error('start-up failed', error);
  document.body.dataset.ready = 'error';
});
