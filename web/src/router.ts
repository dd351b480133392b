import type { User } from './api';

export interface ViewContext {
  me: User | null;
  navigate(path: string, state?: NavState): void;
  state: NavState;
  /** Aborted when the view is left: pending fetches and polls stop, blob URLs are freed. */
  signal: AbortSignal;
}

/** What one view hands to the next: a message to show on arrival, a field to fill. */
export interface NavState {
  flash?: string;
  email?: string;
}

export interface View {
  title: string;
  /** Built synchronously so the heading exists at once; views fill themselves in afterwards. */
  render(ctx: ViewContext): HTMLElement;
  /** Who may see it: everyone, signed-out people only, signed-in users, or admins. */
  access: 'public' | 'guest' | 'user' | 'admin';
}

/** The page's heading for a view: focus goes there after each navigation (tabindex=-1, not in tab order). */
export const viewHeading = (text: string): HTMLHeadingElement => {
  const el = document.createElement('h1');
  el.textContent = text;
  el.tabIndex = -1;
  return el;
};
