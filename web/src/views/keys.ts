import { api, ApiError, type ApiKey } from '../api';
import { alertBox, field, formatDate, h, setContent, statusBox } from '../dom';
import { viewHeading, type View } from '../router';

/** API keys for machine clients: create (the key is shown once), list, revoke. */
export const keysView: View = {
  title: 'API keys',
  access: 'user',
  render(ctx) {
    const error = alertBox();
    const status = statusBox();
    const created = h('div', { class: 'created-key' });
    const rows = h('tbody');
    const table = h(
      'table',
      { class: 'table', hidden: true },
      h('caption', { class: 'visually-hidden' }, 'Your active API keys'),
      h(
        'thead',
        {},
        h('tr', {}, ...['Name', 'Starts with', 'Created', 'Last used', ''].map((t) => h('th', { scope: 'col' }, t))),
      ),
      rows,
    );
    const none = h('p', { hidden: true }, 'No active keys.');
    const name = field(
      'Key name',
      { name: 'name', required: true, maxlength: 64, autocomplete: 'off' },
      'What will use it, e.g. "line 3 camera".',
    );
    const fail = (err: unknown) => {
      if (!ctx.signal.aborted)
        setContent(error, err instanceof ApiError ? err.describe() : 'Something went wrong. Please try again.');
    };

    const refresh = async () => {
      try {
        const { items } = await api.apiKeys();
        setContent(rows, ...items.map(row));
        table.hidden = items.length === 0;
        none.hidden = items.length > 0;
      } catch (err) {
        fail(err);
      }
    };

    const row = (key: ApiKey) =>
      h(
        'tr',
        {},
        h('th', { scope: 'row' }, key.name),
        h('td', {}, h('code', {}, `${key.prefix}…`)),
        h('td', {}, formatDate(key.createdAt)),
        h('td', {}, key.lastUsedAt ? formatDate(key.lastUsedAt) : 'never'),
        h(
          'td',
          {},
          h(
            'button',
            {
              type: 'button',
              class: 'danger small',
              'aria-label': `Revoke ${key.name}`,
              onclick: async () => {
                if (!window.confirm(`Revoke "${key.name}"? Programs using it stop working at once.`)) return;
                try {
                  await api.revokeApiKey(key.id);
                  setContent(status, `Revoked ${key.name}.`);
                  await refresh();
                  heading.focus();
                } catch (err) {
                  fail(err);
                }
              },
            },
            'Revoke',
          ),
        ),
      );

    const form = h(
      'form',
      {
        class: 'card inline-form',
        onsubmit: async (event) => {
          event.preventDefault();
          setContent(error);
          try {
            const key = await api.createApiKey(name.input.value.trim());
            name.input.value = '';
            const secret = h('code', { class: 'secret', id: 'new-key' }, key.key);
            const copied = statusBox();
            setContent(
              created,
              h('h2', {}, `New key "${key.name}"`),
              h(
                'p',
                {},
                'Copy it now: it is shown only this once. Send it as the X-API-Key header to POST /auth/token.',
              ),
              secret,
              h(
                'button',
                {
                  type: 'button',
                  onclick: async () => {
                    try {
                      await navigator.clipboard.writeText(key.key);
                      setContent(copied, 'Copied to the clipboard.');
                    } catch {
                      // No clipboard permission: select it so Ctrl+C works.
                      getSelection()?.selectAllChildren(secret);
                      setContent(copied, 'Selected: press Ctrl+C (or ⌘C) to copy.');
                    }
                  },
                },
                'Copy key',
              ),
              copied,
            );
            await refresh();
          } catch (err) {
            fail(err);
          }
        },
      },
      name.wrapper,
      h('button', { type: 'submit', class: 'primary' }, 'Create key'),
    );
    void refresh();
    const heading = viewHeading('API keys');
    return h(
      'section',
      { class: 'view' },
      heading,
      h('p', { class: 'lead' }, 'Programs (a camera on a line, a script) use an API key instead of your password.'),
      form,
      error,
      status,
      created,
      h('h2', {}, 'Active keys'),
      none,
      h('div', { class: 'table-scroll' }, table),
    );
  },
};
