import { ApiError, type Page } from '../api';
import { alertBox, dataTable, h, setContent, type Child } from '../dom';
import { viewHeading, type View } from '../router';

/** An admin list read page by page, newest first, filtered by one label (request logs, feedback). */
export interface PagedList<T> {
  title: string;
  lead: Child[];
  filter: { id: string; label: string; options: readonly string[] };
  caption: string;
  headings: readonly string[];
  fetch(query: { label: string; cursor: string | null; limit: number }): Promise<Page<T>>;
  row(item: T): HTMLTableRowElement;
  /** What the status line says about the items shown so far (`more`: another page waits). */
  summary(shown: readonly T[], more: boolean): string;
}

/** The view for a paged list: the filter, the table, "Show more", and errors in words. */
export function pagedListView<T>(list: PagedList<T>): View {
  return {
    title: list.title,
    access: 'admin',
    render(ctx) {
      const error = alertBox();
      const summary = h('p', { role: 'status' });
      const rows = h('tbody');
      const more = h('button', { type: 'button', hidden: true }, 'Show more');
      const label = h(
        'select',
        { id: list.filter.id, name: 'label' },
        h('option', { value: '' }, 'any'),
        ...list.filter.options.map((l) => h('option', { value: l }, l)),
      );
      let cursor: string | null = null;
      let shown: T[] = [];

      const load = async (reset: boolean) => {
        if (reset) {
          cursor = null;
          shown = [];
          rows.replaceChildren();
        }
        setContent(error);
        try {
          const page = await list.fetch({ label: label.value, cursor, limit: 50 });
          rows.append(...page.items.map(list.row));
          shown = [...shown, ...page.items];
          cursor = page.nextCursor;
          more.hidden = !cursor;
          setContent(summary, list.summary(shown, cursor !== null));
        } catch (err) {
          if (!ctx.signal.aborted)
            setContent(error, err instanceof ApiError ? err.describe() : 'Something went wrong.');
        }
      };
      more.addEventListener('click', () => void load(false));
      void load(true);

      return h(
        'section',
        { class: 'view wide' },
        viewHeading(list.title),
        h('p', { class: 'lead' }, ...list.lead),
        h(
          'form',
          {
            class: 'inline-form',
            onsubmit: (e) => {
              e.preventDefault();
              void load(true);
            },
          },
          h('div', { class: 'field' }, h('label', { for: list.filter.id }, list.filter.label), label),
          h('button', { type: 'submit' }, 'Filter'),
        ),
        error,
        summary,
        dataTable(list.caption, list.headings, rows),
        more,
      );
    },
  };
}
