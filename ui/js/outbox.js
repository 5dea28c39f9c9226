// The demo outbox: with a demo backend, the e-mails and SMS it "sent" show in a panel, so a new
// user can finish every flow without a mail server or a phone. Never shown with a real backend.

import { invoke } from './tauri.js';
import { show, language, onLanguageChange } from './i18n.js';
import { onStatus } from './backend.js';

const $ = (id) => document.getElementById(id);
const POLL_MS = 1500;
let timer = null;
let shown = [];

function render() {
  const list = $('outbox-list');
  const items = [...shown].reverse().map((message) => {
    const li = document.createElement('li');
    li.className = `outbox__item outbox__item--${message.channel}`;
    li.dataset.channel = message.channel;
    const head = document.createElement('p');
    head.className = 'outbox__head';
    const channel = document.createElement('strong');
    show(channel, `outbox.channel.${message.channel}`);
    const to = document.createElement('span');
    show(to, 'outbox.to', { to: message.to, time: new Date(message.sent_at).toLocaleTimeString(language() === 'en' ? 'en-GB' : 'sv-SE') });
    head.append(channel, ' ', to);
    li.append(head);
    if (message.subject) {
      const subject = document.createElement('p');
      subject.className = 'outbox__subject';
      subject.textContent = message.subject;
      li.append(subject);
    }
    const body = document.createElement('pre');
    body.className = 'outbox__body';
    body.textContent = message.body;
    li.append(body);
    return li;
  });
  list.replaceChildren(...items);
  $('outbox-empty').hidden = shown.length > 0;
}

async function poll() {
  try {
    const messages = await invoke('demo_outbox');
    if (messages.length !== shown.length) {
      shown = messages;
      render();
    }
  } catch {
    // The backend went away or is not a demo one: the status handler hides the panel.
  }
}

/** `enabled`: whether this build has the demo tools (a release build has no outbox to read). */
export function init({ enabled }) {
  if (!enabled) return;
  onStatus((status) => {
    const demo = status.state === 'reachable' && status.demo === true;
    $('demo-outbox').hidden = !demo;
    if (demo && !timer) {
      poll();
      timer = setInterval(poll, POLL_MS);
    } else if (!demo && timer) {
      clearInterval(timer);
      timer = null;
    }
  });
  onLanguageChange(render);
}
