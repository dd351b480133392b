import { api, ApiError, type ImageRecord } from '../api';
import { alertBox, formatBytes, formatDate, formatPercent, h, setContent, statusBox } from '../dom';
import { viewHeading, type View } from '../router';
import { feedbackControls } from '../feedback';
import { verdictView, waitForPrediction } from '../verdict';

const PAGE_SIZE = 12;

/** "My images": a paginated grid of thumbnails with their verdicts; open one, delete one. */
export const galleryView: View = {
  title: 'My images',
  access: 'user',
  render(ctx) {
    const error = alertBox();
    const status = statusBox();
    const grid = h('ul', { class: 'grid', 'aria-label': 'Your photos, newest first' });
    const more = h('button', { type: 'button', hidden: true }, 'Show more');
    const empty = h(
      'p',
      { hidden: true },
      'No photos yet. ',
      h('a', { href: '/', 'data-link': true }, 'Check a bottle'),
      ' to add one.',
    );
    const urls: string[] = [];
    let cursor: string | null = null;
    ctx.signal.addEventListener('abort', () => urls.forEach((u) => URL.revokeObjectURL(u)));

    const dialog = h('dialog', { class: 'detail', 'aria-labelledby': 'detail-title' });

    const showError = (err: unknown) => {
      if (ctx.signal.aborted) return;
      setContent(error, err instanceof ApiError ? err.describe() : 'Something went wrong. Please try again.');
    };

    const thumbnail = (image: ImageRecord, alt: string): HTMLImageElement => {
      const img = h('img', { alt, width: 160, height: 160, class: 'thumb', decoding: 'async' });
      // The bytes need the Authorization header: fetch them, then show a blob URL.
      api
        .imageBlob(image.id, ctx.signal)
        .then((blob) => {
          const url = URL.createObjectURL(blob);
          urls.push(url);
          img.src = url;
        })
        .catch(() => img.classList.add('thumb-missing'));
      return img;
    };

    const remove = async (image: ImageRecord, item: HTMLLIElement) => {
      if (!window.confirm(`Delete ${image.filename}? This cannot be undone.`)) return;
      try {
        await api.deleteImage(image.id);
        // Focus would be lost with the removed card: move it to the next card, or the heading.
        const next = (item.nextElementSibling ?? item.previousElementSibling)?.querySelector('button');
        item.remove();
        if (dialog.open) dialog.close();
        setContent(status, `Deleted ${image.filename}.`);
        (next ?? heading).focus();
        empty.hidden = grid.childElementCount > 0;
      } catch (err) {
        showError(err);
      }
    };

    const open = (image: ImageRecord, item: HTMLLIElement) => {
      const verdict = h('div', { role: 'status' }, h('p', {}, 'Checking…'));
      const feedback = h('div', { class: 'feedback-area' });
      setContent(
        dialog,
        h('h2', { id: 'detail-title' }, image.filename),
        thumbnail(image, `Photo ${image.filename}`),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Format'),
          h('dd', {}, image.format.toUpperCase()),
          h('dt', {}, 'Size'),
          h('dd', {}, `${image.width} × ${image.height} px, ${formatBytes(image.sizeBytes)}`),
          h('dt', {}, 'Uploaded'),
          h('dd', {}, formatDate(image.createdAt)),
        ),
        verdict,
        feedback,
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'button', class: 'danger', onclick: () => void remove(image, item) }, 'Delete'),
          h('button', { type: 'button', class: 'primary', onclick: () => dialog.close() }, 'Close'),
        ),
      );
      waitForPrediction(image.id, ctx.signal)
        .then((p) => {
          setContent(verdict, verdictView(p, 'h3'));
          setContent(feedback, feedbackControls(p));
        })
        .catch((err: unknown) =>
          setContent(verdict, h('p', {}, err instanceof ApiError ? err.describe() : 'No verdict.')),
        );
      dialog.showModal(); // modal: focus moves in, Escape closes, focus returns to the opener
    };

    const card = (image: ImageRecord): HTMLLIElement => {
      const verdict = h('p', { class: 'card-verdict' }, 'Checking…');
      const item = h('li', { class: 'tile' });
      const openButton = h(
        'button',
        { type: 'button', class: 'tile-open', onclick: () => open(image, item) },
        thumbnail(image, ''),
        h('span', { class: 'visually-hidden' }, 'Open '),
        h('span', { class: 'tile-name' }, image.filename),
      );
      setContent(
        item,
        openButton,
        verdict,
        h('p', { class: 'tile-date' }, formatDate(image.createdAt)),
        h(
          'button',
          {
            type: 'button',
            class: 'danger small',
            'aria-label': `Delete ${image.filename}`,
            onclick: () => void remove(image, item),
          },
          'Delete',
        ),
      );
      waitForPrediction(image.id, ctx.signal)
        .then((p) => {
          verdict.className = `card-verdict verdict-${p.label}`;
          const guess = p.certain ? '' : ' · not sure';
          setContent(verdict, h('strong', {}, p.label), ` · ${formatPercent(p.confidence)}${guess}`);
        })
        .catch((err: unknown) => {
          if (!ctx.signal.aborted) setContent(verdict, err instanceof ApiError ? err.message : 'No verdict');
        });
      return item;
    };

    const load = async (focusFirstNew: boolean) => {
      more.disabled = true;
      try {
        const page = await api.images(cursor, PAGE_SIZE);
        const cards = page.items.map(card);
        grid.append(...cards);
        cursor = page.nextCursor;
        more.hidden = !cursor;
        empty.hidden = grid.childElementCount > 0;
        // After "Show more", continue where the new photos start rather than back at the top.
        if (focusFirstNew) cards[0]?.querySelector('button')?.focus();
      } catch (err) {
        showError(err);
      } finally {
        more.disabled = false;
      }
    };
    more.addEventListener('click', () => void load(true));
    void load(false);

    const heading = viewHeading('My images');
    return h('section', { class: 'view' }, heading, error, status, empty, grid, more, dialog);
  },
};
