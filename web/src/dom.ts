/** A tiny element builder: enough to write views as plain functions, with no framework to ship. */

export type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | ((event: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.slice(2).toLowerCase(), value);
    else if (name === 'class') el.className = String(value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's content; for live regions this is what gets announced. */
export function setContent(el: Element, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  append(el, ...children);
}

/** An error area (role=alert: read out as soon as it fills) that starts empty, as live regions must. */
export function alertBox(): HTMLParagraphElement {
  return h('p', { class: 'alert', role: 'alert' });
}

/** A polite status area for outcomes that are not errors ("Deleted", "Copied"). */
export function statusBox(): HTMLParagraphElement {
  return h('p', { class: 'status', role: 'status' });
}

/** A table that scrolls sideways on narrow screens: a caption for screen readers, column headings, rows. */
export function dataTable(caption: string, headings: readonly string[], rows: HTMLTableSectionElement): HTMLDivElement {
  return h(
    'div',
    { class: 'table-scroll' },
    h(
      'table',
      { class: 'table' },
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', {}, h('tr', {}, ...headings.map((t) => h('th', { scope: 'col' }, t)))),
      rows,
    ),
  );
}

let fieldCounter = 0;
/** A labelled input: the label is a real <label for>, so it names the field for everyone. */
export function field(
  label: string,
  attrs: Attrs & { name: string },
  hint?: string,
): { wrapper: HTMLDivElement; input: HTMLInputElement } {
  const id = `f-${attrs.name}-${++fieldCounter}`;
  const hintId = hint ? `${id}-hint` : undefined;
  const input = h('input', { id, 'aria-describedby': hintId, ...attrs });
  const wrapper = h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    input,
  );
  return { wrapper, input };
}

export const formatBytes = (n: number): string =>
  n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`;

export const formatDate = (iso: string): string =>
  new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** Confidence as people read it: 0.999972 → "99.997 %"; never rounds a near-certain answer up to 100 %. */
export function formatPercent(p: number): string {
  const pct = p * 100;
  const digits = pct >= 99.9 ? 3 : pct >= 99 ? 2 : 1;
  const text = (Math.floor(pct * 10 ** digits) / 10 ** digits).toFixed(digits);
  return `${text.replace(/\.?0+$/, '')} %`;
}
