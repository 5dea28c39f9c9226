// The staff landing page after a SITHS login: who is logged in (as the card's certificate says),
// until when, and the e-services' case counts. The server decides what it holds; this renders
// it and empties it at logout.

import { invoke } from './tauri.js';
import { show, language } from './i18n.js';
import { showError, clearError } from './forms.js';
import { clockIn } from './minsida.js';

const $ = (id) => document.getElementById(id);

function showIdentity(person) {
  $('staff-name').textContent = person.name;
  $('staff-hsa-id').textContent = person.hsa_id;
  $('staff-organisation').textContent = person.organisation || '–';
}

export function renderSession(session) {
  if (session.staff) showIdentity(session.staff);
  show($('staff-ends'), 'minsida.ends', {
    time: clockIn(session.absolute_expires_in),
    minutes: Math.round(session.idle_timeout / 60),
  });
}

function renderServices(services) {
  $('staff-services').replaceChildren(...services.map((service) => {
    const item = document.createElement('li');
    item.className = 'staff-service';
    item.dataset.service = service.id;
    const title = document.createElement('span');
    title.className = 'staff-service__title';
    title.textContent = service.title;
    const count = document.createElement('span');
    count.className = 'staff-service__count';
    count.textContent = String(service.count);
    item.append(title, count);
    return item;
  }));
}

/** Fetches the landing page in the UI's language (the server writes the services' titles). */
export async function load() {
  const region = $('staff-error');
  clearError(region);
  try {
    const landing = await invoke('siths_landing', { lang: language() });
    showIdentity(landing);
    renderServices(landing.services);
  } catch (error) {
    if (error && ['session_expired', 'unauthorized'].includes(error.code)) return; // session.js takes over
    showError(region, error);
  }
}

/** Empties the page: nothing of the last person stays in it. */
export function clear() {
  for (const id of ['staff-name', 'staff-hsa-id', 'staff-organisation', 'staff-ends']) {
    $(id).textContent = '';
    delete $(id).dataset.i18nParams;
  }
  $('staff-services').replaceChildren();
  clearError($('staff-error'));
}
