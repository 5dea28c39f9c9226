// One view at a time. Routes are the views' data-view names; the browser history is not used,
// so "back" means the chooser (or where the user came from), never a previous session's page.
// While logged in, Min sida is the bottom of the stack: back never leaves the session's pages.

const stack = [];
let root = 'chooser';
const enterHooks = new Map();
const leaveHooks = new Map();
// While the views other than the first are on their way (main.js adds them after the first
// paint): settles when they are in the page, or could not be.
let arriving = null;

function views() {
  return document.querySelectorAll('[data-view]');
}

export function current() {
  return stack[stack.length - 1] || root;
}

/** Runs `hook()` whenever `view` is shown (after it is visible). */
export function onEnter(view, hook) {
  enterHooks.set(view, hook);
}

/** Runs `hook()` whenever `view` is left. */
export function onLeave(view, hook) {
  leaveHooks.set(view, hook);
}

/** The views not in the page yet are there once `promise` settles: a view asked for before
 * then opens when it arrives, unless another was asked for meanwhile. */
export function viewsArriving(promise) {
  arriving = promise.catch(() => {}).then(() => {
    arriving = null;
  });
}

function show(view) {
  if (arriving && !document.querySelector(`[data-view="${view}"]`)) {
    arriving.then(() => {
      if (current() === view) show(view);
    });
    return;
  }
  const previous = document.querySelector('[data-view]:not([hidden])');
  const previousName = previous && previous.dataset.view;
  if (previousName && previousName !== view && leaveHooks.has(previousName)) leaveHooks.get(previousName)();
  for (const section of views()) section.hidden = section.dataset.view !== view;
  document.body.dataset.currentView = view;
  const heading = document.querySelector(`[data-view="${view}"] h1`);
  // Focus moves to the new view's heading so keyboard and screen-reader users start there.
  if (heading) heading.focus();
  if (enterHooks.has(view)) enterHooks.get(view)();
}

/** Opens `view` on top of the current one. */
export function go(view) {
  if (current() === view) return;
  stack.push(view);
  show(view);
}

/** Returns to the view before this one (the chooser, or Min sida when logged in, at the bottom). */
export function back() {
  if (stack.length === 0) return;
  stack.pop();
  show(current());
}

/** Replaces the top view (one step of a flow leading to the next) without growing history. */
export function replace(view) {
  stack.pop();
  stack.push(view);
  show(view);
}

/** Forgets the history and makes `view` the bottom of the stack (Min sida after login). */
export function reset(view) {
  stack.length = 0;
  root = view;
  show(view);
}

/** Forgets the history and shows the chooser (after logout, expiry, errors). */
export function home() {
  reset('chooser');
}

export function init() {
  document.addEventListener('click', (event) => {
    const target = event.target.closest('[data-route], [data-back]');
    if (!target) return;
    if (target.hasAttribute('data-back')) back();
    else go(target.dataset.route);
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && stack.length > 0) back();
  });
  home();
}
