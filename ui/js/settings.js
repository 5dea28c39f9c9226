// Settings: a shared computer (the default: nothing personal stays) or a personal one (the
// e-mail address is remembered and the device may be trusted for two-step verification), the
// language, and the preferred login method. Rust keeps them (tauri-plugin-store); this page
// only shows and changes them. On a personal computer, "Glöm den här enheten" forgets it all.

import { invoke } from './tauri.js';
import { show, setLanguage, language } from './i18n.js';
import * as router from './router.js';
import { showError, clearError, busy } from './forms.js';

const $ = (id) => document.getElementById(id);

let current = { mode: 'shared', language: null, preferred_method: null, remembered_email: null, trusted: false };

/** The settings as last read from Rust. */
export function get() {
  return current;
}

export function isPersonal() {
  return current.mode === 'personal';
}

/** Reads the settings again (after a login remembered something, say) and applies them. */
export async function refresh() {
  current = await invoke('settings_get');
  applyToChooser();
  return current;
}

function checked(name) {
  const input = document.querySelector(`#settings-form input[name="${name}"]:checked`);
  return input ? input.value : null;
}

function fillForm() {
  for (const input of document.querySelectorAll('#settings-form input[name="mode"]')) input.checked = input.value === current.mode;
  for (const input of document.querySelectorAll('#settings-form input[name="language"]')) input.checked = input.value === language();
  $('settings-method').value = current.preferred_method || '';
  const personal = isPersonal();
  $('settings-forget-block').hidden = !personal;
  let state = 'settings.forget.nothing';
  if (current.trusted && current.remembered_email) state = 'settings.forget.trusted_and_email';
  else if (current.trusted) state = 'settings.forget.trusted';
  else if (current.remembered_email) state = 'settings.forget.email';
  show($('settings-forget-state'), state, { email: current.remembered_email || '' });
}

async function save(event) {
  event.preventDefault();
  const region = $('settings-error');
  clearError(region, $('settings-form'));
  $('settings-saved').hidden = true;
  $('settings-forgotten').hidden = true;
  const chosen = {
    mode: checked('mode') || current.mode,
    language: checked('language') || language(),
    preferred_method: $('settings-method').value || null,
  };
  await busy($('settings-save'), async () => {
    try {
      current = await invoke('settings_set', chosen);
      if (chosen.language !== language()) await setLanguage(chosen.language);
      applyToChooser();
      fillForm();
      $('settings-saved').hidden = false;
    } catch (error) {
      showError(region, error);
    }
  });
}

async function forget() {
  const region = $('settings-error');
  clearError(region);
  $('settings-saved').hidden = true;
  await busy($('settings-forget'), async () => {
    try {
      const forgotten = await invoke('forget_device');
      $('login-email').value = '';
      await refresh();
      fillForm();
      show($('settings-forgotten-text'), forgotten.server_told ? 'settings.forget.done' : 'settings.forget.done_offline');
      $('settings-forgotten').hidden = false;
    } catch (error) {
      showError(region, error);
    }
  });
}

/** The preferred method comes first on the chooser, marked as the user's choice. */
function applyToChooser() {
  for (const badge of document.querySelectorAll('.method__badge')) badge.remove();
  const method = current.preferred_method;
  if (!method) return;
  const button = $(`method-${method.replace('_', '-')}`);
  if (!button) return;
  const item = button.closest('li');
  item.parentElement.prepend(item);
  const badge = document.createElement('span');
  badge.className = 'method__badge';
  show(badge, 'chooser.preferred');
  button.querySelector('.method__title').after(badge);
}

/** On a personal computer the login form starts with the remembered address. */
function prefillLogin() {
  const field = $('login-email');
  if (isPersonal() && current.remembered_email && !field.value) field.value = current.remembered_email;
}

/** The header's language switch: the choice is kept for the next start. */
export async function rememberLanguage(lang) {
  try {
    current = await invoke('settings_set', { language: lang });
  } catch (error) {
    console.warn('the language could not be saved', error && error.code);
  }
}

export async function init() {
  $('settings-form').addEventListener('submit', save);
  $('settings-forget').addEventListener('click', forget);
  router.onEnter('settings', () => {
    $('settings-saved').hidden = true;
    $('settings-forgotten').hidden = true;
    clearError($('settings-error'), $('settings-form'));
    fillForm();
  });
  router.onEnter('password', prefillLogin);
  await refresh();
}
