// "En ny version finns": shows the update Rust found (`update-status` events) and installs it
// when the user asks. Rust decides whether it may (never while someone is logged in) and
// verifies the update's signature; this only shows the state and the answer.

import { invoke, listen } from './tauri.js';
import { t, errorMessage, onLanguageChange } from './i18n.js';

let view = { state: 'none' };
let error = null;

function render() {
  const banner = document.getElementById('update-banner');
  banner.hidden = view.state === 'none';
  if (banner.hidden) return;
  const body = document.getElementById('update-banner-body');
  const key = {
    available: 'update.available',
    installing: 'update.installing',
    installed: 'update.installed',
  }[view.state];
  body.textContent = t(key, { version: view.version });
  const button = document.getElementById('update-install');
  button.hidden = view.state !== 'available';
  button.disabled = view.state !== 'available';
  const message = document.getElementById('update-banner-error');
  message.hidden = !error;
  message.textContent = error ? errorMessage(error) : '';
}

function show(next) {
  view = next;
  if (view.state !== 'available') error = null;
  render();
}

export async function init() {
  await listen('update-status', show);
  show(await invoke('update_status'));
  onLanguageChange(render);
  document.getElementById('update-install').addEventListener('click', async () => {
    error = null;
    try {
      show(await invoke('update_install'));
    } catch (failure) {
      error = failure;
      render();
    }
  });
}
