// What every form does the same way: errors shown in the form's alert region and on the field
// they are about, a busy submit button, "show password", and emptying secrets from the page.
// What the user typed stays in place after an error; only secrets are cleared after success.

import { show, errorKey } from './i18n.js';

/** The error's own numbers (tries left, seconds to wait) for its sentence. */
function errorValues(error) {
  const values = {};
  for (const name of ['tries_left', 'retry_after']) {
    if (error && typeof error[name] === 'number') values[name] = error[name];
  }
  return values;
}

/** Shows `error` in `region`; marks and focuses the field of `form` it is about, if any. */
export function showError(region, error, form) {
  show(region, errorKey(error), errorValues(error));
  region.dataset.code = (error && error.code) || 'unknown';
  region.hidden = false;
  // role="alert" tells a screen reader; a long form's error may be out of sight above the
  // button that was pressed. A field it is about gets the focus below, and is scrolled to.
  region.scrollIntoView({ block: 'nearest' });
  if (!form) return;
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
  const code = error && error.code;
  const field = code ? form.querySelector(`[data-error-codes~="${code}"]`) : null;
  if (field) {
    field.setAttribute('aria-invalid', 'true');
    field.setAttribute('aria-errormessage', region.id);
    field.focus();
  }
}

export function clearError(region, form) {
  region.hidden = true;
  region.textContent = '';
  delete region.dataset.code;
  delete region.dataset.i18n;
  if (form) {
    for (const input of form.querySelectorAll('[aria-invalid]')) {
      input.removeAttribute('aria-invalid');
      input.removeAttribute('aria-errormessage');
    }
  }
}

/** Runs `task` with `button` disabled and marked busy, so a double click sends nothing twice;
 * a button that had the focus has it again after. */
export async function busy(button, task) {
  if (button.disabled) return undefined;
  const focused = document.activeElement === button;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await task();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    // Disabling the focused button dropped the focus to the page, and the next Tab would
    // start from the top: give it back, unless the task moved it (an error's field, a new
    // view's heading) or the button is no longer shown.
    const dropped = !document.activeElement || document.activeElement === document.body;
    if (focused && dropped && button.isConnected && !button.closest('[hidden]')) button.focus();
  }
}

/** Empties every password and code field below `root`. */
export function clearSecrets(root = document) {
  for (const input of root.querySelectorAll('[data-secret]')) input.value = '';
}

/** Empties every form and error on the page (logout, expiry). */
export function resetAll() {
  for (const form of document.querySelectorAll('form')) {
    form.reset();
    const region = form.querySelector('.form-error');
    if (region) clearError(region, form);
  }
  for (const toggle of document.querySelectorAll('[data-shows]')) showPassword(toggle);
}

function showPassword(toggle) {
  const input = document.getElementById(toggle.dataset.shows);
  if (input) input.type = toggle.checked ? 'text' : 'password';
}

export function init() {
  // No form ever leaves the page: each view's module handles its own submit (and prevents the
  // default there); this holds any other, such as one sent before its module is wired.
  document.addEventListener('submit', (event) => event.preventDefault());
  document.addEventListener('change', (event) => {
    if (event.target.matches('[data-shows]')) showPassword(event.target);
  });
}
