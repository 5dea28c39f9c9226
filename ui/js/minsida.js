// Min sida: who is logged in, how strongly, until when, and the cases. How much of each case
// shows is decided by the server from the login's assurance; this only renders what it sent.

import { invoke } from './tauri.js';
import { show, language } from './i18n.js';
import { showError, clearError } from './forms.js';

const $ = (id) => document.getElementById(id);

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function labelled(tag, key, values) {
  const node = document.createElement(tag);
  show(node, key, values);
  return node;
}

/** Wall-clock time `seconds` from now, as the user's language writes it (e.g. 14:05). */
export function clockIn(seconds) {
  const at = new Date(Date.now() + seconds * 1000);
  return at.toLocaleTimeString(language() === 'en' ? 'en-GB' : 'sv-SE', { hour: '2-digit', minute: '2-digit' });
}

export function renderSession(session) {
  if (session.email) show($('session-user'), 'minsida.logged_in_as', { email: session.email });
  else if (session.name) {
    // A BankID session belongs to a person: the name BankID gave and the masked personnummer.
    show($('session-user'), 'minsida.logged_in_person', { name: session.name, personal_number: session.personal_number || '' });
  } else show($('session-user'), 'minsida.logged_in');
  show($('session-level'), `minsida.level.${session.assurance}`);
  show($('session-ends'), 'minsida.ends', {
    time: clockIn(session.absolute_expires_in),
    minutes: Math.round(session.idle_timeout / 60),
  });
  if (session.two_step) show($('session-phone'), 'minsida.two_step_on', { phone: session.phone || '' });
  else show($('session-phone'), 'minsida.two_step_off');
  const button = $('change-phone-button');
  button.hidden = !session.email;
  $('change-password-button').hidden = !session.email;
  show(button, session.two_step ? 'minsida.change_phone' : 'minsida.add_phone');
}

function renderCase(item) {
  const li = element('li', 'case');
  li.dataset.reference = item.reference;
  const heading = element('h3', 'case__title');
  heading.append(labelled('span', `case.kind.${item.kind}`), element('span', 'case__reference', ` ${item.reference}`));
  li.append(heading);
  const facts = element('dl', 'case__facts');
  const fact = (key, value, valueKey) => {
    facts.append(labelled('dt', key));
    const dd = valueKey ? labelled('dd', valueKey) : element('dd', '', value);
    facts.append(dd);
    return dd;
  };
  fact('case.status', null, `case.statuses.${item.status}`).className = `case__status case__status--${item.status}`;
  fact('case.reference', item.reference);
  fact('case.opened', item.opened_on);
  fact('case.updated', item.updated_on);
  li.append(facts);
  if (Array.isArray(item.events) && item.events.length) {
    li.append(labelled('h4', 'case.events'));
    const list = element('ol', 'case__events');
    for (const event of item.events) {
      const entry = element('li', `event event--${event.kind}`);
      const head = element('p', 'event__head');
      head.append(element('span', 'event__date', `${event.occurred_on} `), labelled('strong', `case.event_kinds.${event.kind}`));
      entry.append(head, element('p', 'event__text', event.text));
      list.append(entry);
    }
    li.append(list);
  }
  return li;
}

export function renderCases(answer) {
  const list = $('case-list');
  list.replaceChildren(...answer.cases.map(renderCase));
  $('cases-empty').hidden = answer.cases.length > 0;
  const notice = $('cases-hidden-notice');
  notice.hidden = !answer.details_hidden;
  $('cases-hidden-list').replaceChildren(
    ...answer.stronger_login_shows.map((kind) => labelled('li', `minsida.hidden.kinds.${kind}`)),
  );
}

let casesRequest = 0;

/**
 * Fetches the cases in the UI's language (the server writes event texts in it). Only the
 * latest request is shown: switching the language twice quickly must not leave the first
 * language's texts on screen when its answer comes last.
 */
export async function loadCases() {
  const region = $('cases-error');
  clearError(region);
  const request = ++casesRequest;
  try {
    const answer = await invoke('cases', { lang: language() });
    if (request === casesRequest) renderCases(answer);
  } catch (error) {
    if (request !== casesRequest) return;
    if (error && ['session_expired', 'unauthorized'].includes(error.code)) return; // session.js takes over
    showError(region, error);
  }
}

/** A date as the user's language writes it. */
function dateOf(rfc3339) {
  const date = new Date(rfc3339);
  if (Number.isNaN(date.getTime())) return rfc3339;
  return date.toLocaleDateString(language() === 'en' ? 'en-GB' : 'sv-SE', { year: 'numeric', month: 'long', day: 'numeric' });
}

function renderDevice(device) {
  const li = element('li', 'device');
  li.dataset.deviceId = device.id;
  if (device.current) li.dataset.current = 'true';
  const facts = element('div', 'device__facts');
  const title = element('p', 'device__title');
  title.append(element('strong', '', device.label));
  if (device.current) title.append(' ', labelled('span', 'devices.this_one'));
  facts.append(title, labelled('p', 'devices.until', { date: dateOf(device.expires_at) }));
  if (device.last_used_at) facts.append(labelled('p', 'devices.last_used', { date: dateOf(device.last_used_at) }));
  const remove = labelled('button', 'devices.remove');
  remove.type = 'button';
  remove.className = 'button button--secondary';
  remove.dataset.removeDevice = device.id;
  remove.addEventListener('click', () => removeDevice(device, remove));
  li.append(facts, remove);
  return li;
}

let onDeviceRemoved = () => {};

/** Called after this device's own trust was removed from Min sida (settings reread it). */
export function whenDeviceRemoved(callback) {
  onDeviceRemoved = callback;
}

async function removeDevice(device, button) {
  const region = $('devices-error');
  clearError(region);
  button.disabled = true;
  try {
    await invoke('remove_device', { id: device.id, current: Boolean(device.current) });
    if (device.current) onDeviceRemoved();
    await loadDevices();
  } catch (error) {
    button.disabled = false;
    if (error && ['session_expired', 'unauthorized'].includes(error.code)) return;
    showError(region, error);
  }
}

/** The account's trusted devices (only an account has them: not BankID or SITHS sessions). */
export async function loadDevices(session) {
  const section = $('devices-section');
  if (session && !session.email) {
    section.hidden = true;
    return;
  }
  const region = $('devices-error');
  clearError(region);
  try {
    const answer = await invoke('devices');
    $('device-list').replaceChildren(...answer.devices.map(renderDevice));
    $('devices-empty').hidden = answer.devices.length > 0;
    section.hidden = false;
  } catch (error) {
    if (error && ['session_expired', 'unauthorized'].includes(error.code)) return;
    section.hidden = false;
    showError(region, error);
  }
}

/** Empties Min sida: nothing of the last person stays in the page. */
export function clear() {
  $('device-list').replaceChildren();
  $('devices-section').hidden = true;
  clearError($('devices-error'));
  $('case-list').replaceChildren();
  $('cases-hidden-list').replaceChildren();
  $('cases-hidden-notice').hidden = true;
  $('cases-empty').hidden = true;
  clearError($('cases-error'));
  for (const id of ['session-user', 'session-level', 'session-ends', 'session-phone']) {
    $(id).textContent = '';
    delete $(id).dataset.i18nParams;
  }
}
