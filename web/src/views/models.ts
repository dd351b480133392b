import { api, ApiError, type Models, type Rollout, type RolloutRequest } from '../api';
import { alertBox, field, formatDate, h, setContent, statusBox } from '../dom';
import { viewHeading, type View } from '../router';
import { adaptationsCard } from './adaptations';

const modes = [
  { value: 'shadow', label: 'Shadow', hint: 'answers every prediction too; logged and compared, never shown' },
  { value: 'canary', label: 'Canary', hint: 'answers a share of the images (the same images each time)' },
  {
    value: 'full',
    label: 'Full',
    hint: 'becomes the served version (a rollback is a full rollout of the previous one)',
  },
] as const;

const candidateText = (rollout: { candidate: Rollout['candidate'] }) => {
  const c = rollout.candidate;
  if (!c) return 'none';
  return c.mode === 'canary' ? `v${c.version}, canary on ${c.percent ?? 0} % of images` : `v${c.version}, shadow`;
};

/** Admins: the served model (GET /models) and its rollout (GET/PUT /admin/api/models/:name/rollout). */
export const modelsView: View = {
  title: 'Models',
  access: 'admin',
  render(ctx) {
    const error = alertBox();
    const status = statusBox();
    const served = h('dl', { class: 'facts' });
    const version = field(
      'Version',
      { name: 'version', required: true, maxlength: 64, autocomplete: 'off', pattern: '[\\w\\-][\\w.\\-]*' },
      'A version folder of the model, e.g. "3".',
    );
    const percent = field(
      'Share of images (%)',
      { name: 'percent', type: 'number', min: '0', max: '100', step: '1', value: '10', disabled: true },
      'Canary only: 0 to 100.',
    );
    // Native radio buttons: one tab stop, arrow keys move between the modes.
    const radios = modes.map((m, i) =>
      h('input', { type: 'radio', name: 'mode', value: m.value, id: `mode-${m.value}`, checked: i === 0 }),
    );
    const modeOf = () => radios.find((r) => r.checked)?.value ?? 'shadow';
    for (const radio of radios)
      radio.addEventListener('change', () => {
        percent.input.disabled = modeOf() !== 'canary';
      });
    let modelName: string | null = null;
    const adaptations = adaptationsCard(() => modelName, ctx.signal);

    const fail = (err: unknown) => {
      if (!ctx.signal.aborted)
        setContent(error, err instanceof ApiError ? err.describe() : 'Something went wrong. Please try again.');
    };

    const show = (models: Models, rollout: Rollout | null) => {
      const model = models.items[0];
      if (!model) {
        setContent(served, h('dt', {}, 'Status'), h('dd', {}, `the model is ${models.status}`));
        return;
      }
      setContent(
        served,
        h('dt', {}, 'Model'),
        h('dd', {}, model.name),
        h('dt', {}, 'Served version'),
        h(
          'dd',
          {},
          h('strong', {}, `v${model.version}`),
          ` on ${model.workers} worker${model.workers === 1 ? '' : 's'}`,
        ),
        h('dt', {}, 'Candidate'),
        h('dd', {}, candidateText(rollout ?? models.rollout ?? { candidate: null })),
        h('dt', {}, 'Labels'),
        h('dd', {}, model.labels.join(', ')),
        h('dt', {}, 'Last rollout'),
        h(
          'dd',
          {},
          rollout?.updatedAt
            ? `${formatDate(rollout.updatedAt)} by ${rollout.updatedBy?.slice(0, 8) ?? 'unknown'}`
            : 'none yet: the configured version is served',
        ),
      );
    };

    const refresh = async () => {
      try {
        const models = await api.models();
        modelName = models.items[0]?.name ?? null;
        show(models, modelName ? await api.rollout(modelName) : null);
        await adaptations.refresh();
      } catch (err) {
        fail(err);
      }
    };

    const form = h(
      'form',
      {
        class: 'card',
        onsubmit: async (event) => {
          event.preventDefault();
          setContent(error);
          setContent(status);
          if (!modelName) return fail(new Error('no model loaded'));
          const mode = modeOf();
          const request: RolloutRequest =
            mode === 'canary'
              ? { version: version.input.value.trim(), mode, percent: Number(percent.input.value) }
              : { version: version.input.value.trim(), mode: mode as 'shadow' | 'full' };
          try {
            const rollout = await api.setRollout(modelName, request);
            setContent(status, `Rolled out: serving v${rollout.current}; candidate ${candidateText(rollout)}.`);
            await refresh();
          } catch (err) {
            fail(err);
          }
        },
      },
      h('h2', {}, 'Roll out a version'),
      version.wrapper,
      h(
        'fieldset',
        { class: 'field' },
        h('legend', {}, 'Mode'),
        ...modes.map((m, i) =>
          h(
            'div',
            { class: 'choice' },
            radios[i]!,
            h('label', { for: `mode-${m.value}` }, h('strong', {}, m.label), ` — ${m.hint}`),
          ),
        ),
      ),
      percent.wrapper,
      h('button', { type: 'submit', class: 'primary' }, 'Roll out'),
    );
    void refresh();

    return h(
      'section',
      { class: 'view' },
      viewHeading('Models'),
      h(
        'p',
        { class: 'lead' },
        'The version every replica serves, and a candidate on trial. Replicas follow a rollout within seconds. ',
        'Shadow agreement is charted in ',
        h('a', { href: '/admin/grafana/' }, 'Grafana'),
        '.',
      ),
      served,
      error,
      status,
      form,
      adaptations.element,
    );
  },
};
