// Shows whether the service can be reached. Rust checks and retries by itself; this only shows
// the state (`backend-status` events) and lets the user ask for a check now.

import { invoke, listen } from './tauri.js';
import { t, show, errorMessage, onLanguageChange } from './i18n.js';

let status = { state: 'checking' };
// No address, or a wrong one, in this installation: only whoever manages the computer can
// help, so the banner says so and offers no retry.
const SET_UP_WRONG = new Set(['backend_not_configured', 'invalid_backend_url']);
let wasUnreachable = false;
const listeners = [];

/** Runs `listener(status)` on every status the app reports (`{state, demo?, code?}`). */
export function onStatus(listener) {
  listeners.push(listener);
  listener(status);
}

function render() {
  const banner = document.getElementById('backend-banner');
  const unreachable = status.state === 'unreachable';
  banner.hidden = !unreachable;
  document.body.dataset.backend = status.state;
  if (unreachable) {
    const setUpWrong = SET_UP_WRONG.has(status.code);
    show(document.getElementById('backend-banner-title'),
      setUpWrong ? 'status.not_set_up.title' : 'status.unreachable.title');
    document.getElementById('backend-retry').hidden = setUpWrong;
    document.getElementById('backend-banner-body').textContent = errorMessage(status);
  }
}

function update(next) {
  status = next;
  const announcer = document.getElementById('announcer');
  if (status.state === 'unreachable') {
    wasUnreachable = true;
  } else if (status.state === 'reachable' && wasUnreachable) {
    wasUnreachable = false;
    announcer.textContent = t('status.restored');
  }
  render();
  for (const listener of listeners) listener(status);
}

export async function init() {
  await listen('backend-status', update);
  update(await invoke('backend_status'));
  onLanguageChange(render);
  document.getElementById('backend-retry').addEventListener('click', async () => {
    document.getElementById('announcer').textContent = t('status.checking');
    await invoke('retry_backend');
  });
}
