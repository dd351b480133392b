import { api, ApiError, type Prediction } from './api';
import { formatPercent, h } from './dom';

/**
 * Asks GET /predict/:id until it answers. The upload's event usually has the verdict ready; if not,
 * the endpoint computes it on demand. A 503 (model loading or busy) is retried after its Retry-After,
 * up to a deadline; any other error is final.
 */
export async function waitForPrediction(
  imageId: string,
  signal: AbortSignal,
  deadlineMs = 60_000,
): Promise<Prediction> {
  const giveUpAt = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await api.predict(imageId, signal);
    } catch (err) {
      const retryable = err instanceof ApiError && (err.status === 503 || err.status === 0);
      if (!retryable || Date.now() > giveUpAt) throw err;
      const waitMs = Math.min(5_000, Math.max(500, ((err as ApiError).retryAfter ?? 1) * 1000));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, waitMs);
        signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
      });
    }
  }
}

/** Shown with a verdict the model is not sure of: the answer is a guess a person should check. */
export const notSure = 'Not sure: check by eye';

/** The verdict as people read it: the label, the confidence as a number and a bar, model and cache. */
export function verdictView(p: Prediction, headingLevel: 'h2' | 'h3' = 'h2'): HTMLElement {
  const percent = formatPercent(p.confidence);
  const bar = h('span', { class: 'bar-fill' });
  // CSSOM, not a style attribute: the page's CSP allows no inline styles.
  bar.style.width = `${Math.max(0, Math.min(1, p.confidence)) * 100}%`;
  return h(
    'div',
    { class: `verdict verdict-${p.label}` },
    h(headingLevel, { class: 'verdict-label' }, h('span', { class: 'visually-hidden' }, 'Verdict: '), p.label),
    h('p', { class: 'confidence' }, 'Confidence ', h('strong', {}, percent)),
    h('span', { class: 'bar', 'aria-hidden': 'true' }, bar),
    p.certain ? null : h('p', { class: 'not-sure' }, h('strong', {}, notSure)),
    h(
      'p',
      { class: 'meta' },
      `Model ${p.model.name} version ${p.model.version} · `,
      p.cached ? 'from the cache' : 'computed now',
    ),
  );
}
