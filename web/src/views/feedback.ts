import { api, ApiError } from '../api';
import { alertBox, dataTable, formatPercent, h, setContent } from '../dom';
import { labels } from '../feedback';
import { viewHeading, type View } from '../router';

/** Admins: what owners said their pictures show (GET /admin/api/feedback), newest answer first. */
export const feedbackView: View = {
  title: 'Feedback',
  access: 'admin',
  render(ctx) {
    const error = alertBox();
    const summary = h('p', { role: 'status' });
    const rows = h('tbody');
    const more = h('button', { type: 'button', hidden: true }, 'Show more');
    const label = h(
      'select',
      { id: 'feedback-label', name: 'label' },
      h('option', { value: '' }, 'any'),
      ...labels.map((l) => h('option', { value: l }, l)),
    );
    let cursor: string | null = null;
    let shown = 0;
    let disagreed = 0;

    const load = async (reset: boolean) => {
      if (reset) {
        cursor = null;
        shown = 0;
        disagreed = 0;
        rows.replaceChildren();
      }
      setContent(error);
      try {
        const page = await api.feedback({ label: label.value, cursor, limit: 50 });
        for (const f of page.items) {
          const agreed = f.label === f.predicted.label;
          if (!agreed) disagreed++;
          rows.append(
            h(
              'tr',
              {},
              h('td', {}, h('time', { datetime: f.updatedAt }, new Date(f.updatedAt).toLocaleString())),
              h('td', {}, h('strong', { class: `verdict-${f.label}` }, f.label)),
              h('td', {}, h('span', { class: `verdict-${f.predicted.label}` }, f.predicted.label)),
              h('td', { class: 'num' }, formatPercent(f.predicted.confidence)),
              h('td', {}, agreed ? 'yes' : h('strong', {}, 'no')),
              h('td', {}, `${f.predicted.model.name} v${f.predicted.model.version}`),
              h('td', {}, h('code', {}, f.userId.slice(0, 8))),
              h('td', {}, h('code', { title: f.imageId }, f.imageId.slice(0, 8))),
            ),
          );
        }
        shown += page.items.length;
        cursor = page.nextCursor;
        more.hidden = !cursor;
        setContent(
          summary,
          shown
            ? `${shown} ${shown === 1 ? 'answer' : 'answers'}${cursor ? ' so far' : ''}; the model disagreed with ${disagreed}.`
            : 'No feedback yet.',
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
      viewHeading('Feedback'),
      h(
        'p',
        { class: 'lead' },
        'What owners said their pictures show, beside the model’s verdict, newest answer first. Agreement by model version is in ',
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
        h('div', { class: 'field' }, h('label', { for: 'feedback-label' }, 'Answer'), label),
        h('button', { type: 'submit' }, 'Filter'),
      ),
      error,
      summary,
      dataTable(
        'Feedback from owners',
        ['Answered', 'Answer', 'Model said', 'Confidence', 'Agreed', 'Model', 'User', 'Image'],
        rows,
      ),
      more,
    );
  },
};
