// The chooser's login methods: only those machine policy allows, the preferred one first and
// marked. Part of the first view: it needs nothing but the settings Rust handed over.

import { show } from './i18n.js';

const ALL_METHODS = ['bankid_this', 'bankid_other', 'password', 'siths'];

const button = (method) => document.getElementById(`method-${method.replace('_', '-')}`);

/** Offers the methods `settings` allow (`managed.login_methods`), `preferred_method` first. */
export function offer(settings) {
  for (const method of ALL_METHODS) {
    const found = button(method);
    if (found) found.closest('li').hidden = !settings.managed.login_methods.includes(method);
  }
  for (const badge of document.querySelectorAll('.method__badge')) badge.remove();
  const preferred = settings.preferred_method && button(settings.preferred_method);
  if (!preferred) return;
  const item = preferred.closest('li');
  item.parentElement.prepend(item);
  const badge = document.createElement('span');
  badge.className = 'method__badge';
  show(badge, 'chooser.preferred');
  preferred.querySelector('.method__title').after(badge);
}
