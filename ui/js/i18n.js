// Every visible string comes from ui/i18n/<lang>.json. Elements say what they show with
// data-i18n="key" (text, with placeholders filled from the JSON in data-i18n-params) and
// data-i18n-attr="attr:key;attr:key" (attributes). Code sets text with `show()`, so a
// language switch re-renders it too.
// A missing key shows as the raw key and is recorded, so tests catch it.

export const LANGUAGES = ['sv', 'en'];
const catalogs = {};
let current = 'sv';
const missing = new Set();
const listeners = [];

async function load(lang) {
  if (!catalogs[lang]) {
    const response = await fetch(`i18n/${lang}.json`);
    catalogs[lang] = await response.json();
  }
  return catalogs[lang];
}

function lookup(catalog, key) {
  return key.split('.').reduce((node, part) => (node && typeof node === 'object' ? node[part] : undefined), catalog);
}

/** The translation of `key`, with `{name}` placeholders filled from `params`. */
export function t(key, params = {}) {
  const value = lookup(catalogs[current], key);
  if (typeof value !== 'string') {
    missing.add(key);
    console.error(`i18n: missing key ${key} (${current})`);
    return key;
  }
  return value.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** Fills every data-i18n element below `root`. */
export function apply(root = document) {
  for (const element of root.querySelectorAll('[data-i18n]')) {
    element.textContent = t(element.dataset.i18n, params(element));
  }
  for (const element of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of element.dataset.i18nAttr.split(';')) {
      const [attribute, key] = pair.split(':');
      element.setAttribute(attribute.trim(), t(key.trim()));
    }
  }
}

function params(element) {
  if (!element.dataset.i18nParams) return {};
  try {
    return JSON.parse(element.dataset.i18nParams);
  } catch {
    return {};
  }
}

/** Shows the translation of `key` in `element`, and keeps showing it across language switches. */
export function show(element, key, values) {
  element.dataset.i18n = key;
  if (values && Object.keys(values).length) element.dataset.i18nParams = JSON.stringify(values);
  else delete element.dataset.i18nParams;
  element.textContent = t(key, values || {});
}

export function language() {
  return current;
}

/** Switches the whole UI, and the document's lang attribute, to `lang`. */
export async function setLanguage(lang) {
  const chosen = LANGUAGES.includes(lang) ? lang : 'sv';
  await load(chosen);
  use(chosen);
}

/**
 * Starts in `lang` with its catalog at hand (Rust hands it over before the page loads), so the
 * first view is translated at once, without a fetch.
 */
export function startWith(lang, catalog) {
  const chosen = LANGUAGES.includes(lang) ? lang : 'sv';
  if (catalog && typeof catalog === 'object') catalogs[chosen] = catalog;
  use(chosen);
}

function use(chosen) {
  current = chosen;
  document.documentElement.lang = chosen;
  document.title = t('app.name');
  apply();
  for (const listener of listeners) listener(chosen);
}

/** Runs `listener(lang)` after every language change (for text set from code). */
export function onLanguageChange(listener) {
  listeners.push(listener);
}

/** Keys that were asked for and not found: for tests and diagnostics. */
export function missingKeys() {
  return [...missing];
}

/**
 * A localized sentence for an error `{code, …}`: `error.<code>`, else the generic one. The
 * error's other fields (such as `tries_left`, `retry_after`) fill the sentence's placeholders.
 */
export function errorMessage(error) {
  return t(errorKey(error), error || {});
}

/** The catalog key of the sentence for an error `{code, …}`: `error.<code>`, else the generic one. */
export function errorKey(error) {
  const code = error && error.code;
  if (code && typeof lookup(catalogs[current], `error.${code}`) === 'string') return `error.${code}`;
  return 'error.unknown';
}
