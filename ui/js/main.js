// Start-up: language from the OS (through Rust), then the views, then the service status.

import { invoke } from './tauri.js';
import { setLanguage, language, t, onLanguageChange } from './i18n.js';
import * as router from './router.js';
import * as backend from './backend.js';

async function start() {
  const info = await invoke('app_info');
  await setLanguage(info.language);
  const renderFooter = () => {
    document.getElementById('footer-version').textContent = t('footer.version', { version: info.version });
  };
  renderFooter();
  onLanguageChange(renderFooter);
  document.getElementById('language-switch').addEventListener('click', () => {
    setLanguage(language() === 'sv' ? 'en' : 'sv');
  });
  router.init();
  await backend.init();
  document.body.dataset.ready = 'true';
}

start().catch((error) => {
  console.error('start-up failed', error);
  document.body.dataset.ready = 'error';
});
