import { api, ApiError, type Adaptation } from '../api';
import { alertBox, dataTable, formatDate, formatPercent, h, setContent, statusBox } from '../dom';

const finished = (a: Adaptation) => a.status === 'succeeded' || a.status === 'failed';

function row(a: Adaptation): HTMLTableRowElement {
  const result =
    a.status === 'succeeded' && a.metrics
      ? `new v${a.version ?? '?'}: ${formatPercent(a.metrics.candidate.accuracy)} on ${a.examples?.heldOut ?? 0} held-out pictures (v${a.model.parentVersion}: ${formatPercent(a.metrics.current.accuracy)})`
      : (a.error ?? '');
  return h(
    'tr',
    {},
    h('td', {}, h('time', { datetime: a.createdAt }, formatDate(a.createdAt))),
    h('td', {}, `v${a.model.parentVersion}`),
    h('td', {}, a.status === 'failed' ? h('strong', {}, 'failed') : a.status),
    h('td', { class: 'num' }, a.examples ? String(a.examples.train) : ''),
    h('td', {}, result),
  );
}

/**
 * Admins: adapt the served model to the owners' feedback (POST /admin/api/models/:name/adaptations),
 * and the latest adaptations. A new version is not served until it is rolled out with the form above.
 */
export function adaptationsCard(
  modelName: () => string | null,
  signal: AbortSignal,
): { element: HTMLElement; refresh(): Promise<void> } {
  const error = alertBox();
  const status = statusBox();
  const rows = h('tbody', {});
  const show = (items: Adaptation[]) =>
    setContent(rows, items.length > 0 ? items.map(row) : h('tr', {}, h('td', { colspan: '5' }, 'None yet.')));
  const fail = (err: unknown) => {
    if (!signal.aborted)
      setContent(error, err instanceof ApiError ? err.describe() : 'Something went wrong. Please try again.');
  };
  /** Called once the served model's name is known (and after a rollout). */
  const refresh = async () => {
    const name = modelName();
    if (name) show((await api.adaptations(name)).items);
  };
  /** Polls until the adaptation ends (or the page is left), then says how it went. */
  const follow = async (name: string, id: string) => {
    for (;;) {
      if (signal.aborted) return;
      const items = (await api.adaptations(name)).items;
      show(items);
      const mine = items.find((a) => a.id === id);
      if (mine && finished(mine)) {
        setContent(
          status,
          mine.status === 'succeeded'
            ? `Adapted: version ${mine.version ?? '?'} is ready. Roll it out above (shadow first).`
            : `The adaptation failed: ${mine.error ?? 'no reason given'}`,
        );
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  };
  const button = h('button', { type: 'button', class: 'primary' }, 'Adapt to the feedback');
  button.addEventListener('click', async () => {
    setContent(error);
    setContent(status);
    const name = modelName();
    if (!name) return fail(new Error('no model loaded'));
    button.disabled = true;
    try {
      const started = await api.adapt(name);
      setContent(status, 'Adapting: fitting a new head on the labelled pictures…');
      await follow(name, started.id);
    } catch (err) {
      fail(err);
    } finally {
      button.disabled = false;
    }
  });
  const element = h(
    'section',
    { class: 'card', 'aria-labelledby': 'adapt-heading' },
    h('h2', { id: 'adapt-heading' }, 'Adapt to your pictures'),
    h(
      'p',
      {},
      'Fits a new version on the pictures owners labelled ("Wrong? It is open / closed"): at least 5 of each label. ',
      'A quarter of them are held out to judge it. The new version is not served until you roll it out.',
    ),
    button,
    error,
    status,
    dataTable('Latest adaptations', ['Started', 'From', 'Status', 'Examples', 'Result'], rows),
  );
  return { element, refresh: () => refresh().catch(fail) };
}
