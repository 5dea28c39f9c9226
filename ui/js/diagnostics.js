// "Problem med inloggningen?": Rust runs the checks and tells each as it starts and ends
// (`diagnostics-progress`); this shows a row per check — an icon, its status in words, what
// was found, the facts and what to do — announces each finished check once in a live region,
// runs a test login with the PIN as the login asks for it, and copies the report.

import { invoke, listen } from './tauri.js';
import { t, show } from './i18n.js';
import * as router from './router.js';
import { showError, clearError, busy } from './forms.js';

const $ = (id) => document.getElementById(id);
/** A symbol beside the status word (never colour alone, never the symbol alone). */
const ICONS = { ok: '✓', warning: '!', failed: '✗', skipped: '–', running: '…' };
let running = false;

function row(id) {
  let item = document.querySelector(`#diagnostics-list li[data-check="${id}"]`);
  if (!item) {
    item = document.createElement('li');
    item.className = 'diagnostics__row';
    item.dataset.check = id;
    item.innerHTML = '<span class="diagnostics__icon" aria-hidden="true"></span>'
      + '<div class="diagnostics__body"><h3 class="diagnostics__title"></h3>'
      + '<p class="diagnostics__status"></p><p class="diagnostics__summary"></p>'
      + '<p class="diagnostics__detail"></p><p class="diagnostics__advice"></p></div>';
    $('diagnostics-list').append(item);
  }
  return item;
}

function paint(item, status, title, summary = '', detail = '', advice = '') {
  item.dataset.status = status;
  item.querySelector('.diagnostics__icon').textContent = ICONS[status] || '';
  item.querySelector('.diagnostics__title').textContent = title;
  item.querySelector('.diagnostics__status').textContent = t(`diagnostics.status.${status}`);
  item.querySelector('.diagnostics__summary').textContent = summary;
  const detailLine = item.querySelector('.diagnostics__detail');
  detailLine.textContent = detail;
  detailLine.hidden = !detail;
  const adviceLine = item.querySelector('.diagnostics__advice');
  adviceLine.textContent = advice ? `${t('diagnostics.advice')} ${advice}` : '';
  adviceLine.hidden = !advice;
}

function progress(event) {
  if (!event) return;
  if (event.event === 'started') {
    // A start that arrives after the run's answer would undo a finished row.
    if (!running) return;
    paint(row(event.id), 'running', event.title, t('diagnostics.checking'));
    return;
  }
  const outcome = event.outcome;
  paint(row(outcome.id), outcome.status, outcome.title, outcome.summary, outcome.detail, outcome.advice);
  // Once per check, when it ends: the row's "Kontrollerar …" is not announced.
  $('diagnostics-live').textContent = t('diagnostics.announce', {
    title: outcome.title,
    status: `${t(`diagnostics.status.${outcome.status}`)} – ${outcome.summary}`,
  });
}

function showContact(centre) {
  const body = $('diagnostics-contact-body');
  const parts = centre ? [centre.Name, centre.Phone, centre.Hours, centre.Url].filter(Boolean) : [];
  if (parts.length) {
    delete body.dataset.i18n;
    body.textContent = parts.join(' · ');
  } else {
    show(body, 'diagnostics.contact.none');
  }
}

async function run(pin) {
  if (running) return;
  running = true;
  clearError($('diagnostics-error'), $('diagnostics-test-form'));
  $('diagnostics-list').replaceChildren();
  $('diagnostics-results-heading').hidden = false;
  $('diagnostics-report').hidden = true;
  $('diagnostics-copied').textContent = '';
  $('diagnostics-report-text').hidden = true;
  const state = $('diagnostics-state');
  state.hidden = false;
  show(state, 'diagnostics.running');
  try {
    const view = await invoke('diagnostics_run', { pin });
    // Rows that arrived only as events are complete now; the answer is the whole report.
    for (const outcome of view.report.checks) {
      paint(row(outcome.id), outcome.status, outcome.title, outcome.summary, outcome.detail, outcome.advice);
    }
    showContact(view.contact_centre);
    $('diagnostics-report').hidden = false;
    show(state, 'diagnostics.done');
  } catch (error) {
    show(state, 'diagnostics.done');
    showError($('diagnostics-error'), error, $('diagnostics-test-form'));
  } finally {
    running = false;
  }
}

async function testLogin(event) {
  event.preventDefault();
  const input = $('diagnostics-pin');
  const pin = input.value;
  input.value = '';
  await busy($('diagnostics-test'), () => run(pin));
}

async function copy() {
  const include = $('diagnostics-identity').checked;
  const text = await invoke('diagnostics_copy', { include_identity: include });
  const copied = $('diagnostics-copied');
  if (text === null || text === undefined) {
    show(copied, 'diagnostics.report.copied');
    return;
  }
  try {
    await navigator.clipboard.writeText(text);
    show(copied, 'diagnostics.report.copied');
  } catch {
    const area = $('diagnostics-report-text');
    area.value = text;
    area.hidden = false;
    show(copied, 'diagnostics.report.not_copied');
  }
}

async function enter() {
  $('diagnostics-pin').value = '';
  try {
    const settings = await invoke('settings_get');
    showContact(settings.managed && settings.managed.contact_centre);
  } catch {
    showContact(null);
  }
}

function leave() {
  $('diagnostics-pin').value = '';
  $('diagnostics-report-text').value = '';
  $('diagnostics-report-text').hidden = true;
}

export function init() {
  router.onEnter('diagnostics', enter);
  router.onLeave('diagnostics', leave);
  $('diagnostics-run').addEventListener('click', () => busy($('diagnostics-run'), () => run(null)));
  $('diagnostics-test-form').addEventListener('submit', testLogin);
  $('diagnostics-copy').addEventListener('click', copy);
  listen('diagnostics-progress', progress);
}
