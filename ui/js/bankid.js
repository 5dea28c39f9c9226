// The two BankID views. Rust starts the order, follows it, draws the QR code and cancels it;
// this only shows what `bankid-status` says (the RFA message, the QR image) and offers cancel,
// try again and the switch between this computer and another device. Leaving a view cancels
// its order. The demo test-app panel shows only with a demo backend.

import { invoke, listen } from './tauri.js';
import { show, errorKey } from './i18n.js';
import * as router from './router.js';
import { onStatus } from './backend.js';
import { showError, clearError } from './forms.js';

const VIEWS = { this_device: 'bankid-this', other_device: 'bankid-other' };
const $ = (id) => document.getElementById(id);
const part = (mode, name) => $(`${VIEWS[mode]}-${name}`);

let active = null; // the mode whose view is on screen
let attempt = 0; // the attempt shown (0: its start has not answered yet)
let oldest = 1; // events of attempts below this belong to views the user left
let ended = true; // nothing to cancel
let status = 'starting'; // of the attempt shown
let demo = false;
let loggedIn = () => {};

function showQr(mode, svg) {
  if (mode !== 'other_device') return;
  const box = part(mode, 'qr-box');
  const image = part(mode, 'qr');
  if (svg) {
    image.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
    box.hidden = false;
  } else {
    box.hidden = true;
    image.removeAttribute('src');
  }
}

// The test app can only act on an order that exists and waits for a BankID app.
function showDemo(mode) {
  part(mode, 'demo').hidden = !(demo && status === 'pending' && active === mode);
}

function settle(mode, next) {
  status = next;
  part(mode, 'state').dataset.status = next;
  part(mode, 'retry').hidden = next !== 'failed';
  showDemo(mode);
}

function render(view) {
  if (view.mode !== active || view.attempt < oldest || (attempt && view.attempt < attempt)) return;
  attempt = view.attempt;
  const mode = view.mode;
  const line = part(mode, 'status');
  if (view.status === 'complete') {
    ended = true;
    showQr(mode, null);
    settle(mode, 'complete');
    show(line, 'bankid.complete');
    if (view.session) loggedIn(view.session);
    return;
  }
  if (view.status === 'failed') ended = true;
  // A failure of the service's own (a relayed login) has its own sentence; else BankID's.
  if (view.status === 'failed' && view.code) show(line, errorKey({ code: view.code }));
  else show(line, `rfa.${view.message || (view.status === 'failed' ? 'RFA22' : 'RFA21')}`);
  showQr(mode, view.status === 'pending' ? view.qr_svg : null);
  settle(mode, view.status);
  // No BankID app on this computer: Mobilt BankID is the way on.
  if (view.status === 'failed' && view.message === 'RFA17A') part(mode, 'switch').focus();
}

async function start(mode) {
  active = mode;
  oldest = attempt + 1;
  attempt = 0;
  ended = false;
  clearError(part(mode, 'error'));
  show(part(mode, 'status'), 'bankid.starting');
  showQr(mode, null);
  settle(mode, 'starting');
  try {
    const view = await invoke('bankid_start', { mode });
    if (active !== mode) {
      invoke('bankid_cancel', { attempt: view.attempt }).catch(() => {});
      return;
    }
    render(view);
  } catch (error) {
    if (active !== mode) return;
    ended = true;
    settle(mode, 'failed');
    // BankID's own words when it refused; otherwise why the service could not start it.
    if (error && error.code === 'bankid_already_in_progress') show(part(mode, 'status'), 'rfa.RFA4');
    else show(part(mode, 'status'), errorKey(error));
  }
}

function leave(mode) {
  if (active !== mode) return;
  active = null;
  showQr(mode, null);
  part(mode, 'demo').hidden = true;
  if (!ended && attempt) invoke('bankid_cancel', { attempt }).catch(() => {});
  ended = true;
}

async function demoApp(mode, action) {
  const region = part(mode, 'error');
  clearError(region);
  try {
    await invoke('demo_bankid_app', { action });
  } catch (error) {
    showError(region, error);
  }
}

/** `loggedIn(session)` opens Min sida once an order completed. */
export function init(hooks) {
  loggedIn = hooks.loggedIn;
  for (const [mode, view] of Object.entries(VIEWS)) {
    router.onEnter(view, () => start(mode));
    router.onLeave(view, () => leave(mode));
    part(mode, 'cancel').addEventListener('click', () => router.back());
    part(mode, 'retry').addEventListener('click', () => start(mode));
    const to = part(mode, 'switch');
    to.addEventListener('click', () => router.replace(to.dataset.switchTo));
    for (const button of part(mode, 'demo').querySelectorAll('[data-demo-action]')) {
      button.addEventListener('click', () => demoApp(mode, button.dataset.demoAction));
    }
  }
  listen('bankid-status', render);
  onStatus((backend) => {
    demo = backend.state === 'reachable' && backend.demo === true;
    for (const mode of Object.keys(VIEWS)) showDemo(mode);
  });
}
