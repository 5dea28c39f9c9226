// Settings: a shared computer (the default: nothing personal stays) or a personal one (the
// e-mail address is remembered and the device may be trusted for two-step verification), the
// language, and the preferred login method. Rust keeps them (tauri-plugin-store); this page
// only shows and changes them. On a personal computer, "Glöm den här enheten" forgets it all.
// Machine policy may lock a setting ("Hanteras av din organisation": the control is disabled
// and says why) and limit the login methods the chooser offers; Rust refuses a locked change
// anyway (`setting_locked`).

import { invoke } from './tauri.js';
import { show, setLanguage, language, apply } from './i18n.js';
import * as router from './router.js';
import { showError, clearError, busy } from './forms.js';

const $ = (id) => document.getElementById(id);

// Rust's settings as it handed them over at start (`wire`), then as last read or saved.
let current;
// The chooser's `offer(settings)` (main.js: the first view's code), given to `wire`.
let offer = () => {};

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
  offer(current);
  showContactCentre();
  return current;
}

/** Help shows whom to call when the organisation's policy names a contact centre. */
function showContactCentre() {
  const centre = current.managed.contact_centre;
  $('help-contact').hidden = !centre;
  if (!centre) return;
  const parts = [centre.Name, centre.Phone, centre.Hours, centre.Url].filter(Boolean);
  $('help-contact-body').textContent = parts.join(' · ');
}

function checked(name) {
  const input = document.querySelector(`#settings-form input[name="${name}"]:checked`);
  return input ? input.value : null;
}

/** Disables the controls of a locked setting and points them at the reason. */
function lock(controls, noteId, locked) {
  const note = $(noteId);
  note.hidden = !locked;
  for (const control of controls) {
    control.disabled = locked;
    const described = (control.getAttribute('aria-describedby') || '').split(' ').filter((id) => id && id !== noteId);
    if (locked) described.push(noteId);
    if (described.length) control.setAttribute('aria-describedby', described.join(' '));
    else control.removeAttribute('aria-describedby');
  }
}

// Every choice of preferred method the page has, in its order ("none" first).
let methodOptions;

/** The preferred method is chosen among the methods policy allows: the others are taken out
 * of the list (WebKitGTK's list shows a hidden <option> all the same). */
function offerMethods(allowed) {
  const select = $('settings-method');
  methodOptions ||= [...select.options];
  select.replaceChildren(...methodOptions.filter((option) => !option.value || allowed.includes(option.value)));
  // Out of the page, an option missed a change of language.
  apply(select);
}

function fillForm() {
  const managed = current.managed;
  lock(document.querySelectorAll('#settings-form input[name="mode"]'), 'settings-mode-managed', managed.mode_locked);
  lock(document.querySelectorAll('#settings-form input[name="language"]'), 'settings-language-managed', managed.language_locked);
  lock([$('settings-method')], 'settings-method-managed', managed.preferred_method_locked);
  offerMethods(managed.login_methods);
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
  const managed = current.managed;
  const chosen = {};
  if (!managed.mode_locked) chosen.mode = checked('mode') || current.mode;
  if (!managed.language_locked) chosen.language = checked('language') || language();
  if (!managed.preferred_method_locked) chosen.preferred_method = $('settings-method').value || null;
  await busy($('settings-save'), async () => {
    try {
      current = await invoke('settings_set', chosen);
      if (chosen.language && chosen.language !== language()) await setLanguage(chosen.language);
      offer(current);
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

/** On a personal computer the login form starts with the remembered address. */
function prefillLogin() {
  const field = $('login-email');
  if (isPersonal() && current.remembered_email && !field.value) field.value = current.remembered_email;
}

/** The header's language switch: the choice is kept for the next start. */
export async function rememberLanguage(lang) {
  // (Before `wire`, the header's switch is hidden if policy locks the language.)
  if (current && current.managed.language_locked) return;
  try {
    current = await invoke('settings_set', { language: lang });
  } catch (error) {
    console.warn('the language could not be saved', error && error.code);
  }
}

/**
 * Wires the settings page, once it is in the page (after the first view), from `initial`: the
 * settings as Rust handed them over at start (the first view applied them itself).
 * `chooser.offer(settings)` offers the login methods again whenever the settings change.
 */
export function wire(initial, chooser) {
  offer = chooser.offer;
  // Unless the header's language switch already saved, and so read, newer ones.
  current ??= initial;
  $('settings-form').addEventListener('submit', save);
  $('settings-forget').addEventListener('click', forget);
  router.onEnter('settings', () => {
    $('settings-saved').hidden = true;
    $('settings-forgotten').hidden = true;
    clearError($('settings-error'), $('settings-form'));
    fillForm();
  });
  router.onEnter('password', prefillLogin);
  showContactCentre();
}
