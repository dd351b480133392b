import { api, type PredictionLog } from '../api';
import { formatPercent, h } from '../dom';
import { pagedListView } from './paged-list';

/** Admins: the prediction request log (GET /admin/api/prediction-logs), newest first. */
export const logsView = pagedListView<PredictionLog>({
  title: 'Request logs',
  lead: [
    'Every answer of GET /predict, newest first. Dashboards are in ',
    h('a', { href: '/admin/grafana/' }, 'Grafana'),
    '.',
  ],
  filter: { id: 'log-label', label: 'Verdict', options: ['open', 'closed'] },
  caption: 'Prediction requests',
  headings: ['Time', 'Verdict', 'Confidence', 'Cached', 'Latency', 'Model', 'Shadow', 'User', 'Client IP'],
  fetch: (query) => api.predictionLogs(query),
  row: (log) =>
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
  summary: (shown, more) =>
    shown.length
      ? `${shown.length} requests in the last 24 hours${more ? ' so far' : ''}.`
      : 'No requests in the last 24 hours.',
});
