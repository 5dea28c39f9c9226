// The logged-in state of the page: entering Min sida after a login, reporting clicks as activity
// (Rust throttles them), and leaving — by logout or because the server ended the session — with
// every trace of the person removed from the page. The token itself never comes here.

import { invoke, listen } from './tauri.js';
import { show, onLanguageChange } from './i18n.js';
import * as router from './router.js';
import * as minsida from './minsida.js';
import * as staff from './staff.js';
import * as account from './account.js';
import { resetAll } from './forms.js';

const $ = (id) => document.getElementById(id);
let loggedIn = false;
/** A SITHS session: a staff member's, whose page is the staff landing page, not Min sida. */
let staffSession = false;
/** The limits of the session, for the messages that name them. */
let limits = { idle_timeout: 1800, absolute_timeout: 43200 };

export function isLoggedIn() {
  return loggedIn;
}

/** A login finished: Min sida (or a staff member's landing page) becomes the bottom of the view stack. */
export async function enter(session) {
  loggedIn = true;
  staffSession = Boolean(session.staff);
  limits = { idle_timeout: session.idle_timeout, absolute_timeout: session.absolute_timeout };
  document.body.dataset.session = session.assurance;
  $('chooser-message').hidden = true;
  if (staffSession) {
    staff.renderSession(session);
    router.reset('staff');
    await staff.load();
    return;
  }
  minsida.renderSession(session);
  router.reset('min-sida');
  await minsida.loadCases();
  await minsida.loadDevices(session);
}

/** Back to Min sida after a phone change, with the session's new facts. */
export async function refresh() {
  router.reset('min-sida');
  let session = null;
  try {
    session = await invoke('session_info');
    minsida.renderSession(session);
  } catch {
    // session_expired reaches ended() through the event; other errors leave the old facts.
  }
  await minsida.loadCases();
  if (session) await minsida.loadDevices(session);
}

/** Leaves the session's pages and says why (`ended.*` catalog key). */
function ended(messageKey, values) {
  loggedIn = false;
  staffSession = false;
  closeWarning();
  delete document.body.dataset.session;
  account.reset();
  minsida.clear();
  staff.clear();
  resetAll();
  router.home();
  show($('chooser-message-text'), messageKey, values);
  $('chooser-message').hidden = false;
}

/** Why the session ended, as the `session-ended` event says it, in the user's words. */
function endedBy(code) {
  switch (code) {
    case 'idle_timeout':
      return ended('ended.idle', { minutes: Math.round(limits.idle_timeout / 60) });
    case 'absolute_timeout':
      return ended('ended.absolute', { hours: Math.round(limits.absolute_timeout / 3600) });
    case 'session_expired':
      return ended('ended.expired');
    default:
      return ended('ended.unauthorized');
  }
}

// ---- the warning before the idle limit ------------------------------------------------------

function closeWarning() {
  const dialog = $('session-warning');
  if (dialog.open) dialog.close();
}

function warn({ seconds_left: left }) {
  if (!loggedIn) return;
  const dialog = $('session-warning');
  const minutes = Math.floor(left / 60);
  const seconds = String(left % 60).padStart(2, '0');
  show($('session-warning-countdown'), 'warning.countdown', { time: `${minutes}:${seconds}` });
  if (!dialog.open) {
    dialog.showModal();
    $('keep-session').focus();
  }
}

async function keepSession() {
  try {
    await invoke('keep_session');
    closeWarning();
  } catch {
    // session_expired arrives as the session-ended event.
  }
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
    if (loggedIn) endedBy(event.code);
  });
  listen('session-warning', warn);
  listen('session-active', closeWarning);
  $('keep-session').addEventListener('click', keepSession);
  // Escape must not hide the warning without keeping the session: only the button does.
  $('session-warning').addEventListener('cancel', (event) => event.preventDefault());
  $('logout-button').addEventListener('click', logout);
  $('staff-logout-button').addEventListener('click', logout);
  // Activity is a click on a button or a link — not typing, not reading, not moving the mouse.
  document.addEventListener('click', (event) => {
    const control = event.target.closest('button, a');
    const own = control && ['logout-button', 'staff-logout-button', 'keep-session'].includes(control.id);
    if (loggedIn && control && !own) invoke('user_activity').catch(() => {});
  }, true);
  onLanguageChange((lang) => {
    invoke('set_language', { lang }).catch(() => {});
    if (loggedIn && staffSession) staff.load();
    else if (loggedIn) minsida.loadCases();
  });
}
