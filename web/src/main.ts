import './style.css';
import { api, hasSession, whenSessionEnds, type User } from './api';
import { h, setContent } from './dom';
import type { NavState, View } from './router';
import { registerView, signInView } from './views/auth';
import { checkView } from './views/check';
import { feedbackView } from './views/feedback';
import { galleryView } from './views/gallery';
import { keysView } from './views/keys';
import { logsView } from './views/logs';
import { modelsView } from './views/models';

/*
 * A single page with history routing. Its paths (/sign-in, /my-images, …) are not API paths, so the
 * local process and nginx answer them with index.html and the page draws the view.
 */
const routes: Record<string, View> = {
  '/': checkView,
  '/sign-in': signInView,
  '/register': registerView,
  '/my-images': galleryView,
  '/api-keys': keysView,
  '/request-logs': logsView,
  '/feedback': feedbackView,
  '/model-versions': modelsView,
};

const main = document.getElementById('main')!;
const nav = document.getElementById('nav')!;
let me: User | null = null;
let leaving: AbortController | null = null;
let firstRender = true;
/** Each render's number: a render that awaited and was overtaken by a newer one stops. */
let renderCount = 0;

function navigate(path: string, state: NavState = {}, replace = false): void {
  if (replace) history.replaceState(state, '', path);
  else history.pushState(state, '', path);
  void render(state);
}

async function render(state: NavState = (history.state as NavState | null) ?? {}): Promise<void> {
  const generation = ++renderCount;
  const path = location.pathname.replace(/\/+$/, '') || '/';
  let view = routes[path];
  if (!view) {
    drawNotFound();
    return;
  }
  if (hasSession() && !me) {
    try {
      me = await api.me();
    } catch {
      me = null; // the token went stale and could not be refreshed: sign in again
    }
    if (generation !== renderCount) return;
  }
  // Send people where they can be: signed-out people to sign-in, signed-in ones away from it.
  if (!me && (view.access === 'user' || view.access === 'admin')) {
    history.replaceState({}, '', '/sign-in');
    view = signInView;
  } else if (me && view.access === 'guest') {
    history.replaceState({}, '', '/');
    view = checkView;
  } else if (view.access === 'admin' && me?.role !== 'admin') {
    drawNotFound();
    return;
  }
  leaving?.abort();
  leaving = new AbortController();
  drawNav();
  setContent(main, view.render({ me, navigate, state, signal: leaving.signal }));
  document.title = `${view.title} · capcheck`;
  afterNavigation();
}

/** A new view is like a new page: move focus to its heading, so screen readers and keyboards start there. */
function afterNavigation(): void {
  if (firstRender) {
    firstRender = false; // on page load, leave focus where the browser puts it
    return;
  }
  (main.querySelector('h1') ?? main).focus();
}

function drawNotFound(): void {
  leaving?.abort();
  drawNav();
  const heading = h('h1', { tabindex: -1 }, 'Page not found');
  setContent(
    main,
    h(
      'section',
      { class: 'view' },
      heading,
      h('p', {}, h('a', { href: '/', 'data-link': true }, 'Go to the start page')),
    ),
  );
  document.title = 'Not found · capcheck';
  afterNavigation();
}

function drawNav(): void {
  const here = location.pathname;
  const link = (href: string, text: string) =>
    h('a', { href, 'data-link': true, 'aria-current': here === href ? 'page' : undefined }, text);
  if (!me) {
    setContent(
      nav,
      h('ul', {}, h('li', {}, link('/sign-in', 'Sign in')), h('li', {}, link('/register', 'Create account'))),
    );
    return;
  }
  const signOut = h(
    'button',
    {
      type: 'button',
      class: 'link-button',
      onclick: async () => {
        await api.logout();
        me = null;
        navigate('/sign-in', { flash: 'You are signed out.' });
      },
    },
    'Sign out',
  );
  setContent(
    nav,
    h(
      'ul',
      {},
      h('li', {}, link('/', 'Check a bottle')),
      h('li', {}, link('/my-images', 'My images')),
      h('li', {}, link('/api-keys', 'API keys')),
      me.role === 'admin' ? h('li', {}, link('/request-logs', 'Request logs')) : null,
      me.role === 'admin' ? h('li', {}, link('/feedback', 'Feedback')) : null,
      me.role === 'admin' ? h('li', {}, link('/model-versions', 'Models')) : null,
      // Grafana is its own application (allow-listed under /admin): a plain link, full page load.
      me.role === 'admin' ? h('li', {}, h('a', { href: '/admin/grafana/' }, 'Grafana')) : null,
      h('li', { class: 'who' }, h('span', { class: 'email' }, me.email), signOut),
    ),
  );
}

// In-page links: plain <a href> (so they work with the keyboard, middle-click and without this script),
// taken over here for a left click without modifier keys.
document.addEventListener('click', (event) => {
  const a = (event.target as Element | null)?.closest?.('a[data-link]');
  if (!(a instanceof HTMLAnchorElement) || event.defaultPrevented) return;
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  if (a.pathname !== location.pathname) navigate(a.pathname);
  else afterNavigation();
});
window.addEventListener('popstate', () => void render());

whenSessionEnds(() => {
  me = null;
  navigate('/sign-in', { flash: 'Your session has ended. Please sign in again.' }, true);
});

void render();
