// "Om Legitimera": the version, the backend and where its address came from, every setting in
// force with its source (organisation's policy, the user's choice, the default), and what was
// wrong with the policy — like Firefox's about:policies. Rust builds the report; this shows it.

import { invoke } from './tauri.js';
import { t, onLanguageChange } from './i18n.js';
import * as router from './router.js';

const $ = (id) => document.getElementById(id);

let about = null;

function cell(row, text, tag = 'td') {
  const element = document.createElement(tag);
  if (tag === 'th') element.scope = 'row';
  element.textContent = text;
  row.append(element);
  return element;
}

function valueText(value) {
  if (value === null || value === undefined) return t('about.not_set');
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.join(', ');
  return JSON.stringify(value);
}

function render() {
  if (!about) return;
  $('about-version').textContent = t('about.version', { version: about.version });
  $('about-backend').textContent = about.backend_url
    ? `${about.backend_url} (${t(`about.backend_source.${about.backend_source}`)})`
    : t('about.backend_none');
  const body = $('about-settings-body');
  body.replaceChildren();
  for (const [key, entry] of Object.entries(about.report.settings)) {
    const row = document.createElement('tr');
    row.dataset.key = key;
    row.dataset.source = entry.source;
    cell(row, key, 'th');
    const value = cell(row, valueText(entry.value));
    if (entry.locked) value.append(` (${t('about.locked')})`);
    const origin = entry.source === 'policy' && about.origins[key] ? ` — ${about.origins[key]}` : '';
    cell(row, t(`about.source.${entry.source}`) + origin);
    body.append(row);
  }
  const errors = $('about-errors');
  errors.replaceChildren();
  $('about-errors-state').textContent = about.report.errors.length ? t('about.errors_intro') : t('about.errors_none');
  for (const error of about.report.errors) {
    const item = document.createElement('li');
    item.textContent = `${error.key || t('about.file')}: ${error.message}`;
    errors.append(item);
  }
}

export function init() {
  router.onEnter('about', async () => {
    about = await invoke('about');
    render();
  });
  onLanguageChange(render);
}
