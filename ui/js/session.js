// The logged-in state of the page: entering Min sida after a login, reporting clicks as activity
// (Rust throttles them), and leaving — by logout or because the server ended the session — with
// every trace of the person removed from the page. The token itself never comes here.

import { invoke, listen } from './tauri.js';
import { show, onLanguageChange } from './i18n.js';
import * as router from './router.js';
import * as minsida from './minsida.js';
import * as account from './account.js';
import { resetAll } from './forms.js';

const $ = (id) => document.getElementById(id);
let loggedIn = false;

export function isLoggedIn() {
  return loggedIn;
}

/** A login finished: Min sida becomes the bottom of the view stack. */
export async function enter(session) {
  loggedIn = true;
  document.body.dataset.session = session.assurance;
  $('chooser-message').hidden = true;
  minsida.renderSession(session);
  router.reset('min-sida');
  await minsida.loadCases();
}

/** Back to Min sida after a phone change, with the session's new facts. */
export async function refresh() {
  router.reset('min-sida');
  try {
    minsida.renderSession(await invoke('session_info'));
  } catch {
    // session_expired reaches ended() through the event; other errors leave the old facts.
  }
  await minsida.loadCases();
}

/** Leaves the session's pages and says why (`ended.*` catalog key). */
function ended(messageKey) {
  loggedIn = false;
  delete document.body.dataset.session;
  account.reset();
  minsida.clear();
  resetAll();
  router.home();
  show($('chooser-message-text'), messageKey);
  $('chooser-message').hidden = false;
}

async function logout() {
  try {
    await invoke('logout');
    ended('ended.logged_out');
  } catch {
    // The token is already forgotten here; the server ends the session at its idle limit.
    ended('ended.logged_out_offline');
  }
}

export function init() {
  listen('session-ended', (event) => {
    if (!loggedIn) return;
    ended(event.code === 'session_expired' ? 'ended.expired' : 'ended.unauthorized');
  });
  $('logout-button').addEventListener('click', logout);
  // Activity is a click on a button or a link — not typing, not reading, not moving the mouse.
  document.addEventListener('click', (event) => {
    const control = event.target.closest('button, a');
    if (loggedIn && control && control.id !== 'logout-button') invoke('user_activity').catch(() => {});
  }, true);
  onLanguageChange(() => {
    if (loggedIn) minsida.loadCases();
  });
}
