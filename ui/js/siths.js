// The SITHS view. Rust follows the readers and the card and says what to show (`card-changed`:
// the state, the holder, the certificate's validity, the PIN's tries left); this renders it,
// sends the PIN once per click — the field is emptied as soon as it is sent, and nothing is
// retried — and hands the session to `loggedIn`.

import { invoke, listen } from './tauri.js';
import { show, errorKey } from './i18n.js';
import * as router from './router.js';
import { showError, clearError, busy } from './forms.js';

const $ = (id) => document.getElementById(id);
let shown = -1; // the version of the view on screen: an older one that arrives late is ignored
let loggedIn = () => {};

/** The status line of each state that is not an error. */
const STATUS = {
  starting: 'siths.state.starting',
  no_card: 'siths.state.no_card',
  reading: 'siths.state.reading',
  ready: 'siths.state.ready',
};
/** The states that are an error, and the error code whose sentence says what to do. */
const STATE_ERRORS = { no_service: 'no_pcsc_service', no_reader: 'no_reader' };

/** Why the card cannot log in as it is (catalog key and values), or null. */
function cardProblem(card) {
  if (card.revocation && card.revocation.status === 'revoked') return ['error.siths_certificate_revoked'];
  if (card.pin.state === 'blocked') return ['error.pin_blocked'];
  if (card.validity.status === 'expired') return ['error.siths_certificate_expired'];
  if (card.validity.status === 'not_yet_valid') return ['error.siths_certificate_not_yet_valid'];
  return null;
}

function cardWarning(card) {
  if (card.validity.status !== 'expires_soon') return null;
  if (card.validity.days === 0) return ['siths.expires_today'];
  return ['siths.expires_soon', { days: card.validity.days }];
}

function showFacts(card) {
  $('siths-card-facts').hidden = !card;
  const facts = card
    ? [card.holder, card.hsa_id || '–', card.organisation || '–', card.issuer, card.valid_until]
    : ['', '', '', '', ''];
  ['siths-holder', 'siths-hsa-id', 'siths-organisation', 'siths-issuer', 'siths-valid-until'].forEach((id, i) => {
    $(id).textContent = facts[i];
  });
  showRevocation(card && card.revocation);
}

/** The backend's revocation answer, when it gave one: "Spärrat", checked against the list of
 * a date, or could not be checked. */
function showRevocation(revocation) {
  const value = $('siths-revocation');
  value.hidden = !revocation;
  $('siths-revocation-label').hidden = !revocation;
  if (!revocation) {
    value.textContent = '';
    return;
  }
  show(value, `siths.revocation.${revocation.status}`, { date: revocation.crl_date });
}

function showNotice(entry) {
  const notice = $('siths-notice');
  notice.hidden = !entry;
  if (entry) show($('siths-notice-text'), entry[0], entry[1]);
}

function render(view) {
  if (!view || view.version < shown) return;
  shown = view.version;
  $('siths-card').dataset.state = view.state;
  const status = $('siths-card-status');
  if (STATUS[view.state]) show(status, STATUS[view.state]);
  else show(status, errorKey({ code: STATE_ERRORS[view.state] || view.error }));
  const card = view.state === 'ready' ? view.card : null;
  showFacts(card);
  const problem = card && cardProblem(card);
  // Found, but it cannot log in as it is: the notice below says why, not "enter the PIN".
  if (problem) show(status, 'siths.state.found');
  // The notice says it now (a blocked PIN): the login's error would say it twice.
  if (problem) clearError($('siths-error'));
  showNotice(problem || (card && cardWarning(card)));
  const form = $('siths-form');
  const usable = Boolean(card) && !problem;
  if (!usable) $('siths-pin').value = '';
  form.hidden = !usable;
  if (!usable) return;
  const tries = card.pin.tries_left;
  if (card.last_try) show($('siths-pin-hint'), 'siths.pin_hint_last');
  else if (typeof tries === 'number') show($('siths-pin-hint'), 'siths.pin_hint', { tries_left: tries });
  else show($('siths-pin-hint'), 'siths.pin_hint_plain');
  $('siths-last-try').hidden = !card.last_try;
}

async function login(event) {
  event.preventDefault();
  const form = $('siths-form');
  const region = $('siths-error');
  const input = $('siths-pin');
  await busy($('siths-submit'), async () => {
    clearError(region, form);
    const pin = input.value;
    input.value = '';
    try {
      const session = await invoke('siths_login', { pin });
      await loggedIn(session);
    } catch (error) {
      // A blocked PIN is the card's state, said by the notice (the card-changed view that
      // follows says the same, whichever arrives first), not a login error said twice.
      if (error && error.code === 'pin_blocked') {
        showNotice(['error.pin_blocked']);
        form.hidden = true;
        return;
      }
      showError(region, error, form);
    }
  });
}

async function enter() {
  clearError($('siths-error'), $('siths-form'));
  $('siths-pin').value = '';
  try {
    render(await invoke('siths_card_state'));
  } catch (error) {
    show($('siths-card-status'), errorKey(error));
  }
}

function leave() {
  $('siths-pin').value = '';
  clearError($('siths-error'), $('siths-form'));
}

/** `loggedIn(session)` opens the staff landing page once the card login succeeded. */
export function init(hooks) {
  loggedIn = hooks.loggedIn;
  router.onEnter('siths', enter);
  router.onLeave('siths', leave);
  $('siths-form').addEventListener('submit', login);
  listen('card-changed', render);
}
