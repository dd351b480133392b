import { api, ApiError } from '../api';
import { alertBox, field, h, setContent, statusBox } from '../dom';
import { viewHeading, type View, type ViewContext } from '../router';

function credentialsForm(ctx: ViewContext, mode: 'sign-in' | 'register'): HTMLElement {
  const heading = viewHeading(mode === 'sign-in' ? 'Sign in' : 'Create an account');
  const error = alertBox();
  const status = statusBox();
  const email = field('Email', {
    name: 'email',
    type: 'email',
    required: true,
    autocomplete: mode === 'sign-in' ? 'username' : 'email',
    value: ctx.state.email,
  });
  const password = field(
    'Password',
    {
      name: 'password',
      type: 'password',
      required: true,
      minlength: 8,
      autocomplete: mode === 'sign-in' ? 'current-password' : 'new-password',
    },
    mode === 'register' ? 'At least 8 characters (at most 72 bytes). A long passphrase is best.' : undefined,
  );
  const submit = h('button', { type: 'submit', class: 'primary' }, mode === 'sign-in' ? 'Sign in' : 'Create account');
  if (ctx.state.flash) status.textContent = ctx.state.flash;

  const form = h(
    'form',
    {
      class: 'card narrow',
      onsubmit: async (event) => {
        event.preventDefault();
        setContent(error);
        submit.disabled = true;
        form.setAttribute('aria-busy', 'true');
        try {
          if (mode === 'register') {
            await api.register(email.input.value, password.input.value);
            ctx.navigate('/sign-in', {
              flash: 'Account created. Sign in with your email and password.',
              email: email.input.value,
            });
          } else {
            await api.login(email.input.value, password.input.value);
            ctx.navigate('/');
          }
        } catch (err) {
          setContent(error, err instanceof ApiError ? err.describe() : 'Something went wrong. Please try again.');
          (mode === 'sign-in' ? password.input : email.input).focus();
        } finally {
          submit.disabled = false;
          form.removeAttribute('aria-busy');
        }
      },
    },
    email.wrapper,
    password.wrapper,
    error,
    submit,
  );
  return h(
    'section',
    { class: 'view' },
    heading,
    status,
    form,
    mode === 'sign-in'
      ? h('p', {}, 'New here? ', h('a', { href: '/register', 'data-link': true }, 'Create an account'))
      : h('p', {}, 'Have an account? ', h('a', { href: '/sign-in', 'data-link': true }, 'Sign in')),
  );
}

export const signInView: View = { title: 'Sign in', access: 'guest', render: (ctx) => credentialsForm(ctx, 'sign-in') };
export const registerView: View = {
  title: 'Create an account',
  access: 'guest',
  render: (ctx) => credentialsForm(ctx, 'register'),
};
