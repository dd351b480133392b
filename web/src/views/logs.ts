import { api, ApiError } from '../api';
import { alertBox, dataTable, formatPercent, h, setContent } from '../dom';
import { viewHeading, type View } from '../router';

/** Admins: the prediction request log (GET /admin/api/prediction-logs), newest first. */
export const logsView: View = {
  title: 'Request logs',
  access: 'admin',
  render(ctx) {
    const error = alertBox();
    const summary = h('p', { role: 'status' });
    const rows = h('tbody');
    const more = h('button', { type: 'button', hidden: true }, 'Show more');
    const label = h(
      'select',
      { id: 'log-label', name: 'label' },
      h('option', { value: '' }, 'any'),
      h('option', { value: 'open' }, 'open'),
      h('option', { value: 'closed' }, 'closed'),
    );
    let cursor: string | null = null;
    let shown = 0;

    const load = async (reset: boolean) => {
      if (reset) {
        cursor = null;
        shown = 0;
        rows.replaceChildren();
      }
      setContent(error);
      try {
        const page = await api.predictionLogs({ label: label.value, cursor, limit: 50 });
        for (const log of page.items) {
          rows.append(
            h(
              'tr',
              {},
              h('td', {}, h('time', { datetime: log.at }, new Date(log.at).toLocaleString())),
              h('td', {}, h('strong', { class: `verdict-${log.label}` }, log.label)),
              h('td', { class: 'num' }, formatPercent(log.confidence)),
              h('td', {}, log.cached ? 'yes' : 'no'),
              h('td', { class: 'num' }, `${log.latencyMs.toFixed(1)} ms`),
              h('td', {}, `${log.modelName} v${log.modelVersion}`),
              h(
                'td',
                {},
                log.shadowModelVersion
                  ? `v${log.shadowModelVersion}: ${log.shadowLabel ?? '?'} ${formatPercent(log.shadowConfidence ?? 0)}`
                  : '',
              ),
              h('td', {}, h('code', {}, log.userId.slice(0, 8)), log.apiKeyId ? ' (API key)' : ''),
              h('td', {}, log.clientIp),
            ),
          );
        }
        shown += page.items.length;
        cursor = page.nextCursor;
        more.hidden = !cursor;
        setContent(
          summary,
          shown
            ? `${shown} requests in the last 24 hours${cursor ? ' so far' : ''}.`
            : 'No requests in the last 24 hours.',
        );
      } catch (err) {
        if (!ctx.signal.aborted) setContent(error, err instanceof ApiError ? err.describe() : 'Something went wrong.');
      }
    };
    more.addEventListener('click', () => void load(false));
    void load(true);

    return h(
      'section',
      { class: 'view wide' },
      viewHeading('Request logs'),
      h(
        'p',
        { class: 'lead' },
        'Every answer of GET /predict, newest first. Dashboards are in ',
        h('a', { href: '/admin/grafana/' }, 'Grafana'),
        '.',
      ),
      h(
        'form',
        {
          class: 'inline-form',
          onsubmit: (e) => {
            e.preventDefault();
            void load(true);
          },
        },
        h('div', { class: 'field' }, h('label', { for: 'log-label' }, 'Verdict'), label),
        h('button', { type: 'submit' }, 'Filter'),
      ),
      error,
      summary,
      dataTable(
        'Prediction requests',
        ['Time', 'Verdict', 'Confidence', 'Cached', 'Latency', 'Model', 'Shadow', 'User', 'Client IP'],
        rows,
      ),
      more,
    );
  },
};
