import { api, ApiError } from '../api';
import { alertBox, formatBytes, h, setContent } from '../dom';
import { viewHeading, type View } from '../router';
import { feedbackControls } from '../feedback';
import { verdictView, waitForPrediction } from '../verdict';

/** The main screen: pick or drop a photo, upload it, and see the verdict appear. */
export const checkView: View = {
  title: 'Check a bottle',
  access: 'user',
  render(ctx) {
    const error = alertBox();
    // role=status: the verdict is read out when it arrives, without moving focus.
    const result = h('div', { class: 'result', role: 'status', 'aria-live': 'polite' });
    // Outside the verdict's live region: its own status announces the answer, not the verdict again.
    const feedback = h('div', { class: 'feedback-area' });
    const input = h('input', {
      id: 'photo',
      name: 'image',
      type: 'file',
      // A hint for the picker only: the API decides by the bytes and its answer is what we show.
      accept: 'image/jpeg,image/png,image/webp',
      class: 'file-input',
      'aria-describedby': 'photo-hint',
    });
    const preview = h('img', { class: 'preview', alt: '', hidden: true });
    const chosen = h('p', { class: 'chosen' });
    const submit = h('button', { type: 'submit', class: 'primary', disabled: true }, 'Check this photo');
    let file: File | null = null;
    let previewUrl: string | null = null;
    let pending: AbortController | null = null;
    ctx.signal.addEventListener('abort', () => {
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      pending?.abort();
    });

    const choose = (f: File | undefined) => {
      if (!f) return;
      file = f;
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      previewUrl = null;
      setContent(error);
      setContent(result);
      setContent(feedback);
      setContent(chosen, `Chosen: ${f.name} (${formatBytes(f.size)})`);
      // Preview what the browser can show; anything else still goes to the API, which has the final word.
      if (f.type.startsWith('image/')) {
        previewUrl = URL.createObjectURL(f);
        preview.src = previewUrl;
        preview.alt = `Preview of ${f.name}`;
        preview.hidden = false;
      } else {
        preview.hidden = true;
        preview.removeAttribute('src');
      }
      submit.disabled = false;
    };
    input.addEventListener('change', () => choose(input.files?.[0]));

    const drop = h(
      'div',
      { class: 'dropzone' },
      h('label', { for: 'photo', class: 'dropzone-label' }, h('strong', {}, 'Choose a photo'), ' or drop it here'),
      h('p', { id: 'photo-hint', class: 'hint' }, 'JPEG, PNG or WebP, up to 10 MB.'),
      input,
      chosen,
      preview,
    );
    for (const type of ['dragenter', 'dragover']) {
      drop.addEventListener(type, (e) => {
        e.preventDefault();
        drop.classList.add('dragging');
      });
    }
    for (const type of ['dragleave', 'drop']) drop.addEventListener(type, () => drop.classList.remove('dragging'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      choose((e as DragEvent).dataTransfer?.files[0]);
    });

    const form = h(
      'form',
      {
        class: 'card',
        onsubmit: async (event) => {
          event.preventDefault();
          if (!file) return;
          pending?.abort();
          pending = new AbortController();
          const signal = pending.signal;
          setContent(error);
          setContent(feedback);
          submit.disabled = true;
          setContent(result, h('p', { class: 'working' }, `Uploading ${file.name}…`));
          try {
            const image = await api.upload(file);
            setContent(result, h('p', { class: 'working' }, 'Uploaded. Checking the bottle…'));
            const prediction = await waitForPrediction(image.id, signal);
            setContent(
              result,
              verdictView(prediction),
              h('p', {}, h('a', { href: '/my-images', 'data-link': true }, 'See it in My images')),
            );
            setContent(feedback, feedbackControls(prediction));
          } catch (err) {
            if (signal.aborted) return;
            setContent(result);
            setContent(error, err instanceof ApiError ? err.describe() : 'Something went wrong. Please try again.');
          } finally {
            submit.disabled = false;
          }
        },
      },
      drop,
      submit,
    );

    return h(
      'section',
      { class: 'view' },
      viewHeading('Is this bottle open or closed?'),
      h(
        'p',
        { class: 'lead' },
        'Upload a photo of one bottle. capcheck says whether it is open or closed, and how sure it is.',
      ),
      form,
      error,
      result,
      feedback,
    );
  },
};
