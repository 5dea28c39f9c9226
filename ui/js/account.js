// Logging in with e-mail and password (and an SMS code with two-step verification), creating an
// account, changing the two-step phone number, a forgotten password and changing the password. Every call goes to Rust; secrets leave the
// page as soon as they are sent. One code view serves every step that asks for a code.

import { invoke } from './tauri.js';
import { show, t } from './i18n.js';
import * as router from './router.js';
import { showError, clearError, busy, clearSecrets } from './forms.js';
import * as settings from './settings.js';

const $ = (id) => document.getElementById(id);

/**
 * The flow the code view answers: `kind` is `login`, `registration`, `phone_change` or
 * `password_reset`; `step`
 * is `email` or `sms`; `email`/`phone` are only shown to the user ("we sent a code to …").
 */
let flow = null;
let resendTimer = null;
let handlers = { loggedIn: () => {}, phoneChanged: () => {}, isLoggedIn: () => false };

function input(id) {
  return $(id).value;
}

// ---- the code view ------------------------------------------------------------------------

function codeTexts() {
  if (flow.kind === 'login' && flow.step === 'email') {
    return { title: 'code.login_email.title', intro: 'code.login_email.intro', values: {} };
  }
  if (flow.kind === 'login') return { title: 'code.login.title', intro: 'code.login.intro', values: {} };
  if (flow.step === 'email') return { title: 'code.email.title', intro: 'code.email.intro', values: { email: flow.email || '' } };
  return { title: 'code.sms.title', intro: 'code.sms.intro', values: { phone: flow.phone || '' } };
}

/** Says `key` once to screen readers, through the page's one polite live region. */
function announce(key) {
  $('announcer').textContent = t(key);
}

// The countdown is not a live region: a screen reader would read it out every second. What
// changes state is announced once instead: a code sent, and a new one available.
function startCooldown(seconds) {
  clearInterval(resendTimer);
  const button = $('code-resend');
  const wait = $('code-resend-wait');
  let left = Math.max(0, Math.ceil(seconds || 0));
  const waited = left > 0;
  const tick = () => {
    if (left > 0) {
      button.disabled = true;
      show(wait, 'code.resend_wait', { seconds: left });
      left -= 1;
    } else {
      clearInterval(resendTimer);
      resendTimer = null;
      button.disabled = false;
      wait.textContent = '';
      delete wait.dataset.i18n;
      if (waited && router.current() === 'code') announce('code.resend_ready');
    }
  };
  tick();
  if (waited) resendTimer = setInterval(tick, 1000);
}

/** Shows the code view for `next` (a flow's new step); `error` when the code could not be sent. */
function askForCode(next, { error, replace = false } = {}) {
  flow = next;
  const texts = codeTexts();
  show($('code-title'), texts.title);
  show($('code-intro'), texts.intro, texts.values);
  $('code-input').value = '';
  // "Trust this device" is offered for a login's SMS code on a personal computer only.
  const trust = next.kind === 'login' && next.step === 'sms' && settings.isPersonal();
  $('code-trust-field').hidden = !trust;
  $('code-trust').checked = false;
  clearError($('code-error'), $('code-form'));
  if (replace) router.replace('code');
  else router.go('code');
  if (error) showError($('code-error'), error);
  // An undelivered code can be asked for again at once.
  startCooldown(error ? 0 : next.resend_after);
}

/** A registration or phone change moved on: the next code, or the end. */
function advance(challenge) {
  if (challenge.next === 'sms_code') {
    askForCode({ ...flow, id: challenge.id, step: 'sms', resend_after: challenge.resend_after }, { replace: true });
  } else if (challenge.next === 'password') {
    // A reset is proven: the new password is next.
    clearInterval(resendTimer);
    clearError($('password-new-error'), $('password-new-form'));
    router.replace('password-new');
  } else if (challenge.next === 'done') {
    finish();
  }
}

function finish() {
  const done = flow;
  flow = null;
  clearInterval(resendTimer);
  clearSecrets();
  if (done.kind === 'registration') {
    $('register-form').reset();
    syncTwoStep();
    showDone('registered', () => {
      router.home();
      router.go('password');
      $('login-email').value = done.email || '';
      $('login-password').focus();
    });
  } else if (done.kind === 'password_reset') {
    $('password-forgot-form').reset();
    showDone('password_reset', () => {
      router.home();
      router.go('password');
      $('login-email').value = done.email || '';
      $('login-password').focus();
    });
  } else if (done.kind === 'phone_change' && handlers.isLoggedIn()) {
    $('phone-change-form').reset();
    showDone('phone_changed', () => handlers.phoneChanged());
  } else {
    $('phone-lost-form').reset();
    showDone('phone_changed_relogin', () => {
      router.home();
      router.go('password');
      $('login-email').value = done.email || '';
      $('login-password').focus();
    });
  }
}

let doneContinue = () => {};

function showDone(which, onContinue) {
  show($('done-title'), `done.${which}.title`);
  show($('done-body'), `done.${which}.body`);
  show($('done-continue'), `done.${which}.continue`);
  doneContinue = onContinue;
  router.replace('done');
}

async function submitCode(event) {
  event.preventDefault();
  if (!flow) return;
  const region = $('code-error');
  const form = $('code-form');
  clearError(region, form);
  await busy($('code-submit'), async () => {
    const code = input('code-input');
    try {
      if (flow.kind === 'login' && flow.step === 'email') {
        const outcome = await invoke('login_email_code', { challenge_id: flow.id, code });
        loginAnswered(outcome, { replace: true });
      } else if (flow.kind === 'login') {
        const trust_device = !$('code-trust-field').hidden && $('code-trust').checked;
        const session = await invoke('login_sms', { challenge_id: flow.id, code, trust_device });
        $('code-trust').checked = false;
        settings.refresh();
        flow = null;
        clearInterval(resendTimer);
        clearSecrets();
        handlers.loggedIn(session);
      } else {
        const challenge = await invoke('submit_code', { flow: flow.kind, id: flow.id, step: flow.step, code });
        advance(challenge);
      }
    } catch (error) {
      // A wrong code is typed again, so select it; everything else keeps what was typed.
      showError(region, error, form);
      if (error && error.code === 'wrong_code') $('code-input').select();
      // The step is gone on the server: the only way on is to start again.
      if (error && ['too_many_attempts', 'unknown_challenge'].includes(error.code)) $('code-submit').disabled = true;
    }
  });
  // busy() re-enables the button: keep it off when the step cannot be answered any more.
  if (['too_many_attempts', 'unknown_challenge'].includes($('code-error').dataset.code)) $('code-submit').disabled = true;
}

async function resendCode() {
  if (!flow) return;
  const region = $('code-error');
  clearError(region, $('code-form'));
  await busy($('code-resend'), async () => {
    try {
      const answer = flow.kind === 'login'
        ? await invoke('login_resend', { challenge_id: flow.id })
        : await invoke('resend_code', { flow: flow.kind, id: flow.id });
      flow = { ...flow, id: answer.id || flow.id };
      announce('code.resent');
      startCooldown(answer.resend_after);
      $('code-input').focus();
    } catch (error) {
      showError(region, error);
      if (error && error.code === 'resend_too_soon') startCooldown(error.retry_after);
    }
  });
  // `busy` enables the button when it is done; a countdown started meanwhile keeps it off.
  if (resendTimer) $('code-resend').disabled = true;
}

// ---- the forms that start a flow -----------------------------------------------------------

/**
 * A right password (or e-mail code) answered: logged in, or the next code to ask for. The
 * e-mail step comes only after many wrong passwords, so it says once why it is there.
 */
function loginAnswered(outcome, { replace = false } = {}) {
  if (outcome.next === 'session') {
    settings.refresh();
    flow = null;
    clearInterval(resendTimer);
    clearSecrets();
    handlers.loggedIn(outcome.session);
  } else if (outcome.next === 'email_code') {
    askForCode({ kind: 'login', id: outcome.id, step: 'email' }, { replace });
    announce('code.login_email.sent');
  } else {
    askForCode({ kind: 'login', id: outcome.id, step: 'sms', resend_after: outcome.resend_after }, { replace });
  }
}

async function login(event) {
  event.preventDefault();
  const form = $('login-form');
  const region = $('login-error');
  clearError(region, form);
  await busy($('login-submit'), async () => {
    const email = input('login-email');
    try {
      const outcome = await invoke('login_password', { email, password: input('login-password') });
      clearSecrets(form);
      loginAnswered(outcome);
    } catch (error) {
      showError(region, error, form);
      // The login was kept though its code could not be sent: ask for it again from the code view.
      if (error && ['sms_unavailable', 'email_unavailable'].includes(error.code) && error.id) {
        clearSecrets(form);
        const step = error.code === 'email_unavailable' ? 'email' : 'sms';
        askForCode({ kind: 'login', id: error.id, step }, { error });
      }
    }
  });
}

function syncTwoStep() {
  const on = $('register-two-step').checked;
  $('register-phone-field').hidden = !on;
}

async function register(event) {
  event.preventDefault();
  const form = $('register-form');
  const region = $('register-error');
  clearError(region, form);
  const twoStep = $('register-two-step').checked;
  if (twoStep && !input('register-phone').trim()) {
    showError(region, { code: 'invalid_phone' }, form);
    return;
  }
  await busy($('register-submit'), async () => {
    const email = input('register-email').trim();
    const phone = twoStep ? input('register-phone').trim() : null;
    const next = { kind: 'registration', step: 'email', email, phone };
    try {
      const started = await invoke('register', { email, password: input('register-password'), phone });
      askForCode({ ...next, id: started.id, email: started.email, phone: started.phone, resend_after: started.resend_after });
    } catch (error) {
      if (error && error.code === 'email_unavailable' && error.id) {
        // Kept on the server: send the code again later without filling in the form again.
        askForCode({ ...next, id: error.id }, { error });
      } else {
        showError(region, error, form);
      }
    }
  });
}

async function startPhoneChange(event, { lost }) {
  event.preventDefault();
  const prefix = lost ? 'phone-lost' : 'phone-change';
  const form = $(`${prefix}-form`);
  const region = $(`${prefix}-error`);
  clearError(region, form);
  await busy($(`${prefix}-submit`), async () => {
    const phone = input(`${prefix}-phone`).trim();
    const email = lost ? input('phone-lost-email').trim() : null;
    const args = lost ? { phone, email, password: input('phone-lost-password') } : { phone };
    const step = lost ? 'email' : 'sms';
    try {
      const started = await invoke('start_phone_change', args);
      clearSecrets(form);
      askForCode({ kind: 'phone_change', id: started.id, step, email: started.email, phone: started.phone, resend_after: started.resend_after });
    } catch (error) {
      if (error && ['email_unavailable', 'sms_unavailable'].includes(error.code) && error.id) {
        clearSecrets(form);
        askForCode({ kind: 'phone_change', id: error.id, step, email, phone }, { error });
      } else {
        showError(region, error, form);
      }
    }
  });
}

async function startPasswordReset(event) {
  event.preventDefault();
  const form = $('password-forgot-form');
  const region = $('password-forgot-error');
  clearError(region, form);
  await busy($('password-forgot-submit'), async () => {
    const email = input('password-forgot-email').trim();
    const next = { kind: 'password_reset', step: 'email', email };
    try {
      const started = await invoke('start_password_reset', { email });
      askForCode({ ...next, id: started.id, email: started.email, resend_after: started.resend_after });
    } catch (error) {
      if (error && error.code === 'email_unavailable' && error.id) {
        askForCode({ ...next, id: error.id }, { error });
      } else {
        showError(region, error, form);
      }
    }
  });
}

async function setNewPassword(event) {
  event.preventDefault();
  if (!flow || flow.kind !== 'password_reset') return;
  const form = $('password-new-form');
  const region = $('password-new-error');
  clearError(region, form);
  await busy($('password-new-submit'), async () => {
    try {
      const challenge = await invoke('finish_password_reset', { id: flow.id, password: input('password-new-password') });
      clearSecrets(form);
      advance(challenge);
    } catch (error) {
      showError(region, error, form);
    }
  });
}

async function changePassword(event) {
  event.preventDefault();
  const form = $('password-change-form');
  const region = $('password-change-error');
  clearError(region, form);
  await busy($('password-change-submit'), async () => {
    try {
      await invoke('change_password', { current: input('password-change-current'), new: input('password-change-new') });
      clearSecrets(form);
      form.reset();
      showDone('password_changed', () => handlers.phoneChanged());
    } catch (error) {
      showError(region, error, form);
    }
  });
}

/** Forgets any flow in progress (logout, expiry). */
export function reset() {
  flow = null;
  clearInterval(resendTimer);
  resendTimer = null;
  syncTwoStep();
}

export function init(callbacks) {
  handlers = { ...handlers, ...callbacks };
  $('login-form').addEventListener('submit', login);
  $('register-form').addEventListener('submit', register);
  $('register-two-step').addEventListener('change', syncTwoStep);
  $('phone-lost-form').addEventListener('submit', (event) => startPhoneChange(event, { lost: true }));
  $('phone-change-form').addEventListener('submit', (event) => startPhoneChange(event, { lost: false }));
  $('password-forgot-form').addEventListener('submit', startPasswordReset);
  $('password-new-form').addEventListener('submit', setNewPassword);
  $('password-change-form').addEventListener('submit', changePassword);
  $('code-form').addEventListener('submit', submitCode);
  $('code-resend').addEventListener('click', resendCode);
  $('done-continue').addEventListener('click', () => doneContinue());
  // Leaving the code view by "back" abandons the step; the server lets it expire.
  router.onLeave('code', () => {
    if (!['code', 'done', 'password-new'].includes(router.current())) {
      flow = null;
      clearInterval(resendTimer);
    }
  });
  router.onEnter('phone-change', () => {
    clearError($('phone-change-error'), $('phone-change-form'));
  });
  router.onEnter('password-change', () => {
    clearError($('password-change-error'), $('password-change-form'));
  });
  syncTwoStep();
}
