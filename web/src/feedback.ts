import { api, ApiError, type Prediction } from './api';
import { alertBox, h, setContent, statusBox } from './dom';

/** The bottle-state model's labels (GET /models lists them): what an owner can say a picture shows. */
export const labels = ['open', 'closed'] as const;

let groupCounter = 0;

/**
 * Under a verdict: "Wrong? It is open / It is closed". The label the model did not give comes first
 * and is emphasised; the other confirms the verdict. The answer is sent at once (the last one wins),
 * the chosen button stays pressed, and a polite status says what was recorded.
 */
export function feedbackControls(p: Prediction): HTMLElement {
  const questionId = `feedback-question-${++groupCounter}`;
  const status = statusBox();
  const error = alertBox();
  const ordered = [...labels.filter((l) => l !== p.label), ...labels.filter((l) => l === p.label)];
  let sending = false;

  const send = async (label: string, pressed: HTMLButtonElement) => {
    if (sending) return;
    sending = true;
    group.setAttribute('aria-busy', 'true');
    setContent(error);
    try {
      const answer = await api.giveFeedback(p.imageId, label);
      for (const b of buttons) b.setAttribute('aria-pressed', String(b === pressed));
      setContent(
        status,
        answer.label === answer.predicted.label
          ? `Thanks: recorded that it is ${answer.label}, as the model said.`
          : `Thanks: recorded that it is ${answer.label}, not ${answer.predicted.label}.`,
      );
    } catch (err) {
      setContent(status);
      setContent(error, err instanceof ApiError ? err.describe() : 'Your answer was not sent. Please try again.');
    } finally {
      sending = false;
      group.removeAttribute('aria-busy');
    }
  };

  const buttons = ordered.map((label) => {
    const button: HTMLButtonElement = h(
      'button',
      {
        type: 'button',
        class: label === p.label ? 'small' : 'primary small',
        'aria-pressed': 'false',
        onclick: () => void send(label, button),
      },
      `It is ${label}`,
    );
    return button;
  });

  const group = h(
    'div',
    { class: 'feedback', role: 'group', 'aria-labelledby': questionId },
    h('p', { id: questionId, class: 'feedback-question' }, 'Wrong? Tell capcheck what the bottle is:'),
    h('div', { class: 'actions' }, ...buttons),
    status,
    error,
  );
  return group;
}
