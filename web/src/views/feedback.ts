import { api, type AdminFeedback } from '../api';
import { formatPercent, h } from '../dom';
import { labels } from '../feedback';
import { pagedListView } from './paged-list';

const agreed = (f: AdminFeedback) => f.label === f.predicted.label;

/** Admins: what owners said their pictures show (GET /admin/api/feedback), newest answer first. */
export const feedbackView = pagedListView<AdminFeedback>({
  title: 'Feedback',
  lead: [
    'What owners said their pictures show, beside the model’s verdict, newest answer first. Agreement by model version is in ',
    h('a', { href: '/admin/grafana/' }, 'Grafana'),
    '.',
  ],
  filter: { id: 'feedback-label', label: 'Answer', options: labels },
  caption: 'Feedback from owners',
  headings: ['Answered', 'Answer', 'Model said', 'Confidence', 'Agreed', 'Model', 'User', 'Image'],
  fetch: (query) => api.feedback(query),
  row: (f) =>
    h(
      'tr',
      {},
      h('td', {}, h('time', { datetime: f.updatedAt }, new Date(f.updatedAt).toLocaleString())),
      h('td', {}, h('strong', { class: `verdict-${f.label}` }, f.label)),
      h('td', {}, h('span', { class: `verdict-${f.predicted.label}` }, f.predicted.label)),
      h('td', { class: 'num' }, formatPercent(f.predicted.confidence)),
      h('td', {}, agreed(f) ? 'yes' : h('strong', {}, 'no')),
      h('td', {}, `${f.predicted.model.name} v${f.predicted.model.version}`),
      h('td', {}, h('code', {}, f.userId.slice(0, 8))),
      h('td', {}, h('code', { title: f.imageId }, f.imageId.slice(0, 8))),
    ),
  summary: (shown, more) =>
    shown.length
      ? `${shown.length} ${shown.length === 1 ? 'answer' : 'answers'}${more ? ' so far' : ''}; the model disagreed with ${shown.filter((f) => !agreed(f)).length}.`
      : 'No feedback yet.',
});
